// Red-team round after issue 17: a hostile uid 1000 (FIFOs, links, hard links in its home and in
// shared directories), a hostile cloud (compression bombs in user data, odd user names) against a
// whole `vmctx run --root`. Each test asserts the safe outcome; a run must also finish (a blocked
// open must not hang the boot), so runs are spawned with a deadline.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, chown, lchown, link, lstat, mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { constants, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { BUNDLE } from '../helpers/cli.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

interface Fixed {
  readonly text: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** A run of these scratch roots takes 1-2 s; a run still going after this waits on something. */
const FIFO_DEADLINE = 12_000;

async function fileOf(root: string, rel: string): Promise<Fixed> {
  const path = join(root, rel);
  const st = await stat(path);
  return { text: await readFile(path, 'utf8'), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
}

const shadowOf = (root: string): Promise<Fixed> => fileOf(root, 'etc/shadow');

async function contextDir(vars: Record<string, string>): Promise<string> {
  const dir = await tempDir('vmctx-rt-medium-');
  await writeFile(join(dir, 'context.sh'), renderContextSh({ VMID: '17', ...vars }));
  return dir;
}

const cloud = (cc: string, vars: Record<string, string> = {}): Promise<string> => contextDir({ USER_DATA: `#cloud-config\n${cc}`, ...vars });

async function planted(target: string, path: string, uid = 1000): Promise<void> {
  await symlink(target, path);
  await lchown(path, uid, uid);
}

async function sharedDir(root: string, path: string, mode: number, uid = 0, gid = 0): Promise<string> {
  const dir = join(root, path);
  await mkdir(dir, { recursive: true });
  await chown(dir, uid, gid);
  await chmod(dir, mode);
  return dir;
}

interface Outcome {
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** `vmctx ARGS` with a deadline: a run that blocks (an open on a FIFO) is killed and reported as timed out. */
function runCli(args: readonly string[], deadlineMs = 15_000): Promise<Outcome> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BUNDLE, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, deadlineMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, timedOut, stdout, stderr, ms: Date.now() - t0 }); });
  });
}

const runRoot = (root: string, source: string, deadlineMs?: number): Promise<Outcome> => runCli(['run', '--root', root, '--source', source, '--json', '-q'], deadlineMs);

function moduleWarnings(o: Outcome, id: string): string {
  try {
    const report = JSON.parse(o.stdout) as { modules: { id: string; warnings: string[]; error?: unknown }[] };
    const m = report.modules.find((x) => x.id === id);
    return JSON.stringify(m ?? null);
  } catch {
    return o.stdout.slice(0, 2000);
  }
}

/** Makes a FIFO as uid 1000 (mkfifo, then chown). */
async function fifo(path: string, uid = 1000): Promise<void> {
  execFileSync('mkfifo', ['-m', '0666', path]);
  await lchown(path, uid, uid);
}

/** Unblocks whatever waits on a FIFO (a reader waits for a writer and the other way round). */
function unblock(path: string): void {
  try {
    closeSync(openSync(path, constants.O_RDWR | constants.O_NONBLOCK));
  } catch {
    // gone already
  }
}

