// Real guest, issue 19: accounts and user-data containers from a NoCloud seed (genisoimage, label
// cidata), applied as cloud-init applies them, read back from the disk after power-off. One boot of
// a Debian 13 (trixie) image. The seed's user data is MIME multipart with three parts:
//   1. text/cloud-config: `hostname` (must win over meta-data's local-hostname), top-level `groups`
//      (one with members), `users` (alice: a given `passwd` hash with `lock_passwd: false`; bob:
//      `gecos`, `shell`, `groups`, a `sudo` rule, `ssh_authorized_keys`), `chpasswd` with
//      `expire: false` and `users` (bob's hash), `ssh_pwauth: true`, and `write_files` with
//      `!!binary` content (bytes that are not UTF-8) and `encoding: gzip` + `!!binary`;
//   2. text/x-include-url: a cloud-config served by a node HTTP server on the host's loopback,
//      reached by the guest through slirp's guestfwd at 10.0.2.100:80 (restrict=on stays); it adds
//      a `runcmd` (a key no other part has, so cloud-init's merge rules for lists do not matter);
//   3. text/cloud-boothook: a `#cloud-boothook` shell script, run every boot with INSTANCE_ID.
// What cloud-init would leave is asserted (its cc_users_groups, cc_set_passwords, cc_write_files,
// cc_set_hostname and user-data handlers, read in its source), and vmctx's log must hold only the
// warnings this test expects: nothing applied silently wrong, nothing skipped silently.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { boot, buildImage, guestfwdRelay, readGuestFile, statGuestFile, type BootResult, type Flavour, sections } from './guest.js';

const run = promisify(execFile);

const FLAVOUR: Flavour = 'trixie-netplan';
const INSTANCE_ID = 'iid-cc-19';
/** meta-data's name, which the user data's `hostname:` overrides (cloud-init: user data wins). */
const SEED_HOSTNAME = 'seed-guest';
const HOSTNAME = 'cc-guest';
/** The name baked into the image, as Debian's installer leaves it in /etc/hosts. */
const IMAGE_HOSTNAME = 'debian-image';
/** The include server as the guest sees it (guestfwd), and the one path vmctx may fetch. */
const INCLUDE_HOST = '10.0.2.100';
const INCLUDE_PATH = '/inc.yaml';
/** A path only the harness's own probe fetches (from the reporter, after the boot). */
const PROBE_PATH = '/probe';
/** The user-mode NIC at PCI slot 3: ens3 in these guests (as in netmodel.e2e). */
const NIC = 'ens3';

// `openssl passwd -6 -salt …` of Alice-E2e-19 and Bob-E2e-19: hashes given as they are, never re-hashed
const ALICE_HASH = '$6$e2ealice19salt$wH2LiqGDYseiZdYGUWdZ0j31wLg8q8/Iqeg8AkokK6aPPTGM4NFFsmhbclG5w7sOoRoDyPk8jL1k7GndasXCt/';
const BOB_HASH = '$6$e2ebob19salt$Iee9/9oL7axxSjnMAWcnzuV3KzRpJgNufR.3wWJcexVxiklloLVFz8mlFg7Fbaz4LbXU8nrmzcwvJJNzUMWt..';
const BOB_GECOS = 'Bob Builder';
const SUDO_RULE = 'ALL=(ALL) NOPASSWD:ALL';
/** Not UTF-8: a NUL, 0xff, 0xfe, a lone continuation byte, an invalid two-byte sequence. */
const BLOB = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x7f, 0xc3, 0x28, 0x00, 0x0a]);
const GZ_TEXT = 'gunzipped by write_files\n';
const BLOB_PATH = '/var/lib/e2e-cc/blob.bin';
const GZ_PATH = '/var/lib/e2e-cc/gz.txt';
const INCLUDE_LOG = '/var/lib/e2e-cc/include.log';
const BOOTHOOK_LOG = '/var/lib/e2e-cc/boothook.log';

/** YAML `!!binary` block: base64 in lines of 60, indented under its key. */
const binary = (bytes: Buffer, indent: string): string => `!!binary |\n${(bytes.toString('base64').match(/.{1,60}/gu) ?? []).map((l) => `${indent}${l}`).join('\n')}`;

