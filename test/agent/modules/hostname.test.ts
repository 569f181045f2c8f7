// The hostname module and the host name's precedence, as cloud-init applies hostname, fqdn,
// prefer_fqdn_over_hostname, create_hostname_file, preserve_hostname and manage_etc_hosts (our own
// documents of the shape of its documented examples), on a temp root.
import { link, lstat, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normaliseContext, type Context } from '../../../src/agent/context/context.js';
import { readNoCloud } from '../../../src/agent/datasources/seeds.js';
import { hostnameModule } from '../../../src/agent/modules/hostname.js';
import type { Target } from '../../../src/agent/modules/module.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { createLogger } from '../../../src/shared/logger.js';
import { contextOf } from '../../helpers/context.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

const log = createLogger(undefined);
const target = (root: string): Target => ({ root: new DirectoryRoot(root), exec: new HostExec(), live: false });
const IMAGE_HOSTS = '127.0.0.1\tlocalhost\n127.0.1.1\tdebian.internal debian\n# my entry\n10.1.1.1\tdb\n::1\tlocalhost ip6-localhost ip6-loopback\n';
const BLOCK = (line: string): string => `# BEGIN vmctx managed block: changes inside are replaced\n${line}\n# END vmctx managed block\n`;

/** A context from OpenNebula variables with a #cloud-config in USER_DATA. */
const withCloudConfig = (cloudConfig: string, variables: Record<string, string> = {}): Promise<Context> => contextOf({ ...variables, USER_DATA: `#cloud-config\n${cloudConfig}` });

async function hostsRoot(): Promise<string> {
  const root = await scratchRoot();
  await writeFile(join(root, 'etc/hosts'), IMAGE_HOSTS);
  await writeFile(join(root, 'etc/hostname'), 'debian\n');
  return root;
}

const read = (root: string, path: string): Promise<string> => readFile(join(root, path), 'utf8');

describe('/etc/hosts', () => {
  it("replaces the image's 127.0.1.1 line in its place, keeps every other line, and is stable", async () => {
    const root = await hostsRoot();
    const first = await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'web-1.example.com' }), target(root), log);
    expect(await read(root, 'etc/hosts')).toBe(`127.0.0.1\tlocalhost\n${BLOCK('127.0.1.1\tweb-1.example.com web-1')}# my entry\n10.1.1.1\tdb\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
    expect(first.details).toEqual({ hostsLinesReplaced: ['127.0.1.1\tdebian.internal debian'] });
    await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'web-2' }), target(root), log);
    expect(await read(root, 'etc/hosts')).toBe(`127.0.0.1\tlocalhost\n${BLOCK('127.0.1.1\tweb-2')}# my entry\n10.1.1.1\tdb\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
    expect((await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'web-2' }), target(root), log)).changed).toEqual([]);
  });

  it('keeps a 127.0.1.1 line that names localhost and lines for other addresses naming the old name; adds the block to a file with no 127.0.1.1 line', async () => {
    const root = await hostsRoot();
    await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n127.0.1.1 localhost.localdomain\n10.0.0.5 debian\n#127.0.1.1 commented\n');
    await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'node7' }), target(root), log);
    expect(await read(root, 'etc/hosts')).toBe(`127.0.0.1 localhost\n${BLOCK('127.0.1.1\tnode7')}127.0.1.1 localhost.localdomain\n10.0.0.5 debian\n#127.0.1.1 commented\n`);
  });

  it('manage_etc_hosts: localhost is the default; false leaves /etc/hosts as it is; true rewrites it whole from the name', async () => {
    const localhost = await hostsRoot();
    await hostnameModule.apply(await withCloudConfig('manage_etc_hosts: localhost\n', { SET_HOSTNAME: 'web-1' }), target(localhost), log);
    expect(await read(localhost, 'etc/hosts')).toContain(BLOCK('127.0.1.1\tweb-1'));
    expect(await read(localhost, 'etc/hosts')).not.toContain('debian');

    const off = await hostsRoot();
    const out = await hostnameModule.apply(await withCloudConfig('manage_etc_hosts: false\n', { SET_HOSTNAME: 'web-1' }), target(off), log);
    expect(await read(off, 'etc/hosts')).toBe(IMAGE_HOSTS);
    expect([out.changed, await read(off, 'etc/hostname')]).toEqual([['/etc/hostname'], 'web-1\n']);

    const template = await hostsRoot();
    await hostnameModule.apply(await withCloudConfig('fqdn: web-1.example.com\nmanage_etc_hosts: true\n'), target(template), log);
    const hosts = await read(template, 'etc/hosts');
    expect(hosts.split('\n').filter((l) => !l.startsWith('#'))).toEqual(['127.0.1.1\tweb-1.example.com web-1', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters', '']);
    expect(hosts).not.toContain('10.1.1.1');
  });

  it('a symlinked /etc/hosts is replaced, never written through; a hard-linked one is not carried over', async () => {
    const root = await hostsRoot();
    const outside = join(await tempDir(), 'hosts');
    await writeFile(outside, '127.0.1.1 outside\n');
    await rm(join(root, 'etc/hosts'));
    await symlink(outside, join(root, 'etc/hosts'));
    const out = await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'node7' }), target(root), log);
    expect(out.warnings[0]).toMatch(/^\/etc\/hosts was a symlink to .* replaced by a file/u);
    expect(await readFile(outside, 'utf8')).toBe('127.0.1.1 outside\n');
    expect((await lstat(join(root, 'etc/hosts'))).isFile()).toBe(true);

    await rm(join(root, 'etc/hosts'));
    await link(join(root, 'etc/shadow'), join(root, 'etc/hosts'));
    const shadow = await read(root, 'etc/shadow');
    const linked = await hostnameModule.apply(await contextOf({ SET_HOSTNAME: 'node7' }), target(root), log);
    expect(linked.warnings).toEqual(['/etc/hosts has 2 hard links; its content is not carried over']);
    expect(await read(root, 'etc/hosts')).not.toContain('root:');
    expect(await read(root, 'etc/shadow')).toBe(shadow);
    expect((await stat(join(root, 'etc/shadow'))).nlink).toBe(1);
  });
});