describe.concurrent('FIFOs planted by uid 1000 where vmctx reads or appends', () => {
  it('~alice/.ssh/authorized_keys is a FIFO: the run still finishes (no open that waits for a writer forever), keys refused or written, never hanging the boot', async () => {
    const root = await scratchRoot();
    const ssh = join(root, 'home/alice/.ssh');
    await mkdir(ssh, { mode: 0o700 });
    await chown(ssh, 1000, 1000);
    await fifo(join(ssh, 'authorized_keys'));
    const o = await runRoot(root, await contextDir({ USERNAME: 'alice', SSH_PUBLIC_KEY: fakeKey() }), FIFO_DEADLINE);
    unblock(join(ssh, 'authorized_keys'));
    expect(o.timedOut, `run blocked on the FIFO after ${o.ms} ms`).toBe(false);
    expect(o.code).not.toBeNull();
  }, FIFO_DEADLINE + 5_000);

  it('write_files append: true to /tmp/notes, a FIFO of uid 1000 in sticky /tmp: the run finishes and the FIFO is not read', async () => {
    const root = await scratchRoot();
    const tmp = await sharedDir(root, 'tmp', 0o1777);
    await fifo(join(tmp, 'notes'));
    const o = await runRoot(root, await cloud("write_files:\n  - path: /tmp/notes\n    append: true\n    content: 'x\\n'\n"), FIFO_DEADLINE);
    unblock(join(tmp, 'notes'));
    expect(o.timedOut, `run blocked on the FIFO after ${o.ms} ms`).toBe(false);
    expect(o.code).toBe(0);
  }, FIFO_DEADLINE + 5_000);

  it('write_files append: true into alice\'s home where ~/.profile is her FIFO: the run finishes', async () => {
    const root = await scratchRoot();
    await fifo(join(root, 'home/alice/.profile'));
    const o = await runRoot(root, await cloud("write_files:\n  - path: /home/alice/.profile\n    owner: alice\n    append: true\n    content: 'export X=1\\n'\n"), FIFO_DEADLINE);
    unblock(join(root, 'home/alice/.profile'));
    expect(o.timedOut, `run blocked on the FIFO after ${o.ms} ms`).toBe(false);
    expect(o.code).toBe(0);
  }, FIFO_DEADLINE + 5_000);
  it('(debatable: needs a group-writable /var/log, Ubuntu\'s root:syslog 0775) /var/log/vmctx.log a FIFO of the syslog user: the run finishes', async () => {
    const root = await scratchRoot();
    const log = await sharedDir(root, 'var/log', 0o775, 0, 104);
    await fifo(join(log, 'vmctx.log'), 104);
    const o = await runCli(['run', '--root', root, '--source', await cloud("write_files:\n  - path: /etc/motd\n    content: 'hi'\n")], FIFO_DEADLINE);
    unblock(join(log, 'vmctx.log'));
    expect(o.timedOut, `run blocked on the FIFO after ${o.ms} ms`).toBe(false);
    expect(o.code).toBe(0);
  }, FIFO_DEADLINE + 5_000);
});

