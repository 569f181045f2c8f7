// The dry run tells the truth: for each context, the same scratch root is copied twice, one copy
// gets `run --dry-run` (built as the CLI builds it), the other the real run, and the dry run's list
// of changed paths must equal the paths that really changed on disk (content, mode, owner, links,
// new and removed entries), with the same exit code — and the dry run's copy must not change at all.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../src/agent/run.js';
import { type RunReport } from '../../src/agent/report.js';
import { exitCodeFor } from '../../src/cli/exit.js';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { DryRunRoot, RecordingExec, renderChange } from '../../src/host/dryrun.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import { debianRoot, fakeKey } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const log = createLogger(undefined);
const STATE_DIR = '/var/lib/vmctx';

/** vmctx's own records, which a dry run does not write or list: the run state, the report and lock, the log. */
const own = (p: string): boolean => p === `${STATE_DIR}/state.json` || p === '/var/log/vmctx.log' || p === '/run/vmctx' || p.startsWith('/run/vmctx/');

/** Every entry under dir: type, mode, owner and content (a digest) or link target. */
async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(dir, rel))) {
      const path = `${rel}/${name}`;
      const st = await lstat(join(dir, path));
      const who = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      if (st.isDirectory()) {
        out.set(path, `dir ${who}`);
        await walk(path);
      } else if (st.isSymbolicLink()) out.set(path, `link ${st.uid}:${st.gid} -> ${await readlink(join(dir, path))}`);
      else out.set(path, `file ${who} ${createHash('sha256').update(await readFile(join(dir, path))).digest('hex')}`);
    }
  };
  await walk('');
  return out;
}

function changedPaths(before: Map<string, string>, after: Map<string, string>): string[] {
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}

const options = (dir: string, source: string) => ({ stateDir: STATE_DIR, source, stage: 'all' as const, logger: log, console: new ConsoleLines(false), version: 'test' });

async function realRun(dir: string, source: string): Promise<RunReport> {
  return runAgent({ ...options(dir, source), root: new DirectoryRoot(dir), stateRoot: new DirectoryRoot(dir), dryRun: false, exec: new HostExec() });
}

/** What `vmctx run --dry-run --root DIR` builds: a dry root for the target and for the state, and the dry run's Exec. */
async function dryRun(dir: string, source: string): Promise<{ report: RunReport; paths: string[]; rendered: string }> {
  const root = new DryRunRoot(new DirectoryRoot(dir));
  const report = await runAgent({ ...options(dir, source), root, stateRoot: new DryRunRoot(new DirectoryRoot(dir)), dryRun: true, exec: new RecordingExec(new HostExec(), root) });
  // the list the CLI prints: one line per change
  return { report, paths: [...new Set(root.changes.map((c) => c.path))].sort(), rendered: root.changes.map(renderChange).join('') };
}

interface Case {
  readonly vars: Record<string, string>;
  /** Runs the real agent once on the root before it is copied (an already contextualized system). */
  readonly contextualized?: boolean;
  /** Changes the root before it is copied. */
  readonly prepare?: (root: string) => Promise<void> | void;
}

async function compare(c: Case): Promise<{ dry: Awaited<ReturnType<typeof dryRun>>; real: RunReport; actual: string[] }> {
  const base = await debianRoot();
  await c.prepare?.(base);
  const source = await tempDir('vmctx-ctx-');
  await writeFile(join(source, 'context.sh'), renderContextSh(c.vars));
  if (c.contextualized === true) expect((await realRun(base, source)).result).toBe('ok');
  const work = await tempDir('vmctx-copies-');
  const dryDir = join(work, 'dry');
  const realDir = join(work, 'real');
  execFileSync('cp', ['-a', base, dryDir]);
  execFileSync('cp', ['-a', base, realDir]);
  const before = await tree(dryDir);
  const dry = await dryRun(dryDir, source);
  expect(changedPaths(before, await tree(dryDir)), 'the dry run wrote to the root').toEqual([]);
  const real = await realRun(realDir, source);
  const actual = changedPaths(before, await tree(realDir)).filter((p) => !own(p));
  expect(dry.paths, `dry run's list against the real run's changes\n${dry.rendered}`).toEqual(actual);
  expect(exitCodeFor(dry.report.result)).toBe(exitCodeFor(real.result));
  // module by module, the same story
  expect(dry.report.modules.map((m) => [m.id, m.status, m.warnings])).toEqual(real.modules.map((m) => [m.id, m.status, m.warnings]));
  return { dry, real, actual };
}

