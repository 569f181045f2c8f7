// cloud-config's hostname, /etc/hosts, SSH host key and time zone keys: each read with cloud-init's
// meaning, each unusable value named at its line; private keys checked and never quoted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkCloudConfig } from '../../src/formats/cloudconfig.js';
import { privateKeyProblem, publicKeyOf } from '../../src/formats/cc/system.js';
import { tempDir } from '../helpers/tmp.js';

const located = (text: string): string[] => checkCloudConfig(text).issues.map((i) => `${i.line ?? '?'}:${i.col ?? '?'} ${i.message}`);
const config = (text: string) => {
  const c = checkCloudConfig(text).config;
  if (c === undefined) throw new Error('no config');
  return c;
};
/** A YAML block scalar of `text`, indented for a key at `indent` spaces. */
const block = (text: string, indent: number): string => `|\n${text.trim().split('\n').map((l) => `${' '.repeat(indent + 2)}${l}`).join('\n')}`;

const keys: Record<string, { priv: string; pub: string }> = {};
beforeAll(async () => {
  const dir = await tempDir();
  const make = (name: string, args: string[]): void => {
    execFileSync('ssh-keygen', ['-q', '-N', '', '-C', 'test', '-f', join(dir, name), ...args]);
    keys[name] = { priv: readFileSync(join(dir, name), 'utf8'), pub: readFileSync(join(dir, `${name}.pub`), 'utf8').trim() };
  };
  make('rsa', ['-t', 'rsa', '-b', '1024']);
  make('rsa_pem', ['-t', 'rsa', '-b', '1024', '-m', 'PEM']);
  make('ecdsa', ['-t', 'ecdsa']);
  make('ecdsa_pem', ['-t', 'ecdsa', '-m', 'PEM']);
  make('ecdsa_p8', ['-t', 'ecdsa', '-m', 'PKCS8']);
  make('ed25519', ['-t', 'ed25519']);
  execFileSync('ssh-keygen', ['-q', '-N', 'secret-pass', '-t', 'ed25519', '-f', join(dir, 'locked')]);
  keys['locked'] = { priv: readFileSync(join(dir, 'locked'), 'utf8'), pub: '' };
});

describe('private host keys', () => {
  it('takes OpenSSH and PEM (PKCS#1, SEC1, PKCS#8) keys of the named type and derives their public key as ssh-keygen does', () => {
    for (const [name, type] of [['rsa', 'rsa'], ['rsa_pem', 'rsa'], ['ecdsa', 'ecdsa'], ['ecdsa_pem', 'ecdsa'], ['ecdsa_p8', 'ecdsa'], ['ed25519', 'ed25519']] as const) {
      const k = keys[name];
      if (k === undefined) throw new Error(name);
      expect([name, privateKeyProblem(type, k.priv)]).toEqual([name, undefined]);
      expect([name, publicKeyOf(k.priv)]).toEqual([name, k.pub.split(' ').slice(0, 2).join(' ')]);
    }
  });

  it('refuses other text, a key of another type and a key with a passphrase, never quoting the key', () => {
    const rsa = keys['rsa']?.priv ?? '';
    expect(privateKeyProblem('ed25519', rsa)).toBe('holds a "ssh-rsa" key, not an ed25519 key');
    expect(privateKeyProblem('ecdsa', keys['rsa_pem']?.priv ?? '')).toBe('holds a rsa key, not an ecdsa key');
    expect(privateKeyProblem('ed25519', keys['locked']?.priv ?? '')).toBe('is encrypted with a passphrase, which sshd cannot give');
    expect(privateKeyProblem('rsa', keys['rsa']?.pub ?? '')).toMatch(/^is not a PEM or OpenSSH private key/u);
    expect(privateKeyProblem('rsa', '-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all!\n-----END RSA PRIVATE KEY-----')).toBe('is not a readable PEM private key');
    expect(privateKeyProblem('rsa', '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----')).toBe('is not an OpenSSH private key (no openssh-key-v1 header)');
    const truncated = rsa.split('\n').slice(0, 3).join('\n').concat('\n-----END OPENSSH PRIVATE KEY-----');
    expect(privateKeyProblem('rsa', truncated)).toMatch(/truncated|not base64/u);
  });
});