describe('ssh keys into a home uid 1000 controls', () => {
  it('~alice/.ssh -> /root/.ssh (alice\'s link): root\'s authorized_keys untouched, nothing of alice\'s in /root', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'root/.ssh'), { mode: 0o700 });
    await writeFile(join(root, 'root/.ssh/authorized_keys'), 'ssh-ed25519 AAAA root-only\n', { mode: 0o600 });
    await planted('/root/.ssh', join(root, 'home/alice/.ssh'));
    const before = await fileOf(root, 'root/.ssh/authorized_keys');
    const o = await runRoot(root, await contextDir({ USERNAME: 'alice', SSH_PUBLIC_KEY: fakeKey('ssh-ed25519', 'attacker-visible') }));
    expect(o.timedOut).toBe(false);
    expect(await fileOf(root, 'root/.ssh/authorized_keys')).toEqual(before);
    expect((await stat(join(root, 'root/.ssh'))).uid).toBe(0);
    expect(await readdir(join(root, 'root/.ssh'))).toEqual(['authorized_keys']);
  });

  it('~alice/.ssh/authorized_keys a hard link of /etc/shadow: /etc/shadow keeps its bytes, mode and owner', async () => {
    const root = await scratchRoot();
    const ssh = join(root, 'home/alice/.ssh');
    await mkdir(ssh, { mode: 0o700 });
    await chown(ssh, 1000, 1000);
    await link(join(root, 'etc/shadow'), join(ssh, 'authorized_keys'));
    const before = await shadowOf(root);
    const o = await runRoot(root, await contextDir({ USERNAME: 'alice', SSH_PUBLIC_KEY: fakeKey() }));
    expect(o.timedOut).toBe(false);
    expect(await shadowOf(root)).toEqual(before);
  });

  it('~alice/.ssh/authorized_keys -> /etc/shadow with the home written "/home/alice/" (trailing slash) and "/home//alice" in /etc/passwd', async () => {
    for (const home of ['/home/alice/', '/home//alice', '/home/./alice']) {
      const root = await scratchRoot();
      await writeFile(join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:${home}:/bin/bash\n`);
      const ssh = join(root, 'home/alice/.ssh');
      await mkdir(ssh, { mode: 0o700 });
      await chown(ssh, 1000, 1000);
      await planted('/etc/shadow', join(ssh, 'authorized_keys'));
      const before = await shadowOf(root);
      const o = await runRoot(root, await contextDir({ USERNAME: 'alice', SSH_PUBLIC_KEY: fakeKey() }));
      expect(o.timedOut).toBe(false);
      expect(await shadowOf(root), home).toEqual(before);
    }
  });

  it('~alice/.ssh owned by bob (1001): nothing is written into bob\'s directory and nothing there is given to alice', async () => {
    const root = await scratchRoot();
    const ssh = join(root, 'home/alice/.ssh');
    await mkdir(ssh, { mode: 0o755 });
    await chown(ssh, 1001, 1001);
    await writeFile(join(ssh, 'authorized_keys'), 'bob-owned\n', { mode: 0o644 });
    await chown(join(ssh, 'authorized_keys'), 1001, 1001);
    const o = await runRoot(root, await contextDir({ USERNAME: 'alice', SSH_PUBLIC_KEY: fakeKey() }));
    expect(o.timedOut).toBe(false);
    const st = await stat(join(ssh, 'authorized_keys'));
    expect([st.uid, await readFile(join(ssh, 'authorized_keys'), 'utf8')]).toEqual([1001, 'bob-owned\n']);
    expect(await readdir(ssh)).toEqual(['authorized_keys']);
  });

  it('bob shares alice\'s home (/home/alice in /etc/passwd for both): bob\'s keys never land in alice\'s files', async () => {
    const root = await scratchRoot();
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/bash\nbob:x:1001:1001:Bob:/home/alice:/bin/bash\n');
    await writeFile(join(root, 'etc/group'), 'root:x:0:\nsudo:x:27:\nalice:x:1000:\nbob:x:1001:\n');
    const ssh = join(root, 'home/alice/.ssh');
    await mkdir(ssh, { mode: 0o700 });
    await chown(ssh, 1000, 1000);
    await writeFile(join(ssh, 'authorized_keys'), 'alice-key\n', { mode: 0o600 });
    await chown(join(ssh, 'authorized_keys'), 1000, 1000);
    const o = await runRoot(root, await contextDir({ USERNAME: 'bob', SSH_PUBLIC_KEY: fakeKey('ssh-ed25519', 'bob@cloud') }));
    expect(o.timedOut).toBe(false);
    const st = await stat(join(ssh, 'authorized_keys'));
    expect(st.uid).toBe(1000);
    expect((await stat(ssh)).uid).toBe(1000);
  });
  it('(functional, not a hole) a home that is a root-made link (/home/alice -> /data/alice) still gets the keys, as alice\'s, like write_files treats it', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'data'), { recursive: true });
    execFileSync('mv', [join(root, 'home/alice'), join(root, 'data/alice')]);
    await symlink('/data/alice', join(root, 'home/alice'));
    const key = fakeKey('ssh-ed25519', 'alice@cloud');
    const o = await runRoot(root, await contextDir({ USERNAME: 'alice', SSH_PUBLIC_KEY: key }));
    expect(o.timedOut).toBe(false);
    const file = join(root, 'data/alice/.ssh/authorized_keys');
    const text = await readFile(file, 'utf8').catch(() => '');
    expect(text, moduleWarnings(o, 'ssh-keys')).toContain(key);
    expect((await stat(file)).uid).toBe(1000);
  });
});

describe('links in directories other users can write', () => {
  it('a group-writable directory (root:alice 2775) with alice\'s link to /etc/shadow: not followed', async () => {
    const root = await scratchRoot();
    const dir = await sharedDir(root, 'srv/team', 0o2775, 0, 1000);
    await planted('/etc/shadow', join(dir, 'conf'));
    const before = await shadowOf(root);
    const o = await runRoot(root, await cloud("write_files:\n  - path: /srv/team/conf\n    owner: alice\n    content: 'pwned::0:0:::::\\n'\n"));
    expect(o.code, o.stderr).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
  });

  it('a directory alice owns outside her home (/srv/alice) with a sub-directory link to /etc: not followed', async () => {
    const root = await scratchRoot();
    const dir = await sharedDir(root, 'srv/alice', 0o755, 1000, 1000);
    await planted('/etc', join(dir, 'cfg'));
    const before = await shadowOf(root);
    const o = await runRoot(root, await cloud("write_files:\n  - path: /srv/alice/cfg/shadow\n    owner: alice\n    content: 'pwned::0:0:::::\\n'\n"));
    expect(o.code, o.stderr).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
  });

  it('a root-owned link in a non-sticky world-writable directory (swappable): not followed', async () => {
    const root = await scratchRoot();
    const dir = await sharedDir(root, 'srv/drop', 0o777);
    await symlink('/etc/shadow', join(dir, 'x'));
    const before = await shadowOf(root);
    const o = await runRoot(root, await cloud("write_files:\n  - path: /srv/drop/x\n    content: 'pwned\\n'\n"));
    expect(o.code, o.stderr).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
  });

  it('a path spelled with .. through alice\'s directory (/srv/alice/d/../../../etc/shadow, d a link of hers) is refused', async () => {
    const root = await scratchRoot();
    const dir = await sharedDir(root, 'srv/alice', 0o755, 1000, 1000);
    await planted('/home/alice', join(dir, 'd'));
    const before = await shadowOf(root);
    const o = await runRoot(root, await cloud("write_files:\n  - path: /srv/alice/d/../../../etc/shadow\n    content: 'pwned\\n'\n"));
    expect(o.timedOut).toBe(false);
    expect(await shadowOf(root)).toEqual(before);
  });

  it('(debatable) /tmp/provision pre-made by uid 1000, then write_files /tmp/provision/setup.sh (root, 0755) for runcmd: the root script is not left in a directory uid 1000 controls', async () => {
    const root = await scratchRoot();
    await sharedDir(root, 'tmp', 0o1777);
    const dir = await sharedDir(root, 'tmp/provision', 0o755, 1000, 1000);
    const o = await runRoot(root, await cloud("write_files:\n  - path: /tmp/provision/setup.sh\n    permissions: '0755'\n    content: |\n      #!/bin/sh\n      echo provisioning\n"));
    expect(o.timedOut).toBe(false);
    const file = await lstat(join(dir, 'setup.sh')).catch(() => undefined);
    // either refused, or written where uid 1000 cannot swap it before runcmd runs it as root
    const parent = await stat(dir);
    const swappable = file !== undefined && parent.uid === 1000;
    expect(swappable, 'a root script in a directory of uid 1000: she can rename it away and put her own in its place').toBe(false);
  });

  it('a home symlinked by root (/home/alice -> /data/alice) with alice\'s ~/.bashrc -> /etc/shadow: append + owner alice refused', async () => {
    const root = await scratchRoot();
    await mkdir(join(root, 'data'), { recursive: true });
    execFileSync('mv', [join(root, 'home/alice'), join(root, 'data/alice')]);
    await symlink('/data/alice', join(root, 'home/alice'));
    await planted('/etc/shadow', join(root, 'data/alice/.bashrc'));
    const before = await shadowOf(root);
    const o = await runRoot(root, await cloud("write_files:\n  - path: /home/alice/.bashrc\n    owner: alice\n    append: true\n    content: 'x\\n'\n  - path: /data/alice/.bashrc\n    owner: alice\n    append: true\n    content: 'x\\n'\n"));
    expect(o.code, o.stderr).toBe(0);
    expect(await shadowOf(root)).toEqual(before);
  });
});

describe('hostile cloud: names and amplification', () => {
  it('hostname and DNS values with newlines never add lines to /etc/hosts or resolv.conf', async () => {
    const root = await scratchRoot();
    const o = await runRoot(root, await cloud('hostname: "web\\n6.6.6.6 security.debian.org"\n', {
      SET_HOSTNAME: 'web-1\n6.6.6.6 deb.debian.org',
      DNS: '192.0.2.1\nnameserver 6.6.6.6',
      SEARCH_DOMAIN: 'example.org\noptions ndots:15',
    }));
    expect(o.timedOut).toBe(false);
    const files = ['etc/hosts', 'etc/resolv.conf', 'etc/hostname'];
    for (const f of files) {
      const text = await readFile(join(root, f), 'utf8').catch(() => '');
      // (DNS is a whitespace-separated list: 6.6.6.6 there is a server the cloud named, not an injected line)
      expect(text, f).not.toMatch(/^\s*6\.6\.6\.6|ndots:15/mu);
    }
  });

  it('write_files paths spelled oddly over uid 1000\'s link in /tmp (/tmp/x/, /tmp/./x, /tmp//x, /tmp/y/../x, ///tmp/x): /etc/shadow untouched', async () => {
    const root = await scratchRoot();
    const tmp = await sharedDir(root, 'tmp', 0o1777);
    await planted('/etc/shadow', join(tmp, 'x'));
    await mkdir(join(tmp, 'y'));
    const before = await shadowOf(root);
    const spellings = ['/tmp/x/', '/tmp/./x', '/tmp//x', '/tmp/y/../x', '///tmp/x', '/tmp/x/.'];
    const entries = spellings.map((p) => `  - path: ${JSON.stringify(p)}\n    owner: alice\n    append: true\n    content: "pwned::0:0:::::\\n"\n`).join('');
    const o = await runRoot(root, await cloud(`write_files:\n${entries}`));
    expect(o.timedOut).toBe(false);
    expect(await shadowOf(root)).toEqual(before);
  });

  it('(debatable, low) a write_files path with a 300-byte name is refused as a path (a warning), not a module failure retried every boot', async () => {
    const root = await scratchRoot();
    const o = await runRoot(root, await cloud(`write_files:\n  - path: /etc/${'a'.repeat(300)}\n    content: x\n  - path: /etc/motd\n    content: hi\n`));
    expect(o.timedOut).toBe(false);
    expect(moduleWarnings(o, 'write-files')).toMatch(/aaaa/u);
    expect(o.code, moduleWarnings(o, 'write-files')).toBe(0);
  });

  it('USERNAME / cloud-config user names shaped like passwd lines or options never add a uid 0 account', async () => {
    const root = await scratchRoot();
    const names = ['evil:x:0:0::/root:/bin/sh', '-o', '--uid=0', 'a\nroot2:x:0:0::/:/bin/sh', '../../etc'];
    const users = names.map((n) => `  - name: ${JSON.stringify(n)}\n`).join('');
    const o = await runRoot(root, await cloud(`users:\n${users}`, { USERNAME: 'evil:x:0:0::/root:/bin/sh' }));
    expect(o.timedOut).toBe(false);
    const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
    const uid0 = passwd.split('\n').filter((l) => l.split(':')[2] === '0').map((l) => l.split(':')[0]);
    expect(uid0).toEqual(['root']);
  });

  it('write_files gz+b64 bombs: 40 entries of 16 MiB each from under 1 MB of user data stay within a memory budget (show parses them)', async () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024 - 1, 0x41), { level: 9 }).toString('base64');
    let cc = 'write_files:\n';
    for (let i = 0; i < 40; i++) cc += `  - path: /root/bomb${i % 2}\n    encoding: gz+b64\n    content: ${bomb}\n`;
    const source = await cloud(cc);
    const r = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, BUNDLE, 'show', '--source', source], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const rss = Number(/maxrss_kb=(\d+)/u.exec(r.stderr)?.[1] ?? 'NaN');
    // 40 x 16 MiB = 640 MiB if every entry is decoded and kept; a budget keeps it far below
    expect(rss, r.stderr.slice(-500)).toBeLessThan(256 * 1024);
  }, 30_000);
  it('gzip\'d user data: 1 MiB of runcmd entries (from 3 KiB of context) is refused or run within a memory budget, never ERR_INTERNAL', async () => {
    const yaml = `#cloud-config\nruncmd:\n${'- [a]\n'.repeat(175_000)}`;
    const gz = gzipSync(Buffer.from(yaml), { level: 9 });
    const source = await contextDir({ USER_DATA: gz.toString('base64'), USER_DATA_ENCODING: 'base64' });
    const r = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, BUNDLE, 'show', '--source', source], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const rss = Number(/maxrss_kb=(\d+)/u.exec(r.stderr)?.[1] ?? 'NaN');
    expect(gz.length).toBeLessThan(8 * 1024);
    expect(r.stderr).not.toMatch(/ERR_INTERNAL|Maximum call stack/u);
    expect(rss, r.stderr.slice(-500)).toBeLessThan(256 * 1024);
  }, 30_000);
});

