// User data and seeds applied to a temp root, in the shapes of cloud-init's documented examples
// (our own files): write_files with !!binary, gzip of bytes and defer (written after the users,
// in the final stage); a config drive's files through the Root with write_files' confinement;
// NoCloud public-keys in each form cloud-init takes; a #cloud-boothook run on the running system
// before the other scripts, with INSTANCE_ID.
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { normaliseContext, type Context, type RawContext } from '../../../src/agent/context/context.js';
import { openExplicitSource } from '../../../src/agent/datasources/contextmedium.js';
import { readNoCloud } from '../../../src/agent/datasources/seeds.js';
import { usersModule } from '../../../src/agent/modules/users.js';
import { deferredWriteFilesModule, seedFilesModule, writeFilesModule } from '../../../src/agent/modules/writefiles.js';
import type { Module, ModuleOutcome } from '../../../src/agent/modules/module.js';
import type { ScriptReport } from '../../../src/agent/modules/scripts.js';
import { runAgent } from '../../../src/agent/run.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { HostScriptRunner } from '../../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { fakeKey, scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const log = createLogger(undefined);

async function apply(root: string, ctx: Context, modules: readonly Module[]): Promise<ModuleOutcome[]> {
  const target = { root: new DirectoryRoot(root), exec: new HostExec(), live: false };
  const out: ModuleOutcome[] = [];
  for (const m of modules) out.push(await m.apply(ctx, target, log));
  return out;
}

const modeOf = async (root: string, path: string): Promise<[number, number, number]> => {
  const s = await stat(join(root, path));
  return [s.mode & 0o7777, s.uid, s.gid];
};

describe('write_files shaped like cloud-init\'s cloud-config-write-files example', () => {
  const hello = '#!/bin/sh\necho "hello world"\n';
  const userData = [
    '#cloud-config',
    'users:',
    '  - name: bob',
    'write_files:',
    '  - encoding: gzip',
    '    content: !!binary |',
    `      ${gzipSync(hello).toString('base64')}`,
    '    path: /usr/bin/hello',
    "    permissions: '0755'",
    '  - content: !!binary |',
    `      ${Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0xff]).toString('base64')}`,
    '    path: /etc/blob.bin',
    '  - content: |',
    '      15 * * * * root ship_logs',
    '    path: /etc/crontab',
    '    append: true',
    '  - path: /home/bob/.config/app.ini',
    '    content: "owned=bob\\n"',
    '    owner: bob:bob',
    "    permissions: '0600'",
    '    defer: true',
    '',
  ].join('\n');

  it('bytes and modes on the root; a deferred file waits for the final stage and its owner, created in between', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'usr/bin'), { recursive: true });
    await writeFile(join(root, 'etc/crontab'), '# crontab\n');
    const ctx = await contextOf({ USER_DATA: userData });
    expect(ctx.warnings.map((w) => w.message)).toEqual([]);
    // the local stage's module: not the deferred file (bob does not exist yet)
    const [early] = await apply(root, ctx, [writeFilesModule]);
    expect(early?.changed).toEqual(['/usr/bin/hello', '/etc/blob.bin', '/etc/crontab']);
    expect(await readFile(join(root, 'usr/bin/hello'), 'utf8')).toBe(hello);
    expect(await modeOf(root, 'usr/bin/hello')).toEqual([0o755, 0, 0]);
    expect([...(await readFile(join(root, 'etc/blob.bin')))]).toEqual([0x7f, 0x45, 0x4c, 0x46, 0, 0xff]);
    expect(await modeOf(root, 'etc/blob.bin')).toEqual([0o644, 0, 0]);
    expect(await readFile(join(root, 'etc/crontab'), 'utf8')).toBe('# crontab\n15 * * * * root ship_logs\n');
    await expect(stat(join(root, 'home/bob/.config/app.ini'))).rejects.toThrow();
    expect(deferredWriteFilesModule.stage).toBe('final');
    // then the users, then the deferred files (the order of the stages)
    const [, deferred] = await apply(root, ctx, [usersModule, deferredWriteFilesModule]);
    expect(deferred?.warnings).toEqual([]);
    const bob = (await readFile(join(root, 'etc/passwd'), 'utf8')).split('\n').find((l) => l.startsWith('bob:'))?.split(':') ?? [];
    expect(await readFile(join(root, 'home/bob/.config/app.ini'), 'utf8')).toBe('owned=bob\n');
    expect(await modeOf(root, 'home/bob/.config/app.ini')).toEqual([0o600, Number(bob[2]), Number(bob[3])]);
  });
});

