// A spoofed metadata service: the agent never asks by name (a name is resolved through DNS, which
// whoever spoofs the network answers), never follows a redirect, never sources user data as
// variables, and bounds every body. The redirect and the 2 GB body are also exercised in
// test/agent/datasources/metadata.test.ts ("a redirect to another host is not followed", "a 2 GB user data").
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { checkMetadataUrl, parseConfig } from '../../src/agent/config.js';
import type { MetadataServer } from '../../src/provider/server.js';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { description, startServer } from '../helpers/metadata.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';

const servers: MetadataServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => { resolve({ code, stdout, stderr }); });
  });
}

describe('metadata spoofing', () => {
  it('regression metadata-by-name: a metadata URL that names a host is refused, on the command line and in /etc/vmctx/config', () => {
    expect(checkMetadataUrl('http://169.254.169.254/')).toBeUndefined();
    expect(checkMetadataUrl('http://[fd00:ec2::254]/')).toBeUndefined();
    expect(checkMetadataUrl('http://metadata.google.internal/')).toMatch(/by IP address, not by a name/u);
    expect(checkMetadataUrl('http://169.254.169.254.nip.io/')).toMatch(/by IP address/u);
    const r = vmctx(['run', '--root', '/nonexistent', '--source', 'metadata', '--metadata-url', 'http://metadata.example/']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/by IP address, not by a name/u);
    const config = parseConfig('METADATA_URL=http://metadata.example/\n');
    expect(config.warnings.join(' ')).toMatch(/METADATA_URL.*by IP address/u);
    expect(config.config.metadataUrl).not.toContain('metadata.example');
  });

  it('user data that looks like shell assignments is a script or data, never variables to source', async () => {
    const root = await scratchRoot();
    const userData = "PASSWORD='owned'\nSSH_PUBLIC_KEY='ssh-ed25519 AAAAevil'\nSET_HOSTNAME=$(reboot)\n";
    const { server, url } = await startServer(description({ 'user-data': userData }, [fakeKey()]));
    servers.push(server);
    const shown = await run(['show', '--root', root, '--source', 'metadata', '--metadata-url', url, '--json', '--show-secrets']);
    expect(shown.code, shown.stderr).toBe(0);
    const view = JSON.parse(shown.stdout) as { variables: Record<string, string>; context: { hostname?: string } };
    expect(view.variables['PASSWORD']).toBeUndefined();
    expect(view.variables['SET_HOSTNAME']).toBe('web-1.example.org');
    expect(Buffer.from(view.variables['USER_DATA'] ?? '', 'base64').toString()).toBe(userData);
    expect(JSON.stringify(view.variables)).not.toContain('AAAAevil');
  });
});