function cloudConfig(key: string): string {
  return `#cloud-config
hostname: ${HOSTNAME}
groups:
  - e2e-admins: [root, sys]
  - e2e-users
users:
  - name: alice
    passwd: "${ALICE_HASH}"
    lock_passwd: false
  - name: bob
    gecos: ${BOB_GECOS}
    shell: /bin/bash
    groups: [adm, e2e-users]
    sudo: ${SUDO_RULE}
    ssh_authorized_keys:
      - ${key}
chpasswd:
  expire: false
  users:
    - name: bob
      password: "${BOB_HASH}"
      type: hash
ssh_pwauth: true
write_files:
  - path: ${BLOB_PATH}
    permissions: '0640'
    content: ${binary(BLOB, '      ')}
  - path: ${GZ_PATH}
    encoding: gzip
    content: ${binary(gzipSync(Buffer.from(GZ_TEXT)), '      ')}
`;
}

/** What the #include URL serves: user data of its own (a cloud-config), with a key no other part has. */
const INCLUDED = `#cloud-config
runcmd:
  - [sh, -c, 'mkdir -p /var/lib/e2e-cc && echo "included runcmd" >> ${INCLUDE_LOG}']
`;

const BOOTHOOK = `#cloud-boothook
#!/bin/sh
mkdir -p /var/lib/e2e-cc
echo "boothook INSTANCE_ID=$INSTANCE_ID" >> ${BOOTHOOK_LOG}
`;

const BOUNDARY = '==e2e-cc-19-boundary==';
function userData(key: string): string {
  const part = (type: string, name: string, body: string): string =>
    `--${BOUNDARY}\nContent-Type: ${type}; charset="us-ascii"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename="${name}"\n\n${body}\n`;
  return `Content-Type: multipart/mixed; boundary="${BOUNDARY}"\nMIME-Version: 1.0\n\n${[
    part('text/cloud-config', 'accounts.yaml', cloudConfig(key)),
    part('text/x-include-url', 'include.txt', `#include\nhttp://${INCLUDE_HOST}${INCLUDE_PATH}\n`),
    part('text/cloud-boothook', 'boothook.sh', BOOTHOOK),
  ].join('')}--${BOUNDARY}--\n`;
}

/** As Debian images have it: the image's own name on 127.0.1.1, which the guest's name must replace. */
const IMAGE_HOSTS = `127.0.0.1\tlocalhost\n127.0.1.1\t${IMAGE_HOSTNAME}\n\n# The following lines are desirable for IPv6 capable hosts\n::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\nff02::2 ip6-allrouters\n`;
/**
 * As cloud images ship it (Ubuntu's 60-cloudimg-settings.conf): passwords off in a drop-in. With
 * `ssh_pwauth: true` cloud-init writes 50-cloud-init.conf, which sshd reads first, so it wins.
 */
const IMAGE_SSHD_DROPIN = 'PasswordAuthentication no\n';

/**
 * Run by the harness's reporter before power-off; it only reads. Waits (at most 60 s) for the DHCP
 * lease, then fetches PROBE_PATH through guestfwd with bash's /dev/tcp (no curl in the image):
 * the include server is reachable from this guest, whatever vmctx did. Then sshd's effective
 * setting, the live hostname, and whether a password hash reached a file anyone may read.
 */
const PROBE = `#!/bin/bash
waited=0
while [ "$waited" -lt 60 ]; do
  ip -o -4 addr show dev ${NIC} 2>/dev/null | grep -q ' inet 10\\.0\\.2\\.' && break
  sleep 1
  waited=$((waited + 1))
done
echo "== waited"; echo "$waited"
echo "== probe"
timeout 15 bash -c 'exec 3<>/dev/tcp/${INCLUDE_HOST}/80 && printf "GET ${PROBE_PATH} HTTP/1.0\\r\\nHost: ${INCLUDE_HOST}\\r\\n\\r\\n" >&3 && cat <&3' 2>&1 | tr -d '\\r' | tail -1; echo
echo "== sshd"
/usr/sbin/sshd -T 2>&1 | grep -iE '^(passwordauthentication|kbdinteractiveauthentication) |error|fatal'
echo "== hostname"
hostname
echo "== leaks"
grep -rlF -e e2ealice19salt -e e2ebob19salt /run/vmctx /var/log/vmctx.log 2>/dev/null
echo "== end"
`;

