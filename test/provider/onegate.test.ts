// `vmctx serve-metadata --onegate` as a provider's test would run it: PUT /vm with the right token
// and VMID is taken (200, shown on stderr without the token), a wrong token or another VMID gets
// OneGate's 401, GET /vm shows what was put, the --fault kinds apply to /vm, and the options are
// checked.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const TOKEN = 'c2VjcmV0LXRva2VuLTQ0Cg==';

function call(url: string, method: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/vm`, { method, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: text }); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('vmctx serve-metadata --onegate', () => {
  it('takes PUT /vm with the right token and VMID, refuses others with 401, shows what it got (never the token)', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'token.txt'), `${TOKEN}\n`);
    const child = spawn(process.execPath, [BUNDLE, 'serve-metadata', '--onegate', '--onegate-token-file', join(dir, 'token.txt'), '--onegate-vmid', '44', '--listen', '127.0.0.1:0', '--fault', 'status:503,path=/vm,times=1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening (http:\/\/\S+)/u.exec(out);
          if (m?.[1] !== undefined) resolve(m[1]);
        });
        child.on('exit', () => { reject(new Error(`exited: ${stderr}`)); });
      });
      const headers = { 'x-onegate-token': TOKEN, 'x-onegate-vmid': '44', 'content-type': 'application/x-www-form-urlencoded' };
      // the fault first (503 once), then OneGate's answers
      expect((await call(url, 'PUT', headers, 'READY=YES')).status).toBe(503);
      expect(await call(url, 'PUT', headers, 'READY=YES')).toEqual({ status: 200, body: '' });
      expect(await call(url, 'PUT', { ...headers, 'x-onegate-token': 'wrong' }, 'READY=YES')).toEqual({ status: 401, body: 'Not authorized' });
      expect((await call(url, 'PUT', { ...headers, 'x-onegate-vmid': '45' }, 'READY=YES')).status).toBe(401);
      const shown = await call(url, 'GET', headers);
      expect(JSON.parse(shown.body)).toMatchObject({ VM: { ID: '44', USER_TEMPLATE: { READY: 'YES' } } });
      await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toContain('OneGate /vm for VM 44');
      expect(stderr).toContain('onegate: PUT /vm VMID="44" token ok body "READY=YES" -> 200');
      expect(stderr).toContain('onegate: PUT /vm VMID="44" token wrong body "READY=YES" -> 401');
      expect(stderr).toContain('onegate: PUT /vm VMID="45" token ok body "READY=YES" -> 401');
      expect(stderr).not.toContain(TOKEN);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('checks its options: --onegate needs the token file and VMID; one of --from and --onegate is needed', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'token.txt'), 'has space\n');
    expect(vmctx(['serve-metadata', '--onegate', '--listen', '127.0.0.1:0']).stderr).toContain('--onegate needs --onegate-token-file and --onegate-vmid');
    expect(vmctx(['serve-metadata', '--listen', '127.0.0.1:0']).stderr).toContain('needs --from (the metadata to serve), --onegate, or both');
    const bad = vmctx(['serve-metadata', '--onegate', '--onegate-token-file', join(dir, 'token.txt'), '--onegate-vmid', 'x', '--listen', '127.0.0.1:0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('the OneGate token must be printable');
  });
});