describe('config drive files (meta_data.json "files" → openstack/content/NNNN)', () => {
  async function drive(files: unknown, content: Record<string, string>): Promise<string> {
    const dir = await tempDir();
    await mkdir(join(dir, 'openstack/latest'), { recursive: true });
    await mkdir(join(dir, 'openstack/content'), { recursive: true });
    await writeFile(join(dir, 'openstack/latest/meta_data.json'), JSON.stringify({ uuid: 'cd-files-1', hostname: 'h', files }));
    for (const [name, text] of Object.entries(content)) await writeFile(join(dir, 'openstack/content', name), text);
    return dir;
  }

  it('written as root:root, 0660 (as cloud-init writes them), through the Root (a link out of the root lands inside); hostile paths and content paths are named', async () => {
    const dir = await drive(
      [
        { path: '/etc/network/interfaces.d/50-drive', content_path: '/content/0000' },
        { path: '/root/tokens', content_path: '/content/0001' },
        { path: '/etc/tmplink/escaped', content_path: '/content/0000' },
        { path: '/etc/../etc/shadow', content_path: '/content/0000' },
        { path: 'relative/file', content_path: '/content/0000' },
        { path: '/etc/leak', content_path: '/latest/meta_data.json' },
        { path: '/etc/up', content_path: '/content/../../etc/passwd' },
        { path: '/etc/absent', content_path: '/content/0009' },
        { path: '/proc/sys/kernel/hostname', content_path: '/content/0000' },
        'not an entry',
      ],
      { '0000': 'auto eth0\n', '0001': 'token\n' },
    );
    const opened = await openExplicitSource(dir);
    const ctx = await normaliseContext(opened.raw, { id: 'cd-files-1', source: 'metadata' });
    expect(ctx.seedFiles?.map((f) => [f.path, f.from])).toEqual([
      ['/etc/network/interfaces.d/50-drive', 'openstack/content/0000'],
      ['/root/tokens', 'openstack/content/0001'],
      ['/etc/tmplink/escaped', 'openstack/content/0000'],
      ['/proc/sys/kernel/hostname', 'openstack/content/0000'],
    ]);
    expect(ctx.warnings.map((w) => `${w.variable ?? ''}: ${w.message}`)).toEqual([
      'meta_data.json files[3]: path "/etc/../etc/shadow" is not an absolute path without ".."; not written',
      'meta_data.json files[4]: path "relative/file" is not an absolute path without ".."; not written',
      'meta_data.json files[5]: content_path "/latest/meta_data.json" is not a file under openstack/content/; /etc/leak not written',
      'meta_data.json files[6]: content_path "/content/../../etc/passwd" is not a file under openstack/content/; /etc/up not written',
      'meta_data.json files[7]: openstack/content/0009 is not on the drive; /etc/absent not written',
      'meta_data.json files[9]: is not {path, content_path}; not written',
    ]);
    const root = await scratchRoot();
    await mkdir(join(root, 'etc/network/interfaces.d'), { recursive: true });
    await symlink('/tmp', join(root, 'etc/tmplink'));
    const [out] = await apply(root, ctx, [seedFilesModule]);
    expect(await readFile(join(root, 'etc/network/interfaces.d/50-drive'), 'utf8')).toBe('auto eth0\n');
    // 0660 root:root, as cloud-init writes injected files (they often hold credentials)
    expect(await modeOf(root, 'etc/network/interfaces.d/50-drive')).toEqual([0o660, 0, 0]);
    expect(await readFile(join(root, 'root/tokens'), 'utf8')).toBe('token\n');
    expect(await modeOf(root, 'root/tokens')).toEqual([0o660, 0, 0]);
    expect(await readFile(join(root, 'tmp/escaped'), 'utf8')).toBe('auto eth0\n');
    expect(out?.warnings.map((w) => w.split(':')[0])).toEqual(['/proc/sys/kernel/hostname']);
    await opened.close();
  });

  it('"files" is a key the seed applies (no "not supported" warning any more)', async () => {
    const opened = await openExplicitSource(await drive([], {}));
    expect(opened.raw.warnings.map((w) => w.message).join('\n')).not.toMatch(/files/u);
    await opened.close();
  });
});

