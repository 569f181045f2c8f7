// crypt(5) password hashes: the one place that says whether a string is a hash, a lock marker or
// plain text. Every caller (context passwords, cloud-config users/chpasswd, /etc/shadow) uses it.

/** The hashing methods of crypt(5) (libxcrypt) this codec recognises. */
export type CryptMethod =
  | 'yescrypt'
  | 'gost-yescrypt'
  | 'scrypt'
  | 'bcrypt'
  | 'sha512crypt'
  | 'sha256crypt'
  | 'sha1crypt'
  | 'sunmd5'
  | 'md5crypt'
  | 'nt'
  | 'bsdicrypt'
  | 'descrypt';

export interface CryptHash {
  readonly method: CryptMethod;
  /** `!` before the hash (passwd -l / usermod -L): the hash is kept but cannot be used. */
  readonly locked: boolean;
}

/** A shadow password field: a hash, a bare lock marker, or neither. */
export type CryptField = ({ readonly kind: 'hash' } & CryptHash) | { readonly kind: 'locked' };

/** How a field that may hold either a password or a hash (cloud-config `chpasswd`) is to be read. */
export type PasswordValue =
  | { readonly kind: 'hash'; readonly method: CryptMethod | undefined; readonly locked: boolean }
  | { readonly kind: 'plain' }
  | { readonly kind: 'invalid'; readonly reason: string };

const B64 = '[./0-9A-Za-z]';
/**
 * A salt character of $1$/$5$/$6$: crypt(5) says anything but "$", ":" and a newline; libxcrypt
 * 4.4 itself refuses (gives "*0" for) spaces, controls, non-ASCII and any of ! * ; \ too.
 */
const SALT = '[\\x22\\x23\\x25-\\x29\\x2b-\\x39\\x3c-\\x5b\\x5d-\\x7e]';

/**
 * The formats of crypt(5) (libxcrypt 4.4), with the prefix that names each. Ordered so that a
 * longer prefix comes before a shorter one it starts with.
 */
const METHODS: ReadonlyArray<{ method: CryptMethod; prefix: string; format: RegExp }> = [
  { method: 'yescrypt', prefix: '$y$', format: new RegExp(`^\\$y\\$${B64}+\\$${B64}{0,86}\\$${B64}{43}$`, 'u') },
  { method: 'gost-yescrypt', prefix: '$gy$', format: new RegExp(`^\\$gy\\$${B64}+\\$${B64}{0,86}\\$${B64}{43}$`, 'u') },
  { method: 'scrypt', prefix: '$7$', format: new RegExp(`^\\$7\\$${B64}{11,97}\\$${B64}{43}$`, 'u') },
  { method: 'bcrypt', prefix: '$2', format: new RegExp(`^\\$2[abxy]\\$[0-9]{2}\\$${B64}{53}$`, 'u') },
  { method: 'sha512crypt', prefix: '$6$', format: new RegExp(`^\\$6\\$(rounds=[1-9][0-9]+\\$)?${SALT}{1,16}\\$${B64}{86}$`, 'u') },
  { method: 'sha256crypt', prefix: '$5$', format: new RegExp(`^\\$5\\$(rounds=[1-9][0-9]+\\$)?${SALT}{1,16}\\$${B64}{43}$`, 'u') },
  // libxcrypt writes a 28-character checksum (160 bits); crypt(5)'s pattern for it is looser
  { method: 'sha1crypt', prefix: '$sha1$', format: new RegExp(`^\\$sha1\\$[1-9][0-9]*\\$${B64}{1,64}\\$${B64}{28}$`, 'u') },
  { method: 'sunmd5', prefix: '$md5', format: new RegExp(`^\\$md5(,rounds=[1-9][0-9]*)?\\$${B64}{1,8}\\$\\$?${B64}{22}$`, 'u') },
  { method: 'md5crypt', prefix: '$1$', format: new RegExp(`^\\$1\\$${SALT}{1,8}\\$${B64}{22}$`, 'u') },
  { method: 'nt', prefix: '$3$', format: /^\$3\$\$[0-9a-f]{32}$/u },
  { method: 'bsdicrypt', prefix: '_', format: new RegExp(`^_${B64}{19}$`, 'u') },
  { method: 'descrypt', prefix: '', format: new RegExp(`^${B64}{13}$`, 'u') },
];

/** Bare lock markers: "!" / "!!" (locked, no password yet), "*" and "!*" (no password login). */
const LOCK_MARKER = /^(!{1,2}|!?\*)$/u;

/** The method of an unlocked crypt(5) hash, or undefined when `value` is not one. */
function methodOf(value: string): CryptMethod | undefined {
  for (const m of METHODS) if (value.startsWith(m.prefix) && m.format.test(value)) return m.method;
  return undefined;
}

/**
 * Reads a value that is declared to be a hash (CRYPTED_PASSWORD, cloud-config `passwd`, a shadow
 * field): a crypt(5) hash, optionally locked with "!", or a bare lock marker. Undefined otherwise.
 */
export function parseCryptField(value: string): CryptField | undefined {
  if (LOCK_MARKER.test(value)) return { kind: 'locked' };
  const locked = value.startsWith('!');
  const method = methodOf(locked ? value.slice(1) : value);
  return method === undefined ? undefined : { kind: 'hash', method, locked };
}

/** Whether `value` is a crypt(5) hash (locked or not) or a lock marker: what `chpasswd -e` may store. */
export function isCryptField(value: string): boolean {
  return parseCryptField(value) !== undefined;
}

/** The unlocked crypt(5) hash in `value`, when it is exactly one (e.g. checking a tool's output). */
export function parseCryptHash(value: string): CryptMethod | undefined {
  return methodOf(value);
}

/**
 * Whether a shadow password field may let someone log in with a password: anything that is not
 * empty and not locked ("!" or "*" first). Deliberately wider than the formats above: a format this
 * codec does not know (bigcrypt, a newer libxcrypt method) may still work on the image.
 */
export function shadowFieldAllowsLogin(field: string): boolean {
  return field !== '' && !field.startsWith('!') && !field.startsWith('*');
}

/**
 * Reads a field that may hold a password or a hash (cloud-config `chpasswd` lists): a value that
 * names a crypt(5) method with "$id$" is meant as a hash; when it is not a well-formed one it is
 * invalid (never taken as the literal password). Bare lock markers and "!" before a hash are hashes
 * too. Traditional DES and bsdicrypt have no "$" prefix and look like ordinary passwords, so here
 * they are plain text (as cloud-init and chpasswd without -e take them).
 */
export function classifyPassword(value: string): PasswordValue {
  const field = parseCryptField(value);
  if (field?.kind === 'locked') return { kind: 'hash', method: undefined, locked: true };
  if (field !== undefined && field.method !== 'descrypt' && field.method !== 'bsdicrypt') return { kind: 'hash', method: field.method, locked: field.locked };
  const bare = value.startsWith('!') ? value.slice(1) : value;
  const named = METHODS.find((m) => m.prefix.startsWith('$') && bare.startsWith(m.prefix) && namesMethod(bare, m.prefix));
  if (named !== undefined) return { kind: 'invalid', reason: `looks like a ${named.method} hash (${named.prefix}…) but is not a well-formed one` };
  return { kind: 'plain' };
}

/** Whether `value` starts with a method's full "$id$" (or "$md5," / "$2?$") tag. */
function namesMethod(value: string, prefix: string): boolean {
  if (prefix === '$2') return /^\$2[abxy]\$/u.test(value);
  if (prefix === '$md5') return /^\$md5[$,]/u.test(value);
  return true;
}