/** A file's bytes from the powered-off image (debugfs dump: no text decoding). */
async function readGuestBytes(image: string, path: string): Promise<Buffer | undefined> {
  const local = join(work, `dump-${Date.now()}`);
  const { stderr } = await run('debugfs', ['-R', `dump ${path} ${local}`, image]);
  if (/not found|File not found/u.test(stderr) || !existsSync(local)) return undefined;
  const bytes = await readFile(local);
  await rm(local);
  return bytes;
}

/** The names in a directory of the powered-off image (debugfs ls -p: /inode/mode/uid/gid/name/size/). */
async function listGuestDir(image: string, path: string): Promise<string[]> {
  const { stdout } = await run('debugfs', ['-R', `ls -p ${path}`, image]);
  return stdout.split('\n').map((l) => l.split('/')[5] ?? '').filter((n) => n !== '' && n !== '.' && n !== '..');
}

/** One line of a colon-separated database (/etc/passwd, /etc/shadow, /etc/group) by its name, split. */
function entry(text: string | undefined, name: string): string[] | undefined {
  return (text ?? '').split('\n').find((l) => l.startsWith(`${name}:`))?.split(':');
}

/** vmctx's warnings (pino level 40 and above) over every stage of the boot, as text, once each. */
async function vmctxWarnings(image: string): Promise<string[]> {
  const lines = ((await readGuestFile(image, '/var/log/vmctx.log')) ?? '').split('\n').filter((l) => l.startsWith('{'));
  const out = new Set<string>();
  for (const line of lines) {
    const r = JSON.parse(line) as { level?: number; msg?: string; warning?: unknown; err?: { message?: string } } & Record<string, unknown>;
    if ((r.level ?? 0) < 40) continue;
    const w = r.warning;
    const text =
      typeof w === 'string' ? w
      : typeof w === 'object' && w !== null && 'message' in w ? `${(w as { variable?: string }).variable ?? ''}: ${String(w.message)}${'line' in w ? ` (line ${String(w.line)})` : ''}`
      : r.err?.message ?? JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => !['level', 'time', 'pid', 'hostname'].includes(k))));
    out.add(`${r.level === 40 ? 'warn' : 'error'} (${r.msg ?? ''}) ${text}`);
  }
  return [...out];
}

/**
 * The warnings this boot must give, each for a reason of the image, not of the seed: the e2e root
 * has no sudo package, so the sudoers drop-in is written without visudo's check, and said so.
 */
const EXPECTED_WARNINGS: readonly RegExp[] = [
  /^warn \(module warning\) .*sudo.*(not .*installed|missing)/iu,
  // the user data's name wins over the seed's, and the one set aside is named
  /^warn \(context warning\) USER_DATA hostname: cloud-config hostname "cc-guest" is used, not SET_HOSTNAME "seed-guest"/u,
];

let work: string;
let image: string;
let seed: string;
let server: Server;
let port: number;
let relay: string;
let key: string;
/** Every request the include server got, as "METHOD PATH". */
const requests: string[] = [];
let result: BootResult;

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-cc-');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bob@e2e', '-f', join(work, 'bob')]);
  key = (await readFile(join(work, 'bob.pub'), 'utf8')).trim();
  const dir = join(work, 'seed');
  await mkdir(dir);
  await writeFile(join(dir, 'meta-data'), `instance-id: ${INSTANCE_ID}\nlocal-hostname: ${SEED_HOSTNAME}\n`);
  await writeFile(join(dir, 'user-data'), userData(key));
  // vmctx has no fallback network (cloud-init's DHCP on the first NIC): the seed asks for it
  await writeFile(join(dir, 'network-config'), `version: 2\nethernets:\n  ${NIC}:\n    dhcp4: true\n`);
  seed = join(work, 'seed.iso');
  execFileSync('genisoimage', ['-quiet', '-J', '-R', '-V', 'cidata', '-o', seed, dir]);
  server = createServer((req, res) => {
    requests.push(`${req.method ?? '?'} ${req.url ?? '?'}`);
    if (req.method === 'GET' && req.url === INCLUDE_PATH) res.writeHead(200, { 'content-type': 'text/plain' }).end(INCLUDED);
    else if (req.method === 'GET' && req.url === PROBE_PATH) res.writeHead(200, { 'content-type': 'text/plain' }).end('probe-ok\n');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  relay = await guestfwdRelay(work, port);
  image = await buildImage(work, {
    withAgent: true,
    flavour: FLAVOUR,
    files: { '/usr/local/sbin/vmctx-e2e-extra': PROBE, '/etc/hosts': IMAGE_HOSTS, '/etc/ssh/sshd_config.d/60-image.conf': IMAGE_SSHD_DROPIN },
  });
}, 600_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
});

