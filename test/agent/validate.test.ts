import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { normaliseContext, formatWarning } from '../../src/agent/context/context.js';
import { classifyVariable } from '../../src/agent/context/checks.js';
import { directoryMedium } from '../../src/agent/datasources/medium.js';
import { openExplicitSource } from '../../src/agent/datasources/contextmedium.js';
import { formatDiagnostic, validateFile, validateSource, type Diagnostic } from '../../src/agent/validate.js';
import { parseContextSh } from '../../src/formats/contextsh.js';
import { tempDir } from '../helpers/tmp.js';
import { THREE_MISTAKES } from '../helpers/validate.js';


const brief = (list: readonly Diagnostic[]): string[] => list.map((d) => `${d.line ?? '-'}:${d.col ?? '-'} ${d.severity} ${d.message}`);

async function write(dir: string, name: string, text: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

describe('vmctx validate (the checks)', () => {
  it('a context.sh with three mistakes gives exactly those three diagnostics, each with its line and column', async () => {
    const dir = await tempDir();
    const file = await write(dir, 'context.sh', THREE_MISTAKES);
    const found = await validateFile(file);
    expect(brief(found.filter((d) => d.severity !== 'info'))).toEqual([
      '4:1 warning SET_HOSTNAM: unknown variable (did you mean SET_HOSTNAME?); not applied',
      '14:5 warning USER_DATA: write_files[0]: unknown key "contnet" (did you mean "content"?); the entry has no content, so /etc/motd is not written (not even empty)',
      '20:14 error USER_DATA: cloud-config is not YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(found.every((d) => d.file === file)).toBe(true);
    expect(formatDiagnostic(found[0] as Diagnostic)).toBe(`${file}:4:1: warning: SET_HOSTNAM: unknown variable (did you mean SET_HOSTNAME?); not applied`);
  });

  it('the run\'s context warnings are the same lines and messages (one shared check)', async () => {
    const dir = await tempDir();
    const file = await write(dir, 'context.sh', THREE_MISTAKES);
    const parsed = parseContextSh(Buffer.from(THREE_MISTAKES));
    const ctx = await normaliseContext(
      { source: { kind: 'directory', path: dir, foundBy: '--source', variableFiles: ['context.sh'] }, variables: parsed.variables, lines: parsed.lines, warnings: [], medium: await directoryMedium(dir) },
      { id: 'x', source: 'context-hash' },
    );
    const fromValidate = (await validateFile(file)).filter((d) => d.severity !== 'info').map((d) => `${d.line} ${d.severity} ${d.message}`);
    expect(ctx.warnings.map((w) => `${w.line} ${w.severity ?? 'warning'} ${w.variable}: ${w.message}`)).toEqual(fromValidate);
    expect(ctx.warnings.map(formatWarning)[0]).toBe('context.sh:4: warning: SET_HOSTNAM: unknown variable (did you mean SET_HOSTNAME?); not applied');
    // the known-but-informational names are listed, never warned about
    expect(ctx.unused).toEqual([]);
  });

  it('the examples validate clean; informational names (DISK_ID, TARGET, NETWORK) are only listed', async () => {
    const file = join('examples', 'opennebula', 'context.sh');
    const found = await validateFile(file);
    expect(found.filter((d) => d.severity !== 'info')).toEqual([]);
    expect(found.map((d) => d.message.split(':')[0])).toEqual(['DISK_ID', 'NETWORK', 'TARGET']);
    expect((await validateSource(join('examples', 'opennebula'))).filter((d) => d.severity !== 'info')).toEqual([]);
  });

  it('clean user-data, meta-data and network-config (v1 and v2), and a clean NoCloud seed: nothing', async () => {
    const dir = await tempDir();
    const seed = join(dir, 'seed');
    await write(seed, 'user-data', '#cloud-config\nhostname: web\nssh_authorized_keys: [ "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+GIvFFieGcY7EgMf14ZhBsFlgjaO5o+GZqEKZc0NUV a@b" ]\nwrite_files:\n  - path: /etc/motd\n    content: hi\n');
    await write(seed, 'meta-data', 'instance-id: iid-1\nlocal-hostname: web\n');
    await write(seed, 'network-config', 'version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: "52:54:00:12:34:56"\n    addresses: [10.0.0.5/24]\n    gateway4: 10.0.0.1\n');
    const v1 = await write(dir, 'v1/network-config', 'version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: "52:54:00:12:34:56"\n    subnets:\n      - type: static\n        address: 10.0.0.5/24\n        gateway: 10.0.0.1\n  - type: nameserver\n    address: [10.0.0.2]\n');
    const problems = (list: readonly Diagnostic[]): Diagnostic[] => list.filter((d) => d.severity !== 'info');
    for (const f of ['user-data', 'meta-data', 'network-config']) expect(await validateFile(join(seed, f)), f).toEqual([]);
    expect(problems(await validateFile(v1))).toEqual([]);
    expect(await validateSource(seed)).toEqual([]);
  });

  it('user-data over the limits (decompressed-bytes budget, entry caps, YAML tokens): the run\'s warnings, each at its line, from validate FILE and --source', async () => {
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024 - 1, 0x41), { level: 9 }).toString('base64');
    let cc = '#cloud-config\nwrite_files:\n';
    for (let i = 0; i < 5; i++) cc += `  - path: /root/b${i}\n    encoding: gz+b64\n    content: ${bomb}\n`;
    cc += `runcmd:\n${'  - [echo, hi]\n'.repeat(1001)}`;
    const seed = join(await tempDir(), 'seed');
    const file = await write(seed, 'user-data', cc);
    await write(seed, 'meta-data', 'instance-id: iid-1\n');
    const lines = (list: readonly Diagnostic[]): string[] => list.filter((d) => d.severity !== 'info').map((d) => `${d.line}:${d.col} ${d.severity} ${d.message.replace(/ \(.*$/u, '')}`);
    const expected = [
      '17:5 warning write_files[4]: gz+b64 content skipped: it would inflate past what is left of the 64 MiB decompressed-bytes budget of this user data',
      '1019:5 warning runcmd: 1001 entries, over the limit of 1000; the 1 after the first 1000 are ignored',
    ];
    expect(lines(await validateFile(file))).toEqual(expected);
    expect(lines(await validateSource(seed))).toEqual(expected);
    const tokens = await write(seed, 'user-data', gzipSync(`#cloud-config\nruncmd:\n${'- [a]\n'.repeat(175_000)}`));
    expect(lines(await validateFile(tokens))).toEqual(['1:1 error cloud-config has over 100000 YAML tokens, the limit for one document; refused']);
  });

  it('meta-data and network-config: typos with a did-you-mean and unsupported parts, at their lines', async () => {
    const dir = await tempDir();
    const meta = await write(dir, 'meta-data', 'instance-id: iid-1\nlocal-hostnme: web\n');
    const net = await write(dir, 'network-config', 'version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: "52:54:00:12:34:56"\n    gateway44: 10.0.0.1\nwifis: {}\n');
    const broken = await write(dir, 'x/meta-data', 'instance-id: [\n');
    expect(brief(await validateFile(meta))).toEqual(['2:1 warning unknown key "local-hostnme" (did you mean "local-hostname"?); ignored']);
    expect(brief(await validateFile(net))).toEqual([
      // the network mapper's own notes (the run's): each key at its line
      '6:- warning unknown: ethernets.nic0.gateway44: unknown key "gateway44" (did you mean "gateway4"?); not applied',
      '7:- warning not supported: wifis: wifis are not supported: vmctx configures ethernets, bonds, bridges and VLANs',
    ]);
    const b = await validateFile(broken);
    expect(b).toHaveLength(1);
    expect(b[0]).toMatchObject({ severity: 'error', line: 2 });
  });

  it('a NoCloud seed with typos: validate --source and the run\'s reading of the seed give the same warnings at the same lines', async () => {
    const dir = await tempDir();
    const seed = join(dir, 'seed');
    await write(seed, 'meta-data', 'instance-id: iid-1\nlocal-hostnme: web\n');
    await write(seed, 'user-data', '#cloud-config\nssh_authorised_keys: [a]\n');
    await write(seed, 'network-config', 'version: 2\nethernets:\n  nic0:\n    match:\n      macaddress: "52:54:00:12:34:56"\n    dhcp4: true\nwifis: {}\n');
    const found = await validateSource(seed);
    expect(found.map((d) => `${d.file.slice(seed.length + 1)}:${d.line}:${d.col} ${d.severity} ${d.message}`)).toEqual([
      'meta-data:2:1 warning unknown key "local-hostnme" (did you mean "local-hostname"?); ignored',
      'network-config:7:undefined warning not supported: wifis: wifis are not supported: vmctx configures ethernets, bonds, bridges and VLANs',
      'user-data:2:1 warning unknown cloud-config key "ssh_authorised_keys" (did you mean "ssh_authorized_keys"?); ignored',
    ]);
    const opened = await openExplicitSource(seed);
    const ctx = await normaliseContext(opened.raw, { id: 'x', source: 'context-hash' });
    // (a network note's place is its note's: the message names it, "KEY (file:line)")
    expect(ctx.warnings.map((w) => `${w.network?.file ?? w.file}:${w.network?.line ?? w.line}:${w.col} ${w.message}`).sort()).toEqual([
      'meta-data:2:1 unknown key "local-hostnme" (did you mean "local-hostname"?); ignored',
      'network-config:7:undefined not supported: wifis (network-config:7): wifis are not supported: vmctx configures ethernets, bonds, bridges and VLANs',
      'user-data:2:1 unknown cloud-config key "ssh_authorised_keys" (did you mean "ssh_authorized_keys"?); ignored',
    ]);
  });

  it('an OpenStack config drive: a typo in meta_data.json is a warning at its line, from validate and from the run\'s reader', async () => {
    const dir = await tempDir();
    const drive = join(dir, 'drive');
    await write(drive, 'openstack/latest/meta_data.json', '{\n  "uuid": "0b1c2d3e",\n  "hostnme": "web",\n  "launch_index": 0\n}\n');
    const found = await validateSource(drive);
    // launch_index is carried by OpenStack and not used: listed (info), no warning
    expect(brief(found)).toEqual(['3:3 warning unknown key "hostnme" (did you mean "hostname"?); ignored', '4:3 info key "launch_index" is not used by vmctx']);
    expect(found[0]?.file).toBe(`${drive}/openstack/latest/meta_data.json`);
    const opened = await openExplicitSource(drive);
    const ctx = await normaliseContext(opened.raw, { id: 'x', source: 'context-hash' });
    expect(ctx.warnings.map(formatWarning)).toEqual(['openstack/latest/meta_data.json:3:3: warning: unknown key "hostnme" (did you mean "hostname"?); ignored']);
  });

  it("network_data.json and meta-data's network keys: the network mapper's notes at their lines, from validate and (the applied one) from the run", async () => {
    const dir = await tempDir();
    const drive = join(dir, 'drive');
    await write(drive, 'openstack/latest/meta_data.json', '{"uuid": "0b1c2d3e"}\n');
    await write(drive, 'openstack/latest/network_data.json', '{\n  "links": [{"id": "l0", "type": "phy", "ethernet_mac_address": "52:54:00:00:00:01", "mtuu": 1}],\n  "networks": [{"id": "n0", "link": "l0", "type": "ipv4_dhcp", "network_id": "x"}]\n}\n');
    const file = join(drive, 'openstack/latest/network_data.json');
    // the id with nothing to apply is info; the typo a warning at its line
    expect(brief(await validateFile(file))).toEqual([
      expect.stringMatching(/^2:- warning unknown: links\[0\]\.mtuu: unknown key "mtuu"/u),
      '3:- info unused: networks[0].id: the network id; nothing to apply',
      "3:- info unused: networks[0].network_id: the Neutron network's id; nothing to apply",
    ]);
    // validate --source: the same note once (the file's check and the run's warning agree)
    expect(brief(await validateSource(drive)).filter((l) => l.includes('mtuu'))).toHaveLength(1);

    const meta = await write(dir, 'seed/meta-data', 'instance-id: i-1\nnetwork-interfaces: |\n  auto eth0\n  iface eth0 inet dhcp\n    hwadress 52:54:00:00:00:01\nnetwork-config:\n  version: 2\n  ethernets: {eth0: {dhcp4: true, dhcp44: true}}\n');
    expect(brief(await validateFile(meta))).toEqual([
      '5:- warning unknown: network-interfaces: hwadress: unknown option "hwadress"; not applied',
      expect.stringMatching(/^8:- warning unknown: network-config\.ethernets\.eth0\.dhcp44: unknown key "dhcp44"/u),
    ]);
  });

  it('a context.sh a shell would run a command from is one error at its line', async () => {
    const dir = await tempDir();
    const file = await write(dir, 'context.sh', "A='1'\nB=2; reboot\n");
    const found = await validateFile(file);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'error', line: 2 });
  });

  it('variable names: a typo of a NIC variable keeps its index; informational, unsupported and the scripts\' own names', () => {
    expect(classifyVariable('ETH3_GATEWY')).toEqual({ kind: 'unknown', guess: 'ETH3_GATEWAY' });
    expect(classifyVariable('ETH0_ALIAS1_MSK')).toEqual({ kind: 'unknown', guess: 'ETH0_ALIAS1_MASK' });
    expect(classifyVariable('ETHO_IP')).toEqual({ kind: 'unknown', guess: 'ETH0_IP' });
    expect(classifyVariable('PASWORD')).toEqual({ kind: 'unknown', guess: 'PASSWORD' });
    expect(classifyVariable('MYAPP_DB_URL')).toEqual({ kind: 'unknown' });
    expect(classifyVariable('ETH0_NETWORK')).toEqual({ kind: 'informational' });
    expect(classifyVariable('DNS_HOSTNAME')).toEqual({ kind: 'unsupported' });
    expect(classifyVariable('ETH12_IP6_METHOD')).toEqual({ kind: 'applied' });
  });

  // ARCHITECTURE "Fidelity": every variable the reference documents is applied, informational or reported
  it('every variable named in the context-variables reference is known (applied, informational or not supported)', async () => {
    const text = await readFile('/work/shared/reference/context-variables.md', 'utf8').catch(() => undefined);
    const names = new Set<string>();
    const section = (text ?? '').split(/^## /mu).filter((s) => /^(3|4)\./u.test(s)).join('\n');
    for (const m of section.matchAll(/`([A-Z][A-Za-z0-9_]*)`/gu)) {
      const name = (m[1] ?? '').replace(/^ETHx_ALIASy_/u, 'ETH0_ALIAS0_').replace(/^ETHx_/u, 'ETH0_');
      // (values quoted in the text, such as `YES`, are not names)
      if (/^[A-Z][A-Z0-9_]*$/u.test(name) && name !== 'YES') names.add(name);
    }
    // aliases are written as bare suffixes after ETHx_ALIASy_IP
    for (const suffix of ['MASK', 'IP6', 'IP6_ULA', 'IP6_PREFIX_LENGTH', 'EXTERNAL', 'DETACH']) names.add(`ETH0_ALIAS0_${suffix}`);
    expect(names.size).toBeGreaterThan(60);
    const unknown = [...names].filter((n) => classifyVariable(n).kind === 'unknown');
    expect(unknown).toEqual([]);
  });
});