describe('secrets', () => {
  it('PASSWORD from the context appears in no file of the root but /etc/shadow (as a hash), nor on stdout/stderr', async () => {
    const root = await scratchRoot();
    const secret = 'Hunter2-RedTeam-Secret-9f3a';
    const o = await runRoot(root, await cloud(`chpasswd:\n  list: |\n    alice:${secret}x\n  expire: false\n`, { USERNAME: 'alice', PASSWORD: secret }));
    expect(o.timedOut).toBe(false);
    expect(`${o.stdout}${o.stderr}`).not.toContain(secret);
    const hits: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const name of await readdir(join(root, rel))) {
        const p = join(rel, name);
        const st = await lstat(join(root, p));
        if (st.isDirectory()) await walk(p);
        else if (st.isFile() && (await readFile(join(root, p), 'utf8')).includes(secret)) hits.push(p);
      }
    };
    await walk('');
    expect(hits).toEqual([]);
  });

  it('secret-named context variables (ONEGATE_TOKEN, API_KEY, DB_PASSWORD, AWS_SECRET_ACCESS_KEY, SERVICE_TOKEN) never reach a file of the root, stdout/stderr or `show`', async () => {
    const root = await scratchRoot();
    const vars = { ONEGATE_TOKEN: 'tok-1a2b3c4d5e', API_KEY: 'apikey-9z8y7x6w', DB_PASSWORD: 'dbpass-q1w2e3r4', AWS_SECRET_ACCESS_KEY: 'awssecret-m5n6b7v8', SERVICE_TOKEN: 'svctok-k9j8h7g6' };
    const source = await contextDir({ ...vars, START_SCRIPT: 'true' });
    const o = await runRoot(root, source);
    const shown = await runCli(['show', '--source', source]);
    const values = Object.values(vars);
    for (const v of values) {
      expect(`${o.stdout}${o.stderr}`, v).not.toContain(v);
      expect(shown.stdout, v).not.toContain(v);
    }
    const hits: string[] = [];
    const walk = async (rel: string): Promise<void> => {
      for (const name of await readdir(join(root, rel))) {
        const p = join(rel, name);
        const st = await lstat(join(root, p));
        if (st.isDirectory()) await walk(p);
        else if (st.isFile()) {
          const text = await readFile(join(root, p), 'utf8');
          for (const v of values) if (text.includes(v)) hits.push(`${p}: ${v}`);
        }
      }
    };
    await walk('');
    expect(hits).toEqual([]);
  });
});