const NETWORK = { ETH0_IP: '10.0.0.42', ETH0_MASK: '255.255.255.0', ETH0_GATEWAY: '10.0.0.1', ETH0_MAC: '02:00:0a:00:00:2a', DNS: '10.0.0.2', SEARCH_DOMAIN: 'example.com', SET_HOSTNAME: 'web-42.example.com' };
const HASH = '$6$saltsaltsalt$bdJ1u0ZzRM2.bb/VnBlnSmWY1G2Lv4eKVQ6aBkR6L2ymbp2CNMQjf/gx3/TAmA4ubNNJQ.0y3Vhz5GGpcrcyj/';

// real ssh-keygen (an RSA key each run) on a busy machine: seconds per case
describe('dry run against the real run on copies of the same root (real useradd, chpasswd, ssh-keygen)', { timeout: 120_000 }, () => {
  it('plain network, hostname and DNS', async () => {
    const { actual } = await compare({ vars: { VMID: '1', ...NETWORK } });
    expect(actual).toEqual(expect.arrayContaining(['/etc/hostname', '/etc/machine-id', '/etc/network/interfaces.d/50-vmctx', '/etc/resolv.conf', '/etc/ssh/ssh_host_ed25519_key']));
  });

  it('USERNAME=deploy with SSH_PUBLIC_KEY and PASSWORD: the user the dry run would create gets its password and keys', async () => {
    const { dry, actual } = await compare({ vars: { VMID: '2', USERNAME: 'deploy', USERNAME_SUDO: 'YES', SSH_PUBLIC_KEY: fakeKey(), PASSWORD: 'first-boot' } });
    expect(dry.report.result).toBe('ok');
    expect(actual).toEqual(expect.arrayContaining(['/etc/passwd', '/etc/shadow', '/etc/group', '/home/deploy', '/home/deploy/.profile', '/home/deploy/.ssh/authorized_keys', '/etc/sudoers.d/90-vmctx-users']));
    // secrets stay secret in the dry run's listing
    expect(dry.rendered).toMatch(/modify \/etc\/shadow \(mode 0640\)\n {2}\(secret content not shown\)/u);
    expect(dry.rendered).not.toContain('$6$');
  });

  it('a key for root only', async () => {
    const { actual } = await compare({ vars: { VMID: '3', SSH_PUBLIC_KEY: fakeKey() } });
    expect(actual).toContain('/root/.ssh/authorized_keys');
  });

  it('START_SCRIPT (not run for an offline root, by either)', async () => {
    await compare({ vars: { VMID: '4', START_SCRIPT: 'touch /tmp/started', SET_HOSTNAME: 'scripted' } });
  });

  it('cloud-config user data: users with keys, a password hash and sudo, and write_files into /etc and a new home', async () => {
    const userData = [
      '#cloud-config',
      'users:',
      '  - name: app',
      '    sudo: ALL=(ALL) NOPASSWD:ALL',
      `    passwd: "${HASH}"`,
      '    lock_passwd: false',
      '    ssh_authorized_keys:',
      `      - ${fakeKey('ssh-ed25519', 'app@laptop')}`,
      '  - name: svc',
      '    shell: /bin/sh',
      'write_files:',
      '  - path: /etc/app/app.conf',
      '    content: "port = 8080\\n"',
      '    permissions: "0640"',
      '  - path: /home/app/notes.txt',
      '    owner: app:app',
      '    content: hello',
    ].join('\n');
    const { actual } = await compare({ vars: { VMID: '5', USER_DATA: Buffer.from(userData).toString('base64'), USER_DATA_ENCODING: 'base64' } });
    expect(actual).toEqual(expect.arrayContaining(['/etc/app', '/etc/app/app.conf', '/home/app', '/home/app/notes.txt', '/home/app/.ssh/authorized_keys', '/home/svc']));
  });

  it('cloud-config hostname, fqdn, manage_etc_hosts, timezone, ssh_genkeytypes (only the named types; the others ssh-keygen -A makes go again)', async () => {
    const userData = ['#cloud-config', 'hostname: app', 'fqdn: app.example.com', 'manage_etc_hosts: true', 'timezone: Europe/Madrid', 'ssh_genkeytypes: [ed25519, ecdsa]', ''].join('\n');
    const prepare = async (root: string): Promise<void> => {
      await mkdir(join(root, 'usr/share/zoneinfo/Europe'), { recursive: true });
      await writeFile(join(root, 'usr/share/zoneinfo/Europe/Madrid'), 'TZif');
    };
    const { actual } = await compare({ vars: { VMID: '9', SET_HOSTNAME: 'meta-name', USER_DATA: Buffer.from(userData).toString('base64'), USER_DATA_ENCODING: 'base64' }, prepare });
    expect(actual).toEqual(expect.arrayContaining(['/etc/hostname', '/etc/hosts', '/etc/localtime', '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ecdsa_key.pub']));
    expect(actual.filter((p) => p.includes('rsa'))).toEqual([]);
  });

  it('cloud-config ssh_keys: the given key written, its public key made, no other type', async () => {
    const dir = await tempDir();
    execFileSync('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-f', join(dir, 'k')]);
    const key = (await readFile(join(dir, 'k'), 'utf8')).trim().split('\n').map((l) => `    ${l}`).join('\n');
    const userData = `#cloud-config\nssh_keys:\n  ed25519_private: |\n${key}\n`;
    const { dry, actual } = await compare({ vars: { VMID: '10', USER_DATA: Buffer.from(userData).toString('base64'), USER_DATA_ENCODING: 'base64' } });
    expect(actual.filter((p) => p.startsWith('/etc/ssh/ssh_host_'))).toEqual(['/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ed25519_key.pub']);
    expect(dry.rendered).not.toContain(key.split('\n')[1]?.trim() ?? '-');
  });

  it('a second run on an already contextualized root changes nothing, and says so', async () => {
    const { dry, actual } = await compare({ vars: { VMID: '6', ...NETWORK, USERNAME: 'deploy', SSH_PUBLIC_KEY: fakeKey(), PASSWORD: 'first-boot' }, contextualized: true });
    expect(actual).toEqual([]);
    expect(dry.paths).toEqual([]);
  });

  it('links: resolv.conf a link elsewhere in the root, a planted .ssh link in a user home, merged /usr', async () => {
    const { actual, dry } = await compare({
      vars: {
        VMID: '8',
        DNS: '10.0.0.2',
        USERNAME: 'alice',
        SSH_PUBLIC_KEY: fakeKey(),
        USER_DATA: ['#cloud-config', 'write_files:', '  - path: /etc/motd', '    content: welcome', '  - path: /bin/hello', '    content: "#!/bin/sh"', '    permissions: "0755"'].join('\n'),
      },
      prepare: async (root) => {
        await mkdir(join(root, 'run/resolvconf'), { recursive: true });
        await rm(join(root, 'etc/resolv.conf'));
        await symlink('../run/resolvconf/resolv.conf', join(root, 'etc/resolv.conf'));
        await writeFile(join(root, 'run/resolvconf/resolv.conf'), 'nameserver 192.0.2.1\n');
        await symlink('/etc', join(root, 'home/alice/.ssh'));
        await symlink('../run/motd', join(root, 'etc/motd'));
      },
    });
    // written where the links lead, inside the root
    expect(actual).toEqual(expect.arrayContaining(['/etc/resolvconf/resolv.conf.d/base', '/run/motd', '/usr/bin/hello']));
    expect(actual).not.toContain('/etc/motd');
    // the planted link is refused by both runs: the module fails, nothing is written through it
    expect(dry.report.modules.find((m) => m.id === 'ssh-keys')?.status).toBe('failed');
  });

  it('runAgent with dryRun writes nothing even when given the plain root and Exec of a real run', async () => {
    const root = await debianRoot();
    const source = await tempDir('vmctx-ctx-');
    await writeFile(join(source, 'context.sh'), renderContextSh({ VMID: '9', ...NETWORK, USERNAME: 'deploy', PASSWORD: 'pw', SSH_PUBLIC_KEY: fakeKey() }));
    const before = await tree(root);
    const report = await runAgent({ ...options(root, source), root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), dryRun: true, exec: new HostExec() });
    expect(report.result).toBe('ok');
    expect(changedPaths(before, await tree(root))).toEqual([]);
  });

  it('a failing module fails the dry run the same way (no network backend: exit 5 in both)', async () => {
    const { dry, real } = await compare({ vars: { VMID: '7', ...NETWORK }, prepare: (root) => void execFileSync('rm', ['-r', join(root, 'etc/network'), join(root, 'sbin/ifup')]) });
    expect(dry.report.modules.find((m) => m.id === 'network')?.error?.message).toMatch(/no network configuration backend/u);
    expect(exitCodeFor(real.result)).toBe(5);
  });
});