describe('cloud-config ssh_keys, ssh_deletekeys, ssh_genkeytypes', () => {
  it("cloud-init's documented example shape: keys per type, a certificate, deletekeys, genkeytypes", () => {
    const rsa = keys['rsa'];
    if (rsa === undefined) throw new Error('rsa');
    const cert = `ssh-rsa-cert-v01@openssh.com ${Buffer.concat([Buffer.from([0, 0, 0, 28]), Buffer.from('ssh-rsa-cert-v01@openssh.com'), Buffer.alloc(8)]).toString('base64')} host-cert`;
    const text = `#cloud-config
ssh_deletekeys: true
ssh_genkeytypes: [rsa, ecdsa, ed25519]
ssh_keys:
  rsa_private: ${block(rsa.priv, 2)}
  rsa_public: ${rsa.pub}
  rsa_certificate: ${cert}
`;
    const c = config(text);
    expect(located(text)).toEqual([]);
    expect(c.sshDeleteKeys).toBe(true);
    expect(c.sshGenKeyTypes).toEqual(['rsa', 'ecdsa', 'ed25519']);
    expect(c.hostKeys?.map((k) => [k.type, k.part, k.value.reveal()])).toEqual([['rsa', 'private', rsa.priv], ['rsa', 'public', `${rsa.pub}\n`], ['rsa', 'certificate', `${cert}\n`]]);
  });

  it('names every unusable entry at its line: a non-key private value, a wrong type, a mismatched public key, unknown names, a lone public key', () => {
    const ed = keys['ed25519'];
    const ec = keys['ecdsa'];
    if (ed === undefined || ec === undefined) throw new Error('keys');
    const text = `#cloud-config
ssh_keys:
  rsa_private: "hunter2-not-a-key"
  ed25519_private: ${block(ed.priv, 2)}
  ed25519_public: ${ec.pub}
  ecdsa_private: ${block(ed.priv, 2)}
  dsa_private: x
  ed25519-sk_public: x
  rsa_pub: x
  rsa_public: ${keys['rsa']?.pub ?? ''}
ssh_deletekeys: maybe
ssh_genkeytypes: [ed25519, dsa, 7]
`;
    const issues = located(text);
    const edLines = ed.priv.trim().split('\n').length;
    const ecdsaLine = 6 + edLines;
    expect(issues).toEqual([
      '3:3 ssh_keys.rsa_private is not a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY----- … -----END … PRIVATE KEY-----); refused (the rsa host key is not written from ssh_keys)',
      `${5 + edLines}:3 ssh_keys.ed25519_public holds a key of type ecdsa-sha2-nistp256, not an ed25519 public key; refused (the ed25519 host key is not written from ssh_keys)`,
      `${ecdsaLine}:3 ssh_keys.ecdsa_private holds a "ssh-ed25519" key, not an ecdsa key; refused (the ecdsa host key is not written from ssh_keys)`,
      `${ecdsaLine + edLines + 1}:3 ssh_keys: "dsa_private" is a key type cloud-init and vmctx do not take (rsa, ecdsa, ed25519); ignored`,
      `${ecdsaLine + edLines + 2}:3 ssh_keys: "ed25519-sk_public" is a key type cloud-init and vmctx do not take (rsa, ecdsa, ed25519); ignored`,
      `${ecdsaLine + edLines + 3}:3 ssh_keys: "rsa_pub" is not <rsa|ecdsa|ed25519>_<private|public|certificate>; ignored`,
      `${ecdsaLine + edLines + 4}:3 ssh_keys.rsa_public: no usable rsa_private with it; ignored`,
      `${ecdsaLine + edLines + 5}:1 ssh_deletekeys: "maybe" is not true or false; ignored`,
      `${ecdsaLine + edLines + 6}:28 ssh_genkeytypes[1]: "dsa" is not a key type vmctx generates (rsa, ecdsa, ed25519); skipped`,
      `${ecdsaLine + edLines + 6}:33 ssh_genkeytypes[2]: 7 is not a key type vmctx generates (rsa, ecdsa, ed25519); skipped`,
    ]);
    // the private key's text is in no message
    for (const secret of [ed.priv.split('\n')[1] ?? 'x', 'hunter2']) expect(issues.join('\n')).not.toContain(secret);
    const c = config(text);
    expect(c.hostKeys?.map((k) => `${k.type}_${k.part}`)).toEqual(['ed25519_private']);
    // the parsed config prints and serialises without the key
    expect(JSON.stringify(c)).not.toContain(ed.priv.split('\n')[1] ?? '-');
    expect([c.sshDeleteKeys, c.sshGenKeyTypes]).toEqual([undefined, ['ed25519']]);
  });
});