// After the one boot each feature has a test of its own, reading the disk; within one, expect.soft
// reports every wrong fact of it (gecos and the sudo rule and the groups), not just the first.
describe('issue 19: accounts, write_files !!binary, #include and #cloud-boothook from a NoCloud seed, in a real guest', () => {
  let s = new Map<string, string>();
  let tail = '';

  it('the guest boots with the seed and powers off; the harness works (seed found, the include server reachable through guestfwd)', async () => {
    result = await boot(image, work, { flavour: FLAVOUR, cdrom: seed, nicExtra: `guestfwd=tcp:${INCLUDE_HOST}:80-${relay}`, timeoutMs: 600_000 });
    s = sections(result.report);
    tail = result.console.slice(-6000);
    process.stdout.write(`cloudconfig e2e: boot to power-off ${result.wallMs} ms; include server requests: ${JSON.stringify(requests)}\n${result.report}\n`);
    expect(s.has('end'), `the probe did not finish\n${tail}`).toBe(true);
    expect(result.console).toMatch(new RegExp(`vmctx: context from /dev/\\S+ \\((label cidata|device name \\w+)\\), instance ${INSTANCE_ID}`, 'u'));
    // the guest reached the host's loopback server at 10.0.2.100 (its own request, after the boot)
    expect(s.get('probe')?.trim(), `${s.get('waited') ?? ''}\n${tail}`).toBe('probe-ok');
    expect(requests).toContain(`GET ${PROBE_PATH}`);
    // no stage of the agent failed or was killed
    expect(result.console).not.toMatch(/vmctx-\w+\.service: (Failed|start operation timed out)/u);
  }, 900_000);

  it('users: alice with her given hash, unlocked (lock_passwd: false)', async () => {
    const passwd = await readGuestFile(image, '/etc/passwd');
    const alice = entry(passwd, 'alice');
    expect(alice, passwd).toBeDefined();
    expect.soft(Number(alice?.[2])).toBeGreaterThanOrEqual(1000);
    expect.soft(alice?.[5]).toBe('/home/alice');
    const shadow = entry(await readGuestFile(image, '/etc/shadow'), 'alice');
    // exactly the given hash: not "!"-prefixed (locked), not re-hashed
    expect.soft(shadow?.[1]).toBe(ALICE_HASH);
  });

  it('users: bob with gecos, shell, supplementary groups, the sudo rule as given and his key; top-level groups with members', async () => {
    const passwd = await readGuestFile(image, '/etc/passwd');
    const bob = entry(passwd, 'bob');
    expect(bob, passwd).toBeDefined();
    const uid = Number(bob?.[2]);
    const gid = Number(bob?.[3]);
    expect.soft(bob?.slice(4)).toEqual([BOB_GECOS, '/home/bob', '/bin/bash']);
    const group = await readGuestFile(image, '/etc/group');
    // his own primary group (useradd's user group, as cloud-init leaves it)
    expect.soft(entry(group, 'bob')?.[2]).toBe(String(gid));
    const members = (name: string): string[] => (entry(group, name)?.[3] ?? '').split(',').filter((m) => m !== '');
    expect.soft(members('adm'), group).toContain('bob');
    expect.soft(members('e2e-users'), group).toEqual(['bob']);
    // `groups: [{e2e-admins: [root, sys]}]`: created, with the members that exist
    expect.soft(entry(group, 'e2e-admins'), group).toBeDefined();
    expect.soft(members('e2e-admins')).toEqual(['root', 'sys']);
    // cloud-init writes "NAME RULE" as given, in a root-only drop-in
    const sudoers = await readGuestFile(image, '/etc/sudoers.d/90-vmctx-users');
    expect.soft(sudoers?.split('\n'), sudoers).toContain(`bob ${SUDO_RULE}`);
    expect.soft((await statGuestFile(image, '/etc/sudoers.d/90-vmctx-users'))?.mode).toBe('0440');
    const keys = await readGuestFile(image, '/home/bob/.ssh/authorized_keys');
    expect.soft(keys?.split('\n')).toContain(key);
    expect.soft(await statGuestFile(image, '/home/bob/.ssh/authorized_keys')).toEqual({ mode: '0600', uid, gid });
    expect.soft((await statGuestFile(image, '/home/bob/.ssh'))?.mode).toBe('0700');
  });

  it('chpasswd.users: bob gets the hash (after users locked him by default), not expired (expire: false)', async () => {
    const shadow = entry(await readGuestFile(image, '/etc/shadow'), 'bob');
    expect.soft(shadow?.[1]).toBe(BOB_HASH);
    // expire: true would have set the last change to 0 (passwd --expire)
    expect.soft(shadow?.[2]).toMatch(/^[1-9]\d*$/u);
  });

  it('ssh_pwauth: true: PasswordAuthentication yes written, and sshd takes it over the image\'s "no" drop-in', async () => {
    const dropins = await listGuestDir(image, '/etc/ssh/sshd_config.d');
    const texts = [(await readGuestFile(image, '/etc/ssh/sshd_config')) ?? '', ...(await Promise.all(dropins.map(async (n) => (await readGuestFile(image, `/etc/ssh/sshd_config.d/${n}`)) ?? '')))];
    expect(texts.some((t) => /^\s*PasswordAuthentication\s+yes\s*$/imu.test(t)), `sshd_config.d: ${dropins.join(' ')}`).toBe(true);
    // sshd's own reading of its configuration in the guest (sshd -T): the first value wins
    expect(s.get('sshd'), tail).toMatch(/^passwordauthentication yes$/mu);
  });

  it('write_files: !!binary content written byte for byte; encoding: gzip with !!binary unpacked', async () => {
    expect.soft(await readGuestBytes(image, BLOB_PATH)).toEqual(BLOB);
    expect.soft(await statGuestFile(image, BLOB_PATH)).toEqual({ mode: '0640', uid: 0, gid: 0 });
    expect.soft(await readGuestFile(image, GZ_PATH)).toBe(GZ_TEXT);
  });

  it('#include: the URL fetched exactly once through guestfwd, and the cloud-config it serves applied', async () => {
    expect(requests.filter((r) => r !== `GET ${PROBE_PATH}`)).toEqual([`GET ${INCLUDE_PATH}`]);
    expect(await readGuestFile(image, INCLUDE_LOG)).toBe('included runcmd\n');
  });

  it('#cloud-boothook: ran once on this one boot, with INSTANCE_ID', async () => {
    expect(await readGuestFile(image, BOOTHOOK_LOG)).toBe(`boothook INSTANCE_ID=${INSTANCE_ID}\n`);
  });

  it("hostname: the user data's name wins over meta-data's local-hostname; /etc/hosts has it on 127.0.1.1, not the image's name", async () => {
    expect.soft(await readGuestFile(image, '/etc/hostname')).toBe(`${HOSTNAME}\n`);
    expect.soft(s.get('hostname')?.trim()).toBe(HOSTNAME);
    const hosts = (await readGuestFile(image, '/etc/hosts')) ?? '';
    const loopback = hosts.split('\n').filter((l) => /^127\.0\.1\.1\s/u.test(l));
    expect.soft(loopback, hosts).toHaveLength(1);
    expect.soft(loopback[0]?.split(/\s+/u).slice(1)).toContain(HOSTNAME);
    expect.soft(hosts).not.toContain(IMAGE_HOSTNAME);
    expect.soft(hosts).not.toContain(SEED_HOSTNAME);
    // the image's other lines stay
    expect.soft(hosts).toMatch(/^127\.0\.0\.1\s+localhost$/mu);
    expect.soft(hosts).toMatch(/^::1\s+localhost ip6-localhost ip6-loopback$/mu);
  });

  it('no password hash in vmctx\'s log, its world-readable reports or on the console', () => {
    expect(s.get('leaks')?.trim(), 'files with a hash').toBe('');
    for (const salt of ['e2ealice19salt', 'e2ebob19salt']) expect(result.console.includes(salt)).toBe(false);
  });

  it("vmctx's log: exactly the warnings this test expects (nothing skipped silently, nothing reported that should apply)", async () => {
    const warnings = await vmctxWarnings(image);
    process.stdout.write(`vmctx warnings:\n${warnings.join('\n')}\n`);
    const unexpected = warnings.filter((w) => !EXPECTED_WARNINGS.some((re) => re.test(w)));
    expect(unexpected).toEqual([]);
    for (const re of EXPECTED_WARNINGS) expect(warnings.some((w) => re.test(w)), String(re)).toBe(true);
  });
});
