// The user and first-boot password parts of the Context: USERNAME and its settings, and the
// password variables in priority order, validated; secrets travel as Secret objects.
import { decodeStrictBase64 } from '../../formats/base64.js';
import { isCryptField } from '../../formats/crypt.js';
import { scryptSync } from 'node:crypto';
import { Secret } from '../../shared/secret.js';
import type { ContextWarning, PasswordSource, PasswordSpec, UserSpec } from './types.js';

export type { PasswordSource, PasswordSpec, UserSpec } from './types.js';


const NAME = /^[a-z_][a-z0-9_-]{0,31}$/u;
const SHELL = /^\/[A-Za-z0-9._/-]{1,255}$/u;
const yes = (v: string | undefined): boolean => /^(yes|true|1)$/iu.test((v ?? '').trim());
const no = (v: string | undefined): boolean => /^(no|false|0)$/iu.test((v ?? '').trim());

export function userFromContext(v: Readonly<Record<string, string>>, warnings: ContextWarning[]): UserSpec {
  const raw = (v['USERNAME'] ?? '').trim();
  let name = 'root';
  if (raw !== '') {
    if (NAME.test(raw)) name = raw;
    else warnings.push({ variable: 'USERNAME', message: `${JSON.stringify(raw.slice(0, 40))} is not a valid user name (lower-case letters, digits, _ and -, at most 32); using root` });
  }
  const shellRaw = (v['USERNAME_SHELL'] ?? '').trim();
  let shell: string | undefined;
  if (shellRaw !== '') {
    if (SHELL.test(shellRaw) && !shellRaw.includes('..')) shell = shellRaw;
    else warnings.push({ variable: 'USERNAME_SHELL', message: `${JSON.stringify(shellRaw.slice(0, 40))} is not an absolute path to a shell; ignored` });
  }
  const sudoRaw = v['USERNAME_SUDO'] ?? v['GRANT_SUDO'];
  const sudo = yes(sudoRaw) ? true : no(sudoRaw) ? false : undefined;
  return { name, shell, sudo, lockPassword: yes(v['USERNAME_PASSWORD_RESET']), expirePassword: yes(v['USERNAME_PASSWORD_EXPIRE']) };
}

/** The first usable password variable, highest priority first; unusable ones are reported and skipped. */
export function passwordFromContext(v: Readonly<Record<string, string>>, warnings: ContextWarning[]): PasswordSpec | undefined {
  const order: Array<{ source: PasswordSource; kind: 'plain' | 'hash'; base64: boolean }> = [
    { source: 'CRYPTED_PASSWORD_BASE64', kind: 'hash', base64: true },
    { source: 'PASSWORD_BASE64', kind: 'plain', base64: true },
    { source: 'CRYPTED_PASSWORD', kind: 'hash', base64: false },
    { source: 'PASSWORD', kind: 'plain', base64: false },
  ];
  for (const o of order) {
    const raw = v[o.source];
    if (raw === undefined || raw === '') continue;
    let value = raw;
    if (o.base64) {
      const decoded = decodeStrictBase64(raw);
      if (decoded === undefined) {
        warnings.push({ variable: o.source, message: 'is not valid base64; skipped' });
        continue;
      }
      value = decoded.toString('utf8');
      if (!Buffer.from(value, 'utf8').equals(decoded)) {
        warnings.push({ variable: o.source, message: 'does not decode to UTF-8 text; skipped' });
        continue;
      }
    }
    if (o.kind === 'hash') value = value.trim();
    if (value === '') continue;
    if (/[\r\n\0]/u.test(value)) {
      warnings.push({ variable: o.source, message: 'contains a line break or NUL, which no password tool can take; skipped' });
      continue;
    }
    if (o.kind === 'hash' && !isCryptField(value)) {
      warnings.push({ variable: o.source, message: 'is not a crypt(5) password hash ($6$…, $y$…) or lock marker; skipped' });
      continue;
    }
    return { kind: o.kind, secret: new Secret(value), source: o.source };
  }
  return undefined;
}

/**
 * A fingerprint of a secret for the on-change state: salted with the instance and not a fast hash
 * (scrypt, kept cheap — 1 MiB, ~2 ms — because it is computed on every run; the state file is
 * root-only, like /etc/shadow itself).
 */
export function secretFingerprint(secret: Secret, salt: string): string {
  return scryptSync(secret.reveal(), `vmctx:${salt}`, 24, { N: 1024, r: 8, p: 1 }).toString('base64');
}