describe('hostname, fqdn, prefer_fqdn_over_hostname, create_hostname_file, preserve_hostname', () => {
  it('hostname + fqdn + prefer_fqdn_over_hostname: true (cloud-init example): the fqdn is the name; /etc/hosts has fqdn and short name', async () => {
    const root = await hostsRoot();
    const ctx = await withCloudConfig('hostname: myhost\ncreate_hostname_file: true\nfqdn: myhost.example.com\nprefer_fqdn_over_hostname: true\n');
    expect(ctx.host).toMatchObject({ name: 'myhost.example.com', short: 'myhost', fqdn: 'myhost.example.com', source: 'USER_DATA fqdn' });
    await hostnameModule.apply(ctx, target(root), log);
    expect(await read(root, 'etc/hostname')).toBe('myhost.example.com\n');
    expect(await read(root, 'etc/hosts')).toContain(BLOCK('127.0.1.1\tmyhost.example.com myhost'));
  });

  it('prefer_fqdn_over_hostname: false (or unset, for cloud-config names) sets the short name; a context name is set as given unless false', async () => {
    expect((await withCloudConfig('fqdn: external.fqdn.me\n')).hostname).toBe('external');
    expect((await withCloudConfig('hostname: a.example.com\n')).host).toMatchObject({ name: 'a', fqdn: 'a.example.com' });
    expect((await contextOf({ SET_HOSTNAME: 'external.fqdn.me' })).hostname).toBe('external.fqdn.me');
    expect((await withCloudConfig('prefer_fqdn_over_hostname: false\n', { SET_HOSTNAME: 'external.fqdn.me' })).host).toMatchObject({ name: 'external', fqdn: 'external.fqdn.me', source: 'SET_HOSTNAME' });
    expect((await withCloudConfig('prefer_fqdn_over_hostname: true\nhostname: web\n', { SET_HOSTNAME: 'web.example.com' })).hostname).toBe('web.example.com');
  });

  it('create_hostname_file: false (cloud-init example): no /etc/hostname where the image has none; an existing one is still updated', async () => {
    const root = await hostsRoot();
    await rm(join(root, 'etc/hostname'));
    const out = await hostnameModule.apply(await withCloudConfig('create_hostname_file: false\n', { SET_HOSTNAME: 'node7' }), target(root), log);
    await expect(lstat(join(root, 'etc/hostname'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(out.actions).toEqual(['create_hostname_file: false and the image has no /etc/hostname: none created (the name holds until the next boot sets it again)']);
    expect(await read(root, 'etc/hosts')).toContain('127.0.1.1\tnode7');
    await writeFile(join(root, 'etc/hostname'), 'debian\n');
    await hostnameModule.apply(await withCloudConfig('create_hostname_file: false\n', { SET_HOSTNAME: 'node7' }), target(root), log);
    expect(await read(root, 'etc/hostname')).toBe('node7\n');
  });

  it('preserve_hostname: true (cloud-init example): the name is not set and /etc/hosts not touched, said so; manage_etc_hosts: localhost still updates /etc/hosts', async () => {
    const ctx = await withCloudConfig('preserve_hostname: true\n', { SET_HOSTNAME: 'node7' });
    expect([ctx.hostname, hostnameModule.isRelevant(ctx)]).toEqual([undefined, false]);
    expect(ctx.warnings.map((w) => `${w.variable ?? ''}: ${w.message}`)).toContain('USER_DATA preserve_hostname: true: the image\'s host name is kept; "node7" (SET_HOSTNAME) is not set');
    expect(ctx.warnings.find((w) => w.variable === 'USER_DATA preserve_hostname')).toMatchObject({ file: 'USER_DATA', line: 2 });
    const root = await hostsRoot();
    const hostsToo = await withCloudConfig('preserve_hostname: true\nmanage_etc_hosts: localhost\n', { SET_HOSTNAME: 'node7' });
    expect(hostnameModule.isRelevant(hostsToo)).toBe(true);
    await hostnameModule.apply(hostsToo, target(root), log);
    expect(await read(root, 'etc/hostname')).toBe('debian\n');
    expect(await read(root, 'etc/hosts')).toContain(BLOCK('127.0.1.1\tnode7'));
  });

  it('live with create_hostname_file: false and no file: the running name only (hostnamectl --transient)', async () => {
    const root = await hostsRoot();
    await rm(join(root, 'etc/hostname'));
    await mkdir(join(root, 'run/dbus'), { recursive: true });
    await writeFile(join(root, 'run/dbus/system_bus_socket'), '');
    const calls: string[] = [];
    const live: Target = {
      root: new DirectoryRoot(root),
      live: true,
      machine: { hostname: () => 'localhost', readHead: () => Promise.resolve(undefined) },
      exec: {
        which: (name) => Promise.resolve(`/usr/bin/${name}`),
        run: (file, args) => {
          calls.push([file, ...args].join(' '));
          return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' });
        },
      },
    };
    await hostnameModule.apply(await withCloudConfig('create_hostname_file: false\nhostname: node7\n'), live, log);
    expect(calls).toEqual(['/usr/bin/hostnamectl set-hostname --transient node7']);
    await expect(lstat(join(root, 'etc/hostname'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('precedence: the user data\'s name wins over the metadata\'s, with a warning', () => {
  const seed = (files: Record<string, string>) => (path: string) => Promise.resolve(files[path] === undefined ? undefined : Buffer.from(files[path]));
  const nocloud = async (metaData: string, userData: string): Promise<Context> => {
    const raw = await readNoCloud(seed({ 'meta-data': metaData, 'user-data': userData }), { path: '/seed', foundBy: 'test' });
    return normaliseContext(raw, { id: 'i-1', source: 'metadata' });
  };

  it('NoCloud meta-data local-hostname + user-data hostname: the user data wins, the meta-data name is named', async () => {
    const ctx = await nocloud('instance-id: i-1\nlocal-hostname: meta-name.example.com\n', '#cloud-config\nhostname: user-name\n');
    // cloud-init: a short hostname takes the cloud's fqdn
    expect(ctx.host).toMatchObject({ name: 'user-name', short: 'user-name', fqdn: 'meta-name.example.com', source: 'USER_DATA hostname' });
    expect(ctx.warnings.map((w) => `${w.variable ?? ''}: ${w.message}`)).toContain('USER_DATA hostname: cloud-config hostname "user-name" is used, not SET_HOSTNAME "meta-name.example.com" (the meta-data\'s local-hostname): the user data\'s name wins, as in cloud-init');
    const root = await hostsRoot();
    await hostnameModule.apply(ctx, target(root), log);
    expect([await read(root, 'etc/hostname'), (await read(root, 'etc/hosts')).includes(BLOCK('127.0.1.1\tmeta-name.example.com user-name'))]).toEqual(['user-name\n', true]);
  });

  it('the same name from both: no warning; fqdn wins over both; OpenNebula SET_HOSTNAME loses to USER_DATA too', async () => {
    const same = await nocloud('instance-id: i-1\nlocal-hostname: web\n', '#cloud-config\nhostname: web\n');
    expect(same.warnings.filter((w) => /hostname/u.test(w.message))).toEqual([]);
    const fqdn = await nocloud('instance-id: i-1\nlocal-hostname: meta\n', '#cloud-config\nhostname: short\nfqdn: long.example.com\n');
    expect(fqdn.host).toMatchObject({ name: 'short', short: 'short', fqdn: 'long.example.com' });
    expect(fqdn.warnings.map((w) => w.message)).toContain('cloud-config fqdn "long.example.com" is used, not SET_HOSTNAME "meta" (the meta-data\'s local-hostname): the user data\'s name wins, as in cloud-init');
    // named at the line of the key that won (the user data's line 1 is "#cloud-config")
    expect(fqdn.warnings.find((w) => w.variable === 'USER_DATA fqdn')).toMatchObject({ file: 'USER_DATA', line: 3 });
    const one = await withCloudConfig('hostname: from-user-data\n', { SET_HOSTNAME: 'from-template' });
    expect(one.hostname).toBe('from-user-data');
    expect(one.warnings.map((w) => w.message)).toContain('cloud-config hostname "from-user-data" is used, not SET_HOSTNAME "from-template": the user data\'s name wins, as in cloud-init');
    expect(one.warnings.find((w) => w.variable === 'USER_DATA hostname')).toMatchObject({ file: 'USER_DATA', line: 2 });
  });

  it('manage_etc_hosts with no name anywhere is named, not silently dropped', async () => {
    const ctx = await withCloudConfig('manage_etc_hosts: true\n');
    expect([ctx.host, ctx.warnings.map((w) => w.message)]).toEqual([undefined, ['the context gives no host name (hostname, fqdn, SET_HOSTNAME); /etc/hosts is left as it is']]);
  });
});