describe('NoCloud meta-data public-keys, each form cloud-init takes, end to end to ctx.sshKeys', () => {
  const k1 = fakeKey('ssh-ed25519', 'one');
  const k2 = fakeKey('ssh-ed25519', 'two');
  const forms: Record<string, string> = {
    'a list': `public-keys:\n  - ${k1}\n  - ${k2}\n`,
    'a string of lines': `public-keys: |\n  ${k1}\n  ${k2}\n`,
    'a mapping of names to keys': `public-keys:\n  alice: ${k1}\n  bob: ${k2}\n`,
    'a mapping of names to lists': `public-keys:\n  default:\n    - ${k1}\n    - ${k2}\n`,
    'the EC2 layout {0: {openssh-key: KEY}}': `public-keys:\n  0:\n    openssh-key: ${k1}\n  1:\n    openssh-key: ${k2}\n`,
    'public_keys (underscore)': `public_keys:\n  - ${k1}\n  - ${k2}\n`,
  };
  for (const [form, yaml] of Object.entries(forms)) {
    it(form, async () => {
      const files: Record<string, string> = { 'meta-data': `instance-id: iid-keys\n${yaml}`, 'user-data': '#cloud-config\n' };
      const raw: RawContext = await readNoCloud((p) => Promise.resolve(files[p] === undefined ? undefined : Buffer.from(files[p])), { path: '/seed', foundBy: 'test' });
      const ctx = await normaliseContext(raw, { id: 'iid-keys', source: 'metadata' });
      expect(ctx.sshKeys.keys).toEqual([k1, k2]);
      expect(ctx.warnings).toEqual([]);
    });
  }

  it('a shape that is not a key is named, the rest used', async () => {
    const files: Record<string, string> = { 'meta-data': `instance-id: iid-keys\npublic-keys:\n  - ${k1}\n  - {rsa: x}\n`, 'user-data': '#cloud-config\n' };
    const raw = await readNoCloud((p) => Promise.resolve(files[p] === undefined ? undefined : Buffer.from(files[p])), { path: '/seed', foundBy: 'test' });
    const ctx = await normaliseContext(raw, { id: 'iid-keys', source: 'metadata' });
    expect(ctx.sshKeys.keys).toEqual([k1]);
    expect(ctx.warnings.map((w) => `${w.variable ?? ''}: ${w.message}`)).toEqual(['meta-data public-keys[1]: is not a key (a string), a list of keys or {openssh-key: KEY}; ignored']);
  });
});

describe('#cloud-boothook on the running system (a scratch root and the real script runner)', () => {
  it('runs on every boot before the other scripts, with INSTANCE_ID; the #! script and per-boot part run too', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    const work = await tempDir();
    const order = join(work, 'order');
    const mime = [
      'Content-Type: multipart/mixed; boundary="B"',
      'MIME-Version: 1.0',
      '',
      '--B',
      'Content-Type: text/x-shellscript',
      '',
      `#!/bin/sh\necho script >> ${order}`,
      '--B',
      'Content-Type: text/cloud-boothook',
      '',
      `#cloud-boothook\n#!/bin/sh\necho "hook $INSTANCE_ID" >> ${order}`,
      '--B',
      'Content-Type: text/x-shellscript-per-boot',
      '',
      `#!/bin/sh\necho per-boot >> ${order}`,
      '--B--',
      '',
    ].join('\n');
    await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '7', USER_DATA: mime }));
    const report = await runAgent({
      root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'final', dryRun: false,
      exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
      scripts: new HostScriptRunner(work), scriptTimeoutMs: 20_000,
    });
    const ran = (id: string): Array<[string, number | null]> => ((report.modules.find((m) => m.id === id)?.details as { scripts?: ScriptReport[] } | undefined)?.scripts ?? []).map((s) => [s.name, s.exitCode]);
    expect(ran('boothooks')).toEqual([['USER_DATA-2', 0]]);
    expect(ran('scripts')).toEqual([['USER_DATA-1', 0]]);
    expect(ran('user-scripts-per-boot')).toEqual([['USER_DATA-3', 0]]);
    expect(await readFile(order, 'utf8')).toBe(`hook ${report.instanceId}\nscript\nper-boot\n`);
  });
});
