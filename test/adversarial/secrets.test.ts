// Secret hygiene across a whole run: passwords (plain and hashed, from the context CD, from
// cloud-config chpasswd, from the metadata service), the IMDSv2 token and secret-looking user data
// are looked for in every file of the root afterwards, in the report, state, log and cache, on
// stdout/stderr, and in `ps` samples taken every few milliseconds while vmctx runs. The plain
// passwords may appear nowhere; a given hash only in /etc/shadow (and the shadow tools' backup).
import { spawn } from 'node:child_process';
import { readdir, readFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetadataServer } from '../../src/provider/server.js';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { BUNDLE } from '../helpers/cli.js';
import { description, startServer } from '../helpers/metadata.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';
import { writeFile } from 'node:fs/promises';

const servers: MetadataServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** Every regular file under dir (not following links), with its content. */
async function files(dir: string, rel = ''): Promise<Array<{ path: string; data: Buffer }>> {
  const out: Array<{ path: string; data: Buffer }> = [];
  for (const name of await readdir(join(dir, rel)).catch(() => [] as string[])) {
    const p = `${rel}/${name}`;
    const st = await lstat(join(dir, p));
    if (st.isDirectory()) out.push(...(await files(dir, p)));
    else if (st.isFile()) out.push({ path: p, data: await readFile(join(dir, p)) });
  }
  return out;
}

/** Runs the CLI while sampling every process's command line; returns output and the samples. */
async function runSampled(args: readonly string[]): Promise<{ code: number | null; output: string; samples: string[] }> {
  const child = spawn(process.execPath, [BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const samples: string[] = [];
  let done = false;
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => { done = true; r(code); }));
  while (!done) {
    // /proc/*/cmdline and environ of every process: what ps and a local user could read
    for (const pid of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/u.test(pid)) continue;
      samples.push((await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0))).toString('latin1'));
      samples.push((await readFile(`/proc/${pid}/environ`).catch(() => Buffer.alloc(0))).toString('latin1'));
    }
  }
  return { code: await exited, output, samples };
}

function leaks(haystacks: Array<{ where: string; text: string }>, secrets: Record<string, string>, allowed: (name: string, where: string) => boolean): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(secrets)) {
    for (const h of haystacks) if (h.text.includes(secret) && !allowed(name, h.where)) found.push(`${name} in ${h.where}`);
  }
  return found;
}

describe('secret hygiene: a whole run, every file, the output and ps', () => {
  it('context CD: PASSWORD, CRYPTED_PASSWORD for the user, chpasswd in cloud-config, secret-looking user data', async () => {
    const root = await scratchRoot();
    const medium = await tempDir('vmctx-secret-medium-');
    const secrets = {
      password: 'Pl41n-Passw0rd-Ctx-7f3a',
      chpasswd: 'Chp4sswd-Secret-91bd',
      hash: '$6$saltsalt$Hx0vQ1W8u9sGmV0m3d7lKp8c5mS1eA2x3yqL8pXr2bQ5tW6zN9jK1fH4gD7sC0vB3nM6aZ9qW2eR5tY8uI1oP0',
    };
    const cloudConfig = `#cloud-config\nchpasswd:\n  list: |\n    alice:${secrets.chpasswd}\n  expire: false\n`;
    await writeFile(join(medium, 'context.sh'), renderContextSh({
      VMID: '77', SET_HOSTNAME: 'secret-host', PASSWORD: secrets.password, USERNAME: 'alice', CRYPTED_PASSWORD: secrets.hash,
      SSH_PUBLIC_KEY: fakeKey(), USER_DATA: Buffer.from(cloudConfig).toString('base64'), USER_DATA_ENCODING: 'base64',
    }));
    const r = await runSampled(['run', '--root', root, '--source', medium]);
    expect(r.code, r.output).toBe(0);
    const all = await files(root);
    const found = leaks(
      [...all.map((f) => ({ where: f.path, text: f.data.toString('latin1') })), { where: 'output', text: r.output }, ...r.samples.map((s) => ({ where: 'ps', text: s }))],
      secrets,
      // shadow-: the backup the shadow tools (chpasswd, usermod) keep, with the same protection
      (name, where) => name === 'hash' && (where === '/etc/shadow' || where === '/etc/shadow-'),
    );
    expect(found).toEqual([]);
    for (const path of ['etc/shadow', 'etc/shadow-']) {
      const st = await lstat(join(root, path)).catch(() => undefined);
      if (st !== undefined) expect(st.mode & 0o007, path).toBe(0);
    }
    // the passwords did land where they belong, as hashes (chpasswd's, applied last, wins)
    expect(await readFile(join(root, 'etc/shadow'), 'utf8')).toMatch(/^alice:\$(6|y)\$/mu);
    expect(r.samples.length).toBeGreaterThan(0);
  });

  it('metadata service: the IMDSv2 token, the OpenStack password and the user data never leave their place', async () => {
    const root = await scratchRoot();
    const passwordSecret = 'Met4data-Passw0rd-c0ffee';
    const userDataSecret = 'UserData-Secret-Token-5a5a';
    const d = { ...description({ 'user-data': `#!/bin/sh\n# ${userDataSecret}\ntrue\n` }, [fakeKey()]), password: passwordSecret };
    const { server, url } = await startServer(d, { imdsv2: 'required' });
    servers.push(server);
    const r = await runSampled(['run', '--root', root, '--source', 'metadata', '--metadata-url', url]);
    expect(r.code, r.output).toBe(0);
    const tokens = server.issuedTokens();
    expect(tokens.length).toBeGreaterThan(0);
    const secrets: Record<string, string> = { password: passwordSecret, ...Object.fromEntries(tokens.map((t, i) => [`token${i}`, t])) };
    const all = await files(root);
    const found = leaks([...all.map((f) => ({ where: f.path, text: f.data.toString('latin1') })), { where: 'output', text: r.output }, ...r.samples.map((s) => ({ where: 'ps', text: s }))], secrets, () => false);
    expect(found).toEqual([]);
    // the user data is a script for the final stage: in its own 0700 state, never in the log, report or output
    const userData = leaks([...all.map((f) => ({ where: f.path, text: f.data.toString('latin1') })), { where: 'output', text: r.output }], { userData: userDataSecret }, (_n, where) => where === '/var/lib/vmctx/metadata-cache.json');
    expect(userData).toEqual([]);
  });
});
