// authorized_keys line checks (formats/sshkeys.ts): options, a known type, base64 whose blob
// names the same type, a comment; and one-key metadata entries.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkAuthorizedKey, singleKeyEntry, type KeyCheck } from '../../src/formats/sshkeys.js';

/** The base64 of a key blob: a length-prefixed type name and some key material. */
function blob(type: string, material = randomBytes(32)): string {
  const name = Buffer.from(type, 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  const mlen = Buffer.alloc(4);
  mlen.writeUInt32BE(material.length);
  return Buffer.concat([len, name, mlen, material]).toString('base64');
}

const ED = blob('ssh-ed25519');
const RSA = blob('ssh-rsa', randomBytes(256));

function ok(check: KeyCheck): { line: string; type: string } {
  if (!check.ok) throw new Error(`refused: ${check.reason}`);
  return { line: check.line, type: check.type };
}

function reason(check: KeyCheck): string {
  if (check.ok) throw new Error(`accepted: ${check.line}`);
  return check.reason;
}

describe('checkAuthorizedKey: accepted lines', () => {
  it('type, key and comment', () => {
    expect(ok(checkAuthorizedKey(`ssh-ed25519 ${ED} alice@laptop`))).toEqual({ line: `ssh-ed25519 ${ED} alice@laptop`, type: 'ssh-ed25519' });
  });

  it('no comment', () => {
    expect(ok(checkAuthorizedKey(`ssh-rsa ${RSA}`))).toEqual({ line: `ssh-rsa ${RSA}`, type: 'ssh-rsa' });
  });

  it('every key type OpenSSH writes, certificates and security keys included', () => {
    for (const type of ['ssh-rsa', 'ssh-dss', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com', 'ssh-ed25519-cert-v01@openssh.com', 'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ssh-rsa-cert-v01@openssh.com']) {
      expect(ok(checkAuthorizedKey(`${type} ${blob(type)} c`)).type, type).toBe(type);
    }
  });

  it('CRLF, trailing and leading spaces, tabs: trimmed, fields joined by one space', () => {
    expect(ok(checkAuthorizedKey(`ssh-ed25519 ${ED} alice\r`)).line).toBe(`ssh-ed25519 ${ED} alice`);
    expect(ok(checkAuthorizedKey(`   ssh-ed25519 ${ED} alice   `)).line).toBe(`ssh-ed25519 ${ED} alice`);
    expect(ok(checkAuthorizedKey(`ssh-ed25519\t${ED}\t\talice`)).line).toBe(`ssh-ed25519 ${ED} alice`);
  });

  it('a comment with spaces and unicode is kept (runs of blanks become one space)', () => {
    expect(ok(checkAuthorizedKey(`ssh-ed25519 ${ED} Zoë's   key 🔑 (work)`)).line).toBe(`ssh-ed25519 ${ED} Zoë's key 🔑 (work)`);
  });

  it('options before the type are kept as written', () => {
    const opts = 'no-port-forwarding,no-agent-forwarding,from="10.0.0.0/8,192.0.2.1"';
    expect(ok(checkAuthorizedKey(`${opts} ssh-ed25519 ${ED} alice`))).toEqual({ line: `${opts} ssh-ed25519 ${ED} alice`, type: 'ssh-ed25519' });
  });

  it('quoted options may hold spaces, tabs, escaped quotes and a key type name', () => {
    const opts = 'command="echo \\"hello  world\\"; ssh-rsa\tx",no-pty';
    expect(ok(checkAuthorizedKey(`${opts} ssh-ed25519 ${ED}`)).line).toBe(`${opts} ssh-ed25519 ${ED}`);
    const env = 'environment="PATH=/usr/bin ssh-ed25519"';
    expect(ok(checkAuthorizedKey(`${env} ssh-ed25519 ${ED} c`)).line).toBe(`${env} ssh-ed25519 ${ED} c`);
  });

  it('restrict and cert-authority style single options', () => {
    expect(ok(checkAuthorizedKey(`restrict ssh-ed25519 ${ED}`)).line).toBe(`restrict ssh-ed25519 ${ED}`);
    expect(ok(checkAuthorizedKey(`cert-authority,principals="alice,bob" ssh-rsa ${RSA} ca`)).type).toBe('ssh-rsa');
  });

  it('a line just under the 16 KiB limit (a long comment) is accepted', () => {
    const base = `ssh-ed25519 ${ED} `;
    const line = base + 'c'.repeat(16384 - base.length);
    expect(line.length).toBe(16384);
    expect(ok(checkAuthorizedKey(line)).line).toBe(line);
  });

  it('the same key twice gives the same normalised line (callers deduplicate on it)', () => {
    expect(ok(checkAuthorizedKey(`ssh-ed25519  ${ED}  alice `)).line).toBe(ok(checkAuthorizedKey(`ssh-ed25519 ${ED} alice`)).line);
  });
});

describe('checkAuthorizedKey: refused lines, with a reason', () => {
  it('empty and blank', () => {
    expect(reason(checkAuthorizedKey(''))).toBe('empty');
    expect(reason(checkAuthorizedKey(' \t\r\n '))).toBe('empty');
  });

  it('control characters inside the line (two keys glued by a CR, a NUL)', () => {
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${ED} a\rssh-ed25519 ${ED} b`))).toMatch(/control characters/u);
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${ED} a\nssh-ed25519 ${ED} b`))).toMatch(/control characters/u);
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${ED}\0`))).toMatch(/control characters/u);
  });

  it('longer than 16 KiB', () => {
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${ED} ${'c'.repeat(16384)}`))).toMatch(/16 KiB/u);
  });

  it('no known key type: a private key, a comment, prose, a fingerprint, an unknown or upper-case type', () => {
    expect(reason(checkAuthorizedKey('-----BEGIN OPENSSH PRIVATE KEY-----'))).toMatch(/not a public key line/u);
    expect(reason(checkAuthorizedKey('hello world'))).toMatch(/not a public key line/u);
    expect(reason(checkAuthorizedKey('SHA256:abcdefghijklmnop alice'))).toMatch(/not a public key line/u);
    expect(reason(checkAuthorizedKey(`ssh-foo ${blob('ssh-foo')}`))).toMatch(/not a public key line/u);
    expect(reason(checkAuthorizedKey(`SSH-ED25519 ${ED}`))).toMatch(/not a public key line/u);
  });

  it('a commented-out key is a comment, not a key (else it was "installed" as a line sshd ignores)', () => {
    expect(reason(checkAuthorizedKey(`# ssh-ed25519 ${ED} old`))).toMatch(/comment/u);
    expect(reason(checkAuthorizedKey(`#ssh-ed25519 ${ED}`))).toMatch(/comment/u);
    expect(reason(checkAuthorizedKey('  # a note'))).toMatch(/comment/u);
  });

  it('the reason quotes at most 40 characters of the line', () => {
    const r = reason(checkAuthorizedKey(`x${'y'.repeat(100)}`));
    expect(r).toContain(`"x${'y'.repeat(39)}…"`);
    expect(r).not.toContain('y'.repeat(40));
  });

  it('an unterminated quote in the options', () => {
    expect(reason(checkAuthorizedKey(`command="echo hi ssh-ed25519 ${ED}`))).toMatch(/unterminated quote/u);
  });

  it('options only, or a type without key data', () => {
    expect(reason(checkAuthorizedKey('no-pty'))).toMatch(/not a public key line/u);
    expect(reason(checkAuthorizedKey('ssh-ed25519'))).toMatch(/not base64/u);
    expect(reason(checkAuthorizedKey('no-pty ssh-ed25519'))).toMatch(/not base64/u);
  });

  it('key data that is not base64: missing padding, URL-safe alphabet, a line break inside (wrapped by a mailer)', () => {
    expect(RSA).toMatch(/==$/u);
    expect(reason(checkAuthorizedKey(`ssh-rsa ${RSA.replace(/=+$/u, '')} c`))).toMatch(/not base64/u);
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${ED.replace(/\+/gu, '-').replace(/\//gu, '_')}x c`))).toMatch(/not base64/u);
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${ED.slice(0, 20)}\\${ED.slice(20)}`))).toMatch(/not base64/u);
    expect(reason(checkAuthorizedKey('ssh-ed25519 ****'))).toMatch(/not base64/u);
  });

  it('key data too short to name a type', () => {
    expect(reason(checkAuthorizedKey('ssh-ed25519 AAA='))).toMatch(/too short/u);
  });

  it('key data of another type than the line says (a pasted ed25519 key labelled ssh-rsa)', () => {
    expect(reason(checkAuthorizedKey(`ssh-rsa ${ED} c`))).toBe('key data does not hold a ssh-rsa key');
  });

  it('a blob whose name length points past its end, or whose name is a prefix of the type', () => {
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(0xffffffff);
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${huge.toString('base64')}`))).toMatch(/does not hold a ssh-ed25519 key/u);
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${blob('ssh-ed')}`))).toMatch(/does not hold a ssh-ed25519 key/u);
    expect(reason(checkAuthorizedKey(`ssh-ed25519 ${blob('ssh-ed25519x')}`))).toMatch(/does not hold a ssh-ed25519 key/u);
  });
});

describe('singleKeyEntry', () => {
  it('one key: the line, nothing dropped', () => {
    expect(singleKeyEntry(`ssh-ed25519 ${ED} a`)).toEqual({ line: `ssh-ed25519 ${ED} a`, dropped: 0 });
  });

  it('blank lines and spaces around it are dropped silently (LF, CRLF and lone CR)', () => {
    expect(singleKeyEntry(`\n\n  ssh-ed25519 ${ED} a  \r\n\r\n`)).toEqual({ line: `ssh-ed25519 ${ED} a`, dropped: 0 });
    expect(singleKeyEntry(`\rssh-ed25519 ${ED} a\r`)).toEqual({ line: `ssh-ed25519 ${ED} a`, dropped: 0 });
  });

  it('a second (or third) line is not kept; the count says how many went', () => {
    expect(singleKeyEntry(`ssh-ed25519 ${ED} a\r\nssh-rsa ${RSA} b\nssh-rsa ${RSA} c`)).toEqual({ line: `ssh-ed25519 ${ED} a`, dropped: 2 });
  });

  it('empty or blank: no line', () => {
    expect(singleKeyEntry('')).toEqual({ line: undefined, dropped: 0 });
    expect(singleKeyEntry(' \n\t\r\n')).toEqual({ line: undefined, dropped: 0 });
  });

  it('does not check the key (the caller does): any first line is returned', () => {
    expect(singleKeyEntry('not a key\nssh-ed25519 AAAA')).toEqual({ line: 'not a key', dropped: 1 });
  });
});