describe('cloud-config hostname, fqdn, manage_etc_hosts, booleans, timezone', () => {
  it("cloud-init's documented examples read without an issue", () => {
    for (const text of [
      '#cloud-config\npreserve_hostname: true\n',
      '#cloud-config\nhostname: myhost\ncreate_hostname_file: true\nfqdn: myhost.example.com\nprefer_fqdn_over_hostname: true\n',
      '#cloud-config\ncreate_hostname_file: false\n',
      '#cloud-config\nmanage_etc_hosts: false\n',
      '#cloud-config\nmanage_etc_hosts: true\n',
      '#cloud-config\nmanage_etc_hosts: localhost\n',
      '#cloud-config\nprefer_fqdn_over_hostname: false\n',
      '#cloud-config\ntimezone: America/New_York\n',
      '#cloud-config\nssh_deletekeys: true\nssh_genkeytypes: [rsa, ecdsa, ed25519]\n',
    ]) expect([text, located(text)]).toEqual([text, []]);
    const c = config('#cloud-config\nhostname: myhost\ncreate_hostname_file: true\nfqdn: myhost.example.com\nprefer_fqdn_over_hostname: true\nmanage_etc_hosts: localhost\ntimezone: America/New_York\n');
    expect([c.hostname, c.fqdn, c.createHostnameFile, c.preferFqdnOverHostname, c.preserveHostname, c.manageEtcHosts, c.timezone]).toEqual(['myhost', 'myhost.example.com', true, true, undefined, 'localhost', 'America/New_York']);
    expect(config('#cloud-config\nmanage_etc_hosts: true\n').manageEtcHosts).toBe('template');
    expect(config('#cloud-config\nmanage_etc_hosts: false\n').manageEtcHosts).toBe(false);
    // YAML 1.1 spellings, as cloud-init's parser reads them
    expect(config('#cloud-config\npreserve_hostname: yes\nssh_deletekeys: off\n')).toMatchObject({ preserveHostname: true, sshDeleteKeys: false });
  });

  it('names each bad value at its line: not a name, not a boolean, an unknown manage_etc_hosts, the old "template", a zone that is no name', () => {
    const text = `#cloud-config
hostname: [a, b]
fqdn: "web_1.example.com."
preserve_hostname: sometimes
create_hostname_file: 0
manage_etc_hosts: always
timezone: ../../etc/shadow
`;
    expect(located(text)).toEqual([
      '2:1 hostname: a list is not a host name; ignored',
      '3:1 fqdn: "web_1.example.com." is not a valid host name; "web-1.example.com" is used',
      '4:1 preserve_hostname: "sometimes" is not true or false; ignored',
      '5:1 create_hostname_file: 0 is not true or false; ignored',
      '6:1 manage_etc_hosts: "always" is not true, false or "localhost"; ignored',
      '7:1 timezone: "../../etc/shadow" is not a zone name like Europe/Madrid; ignored',
    ]);
    const c = config(text);
    expect([c.hostname, c.fqdn, c.preserveHostname, c.createHostnameFile, c.manageEtcHosts, c.timezone]).toEqual([undefined, 'web-1.example.com', undefined, undefined, undefined, undefined]);
    expect(located('#cloud-config\nmanage_etc_hosts: template\n')).toEqual(['2:1 manage_etc_hosts: "template" is the old spelling of true (cloud-init deprecated it); /etc/hosts is rewritten']);
    expect(located('#cloud-config\nhostname: "$()`;"\n')).toEqual(['2:1 hostname: "$()`;" has no usable characters for a host name; ignored']);
  });

  it('these keys are applied, no longer "not supported"', () => {
    const text = '#cloud-config\nssh_keys: {}\nssh_deletekeys: false\nssh_genkeytypes: [ed25519]\nmanage_etc_hosts: localhost\ncreate_hostname_file: true\nprefer_fqdn_over_hostname: false\npreserve_hostname: false\ntimezone: UTC\n';
    expect(located(text)).toEqual([]);
  });
});
