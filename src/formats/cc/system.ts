// cloud-config system settings: the hostname (hostname, fqdn, preserve_hostname,
// prefer_fqdn_over_hostname, create_hostname_file), /etc/hosts (manage_etc_hosts), the SSH host
// keys (ssh_keys, ssh_deletekeys, ssh_genkeytypes) and the time zone, parsed and validated with
// cloud-init's meaning; every unusable value reported at its line. Pure. A private key's text is
// never put in a message.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { Secret } from '../../shared/secret.js';
import { checkAuthorizedKey } from '../sshkeys.js';
import { sanitiseHostname } from '../hostname.js';
import { type Issues, type Obj, isObj, quoted, str } from './common.js';

/** The host key types cloud-init writes and generates (ssh_keys, ssh_genkeytypes). */
export const HOST_KEY_TYPES = ['rsa', 'ecdsa', 'ed25519'] as const;
export type HostKeyType = (typeof HOST_KEY_TYPES)[number];
export type HostKeyPart = 'private' | 'public' | 'certificate';

/** One entry of cloud-config `ssh_keys`, checked. */
export interface CloudHostKey {
  readonly type: HostKeyType;
  readonly part: HostKeyPart;
  /** The key's text, ending in a newline; a Secret (it prints as <redacted>) since a private key is one. */
  readonly value: Secret;
}

/** /etc/hosts: true (and the old "template") rewrites it whole, "localhost" keeps its other lines, false leaves it. */
export type ManageEtcHosts = 'template' | 'localhost' | false;

/** What this part reads from a cloud-config document. Each field is undefined when the key is absent (or unusable). */
export interface CloudSystem {
  /** `hostname`, sanitised. */
  readonly hostname: string | undefined;
  /** `fqdn`, sanitised. */
  readonly fqdn: string | undefined;
  readonly preserveHostname: boolean | undefined;
  readonly preferFqdnOverHostname: boolean | undefined;
  readonly createHostnameFile: boolean | undefined;
  readonly manageEtcHosts: ManageEtcHosts | undefined;
  /** `ssh_keys`: host keys given by the user (undefined when the key is absent; a later part's entries win per name). */
  readonly hostKeys: readonly CloudHostKey[] | undefined;
  readonly sshDeleteKeys: boolean | undefined;
  readonly sshGenKeyTypes: readonly HostKeyType[] | undefined;
  readonly timezone: string | undefined;
  /** Where `hostname`, `fqdn` and `preserve_hostname` were written (each undefined when its key is not). */
  readonly hostnameLine: number | undefined;
  readonly fqdnLine: number | undefined;
  readonly preserveHostnameLine: number | undefined;
}

/** The keys this part applies, at the top level. */
export const SYSTEM_KEYS = {
  top: ['hostname', 'fqdn', 'preserve_hostname', 'prefer_fqdn_over_hostname', 'create_hostname_file', 'manage_etc_hosts', 'ssh_keys', 'ssh_deletekeys', 'ssh_genkeytypes', 'timezone'],
} as const;

/** A zone name as under /usr/share/zoneinfo (Europe/Madrid, America/Argentina/Buenos_Aires, UTC, Etc/GMT+3). */
export const ZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+){0,3}$/u;

export function isZoneName(zone: string): boolean {
  return ZONE.test(zone) && !zone.split('/').includes('..');
}

/** A YAML boolean, also in the YAML 1.1 spellings cloud-init's parser reads as one (yes/no/on/off). */
function bool(doc: Obj, key: string, issues: Issues): boolean | undefined {
  const v = doc[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|yes|on|y)$/iu.test(v)) return true;
  if (typeof v === 'string' && /^(false|no|off|n)$/iu.test(v)) return false;
  issues.warn(`${key}: ${shown(v)} is not true or false; ignored`, [key]);
  return undefined;
}

function shown(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 60)) : Array.isArray(v) ? 'a list' : isObj(v) ? 'a mapping' : String(v);
}

function name(doc: Obj, key: 'hostname' | 'fqdn', issues: Issues): string | undefined {
  const v = doc[key];
  if (v === undefined || v === null) return undefined;
  const raw = str(v);
  if (raw === undefined) {
    issues.warn(`${key}: ${shown(v)} is not a host name; ignored`, [key]);
    return undefined;
  }
  const s = sanitiseHostname(raw);
  if (s.name === undefined) {
    issues.warn(`${key}: ${shown(raw)} has no usable characters for a host name; ignored`, [key]);
    return undefined;
  }
  if (s.changed) issues.warn(`${key}: ${shown(raw)} is not a valid host name; "${s.name}" is used`, [key]);
  return s.name;
}

function manageEtcHosts(doc: Obj, issues: Issues): ManageEtcHosts | undefined {
  const v = doc['manage_etc_hosts'];
  if (v === undefined || v === null) return undefined;
  if (v === true) return 'template';
  if (v === false) return false;
  if (typeof v === 'string') {
    if (v === 'localhost') return 'localhost';
    if (v === 'template') {
      issues.warn('manage_etc_hosts: "template" is the old spelling of true (cloud-init deprecated it); /etc/hosts is rewritten', ['manage_etc_hosts']);
      return 'template';
    }
    if (/^(true|yes|on|y|1)$/iu.test(v)) return 'template';
    if (/^(false|no|off|n|0)$/iu.test(v)) return false;
  }
  issues.warn(`manage_etc_hosts: ${shown(v)} is not true, false or "localhost"; ignored`, ['manage_etc_hosts']);
  return undefined;
}

/** The key types of OpenSSH public key lines per host key type. */
const PUBLIC_TYPES: Record<HostKeyType, RegExp> = { rsa: /^ssh-rsa$/u, ecdsa: /^ecdsa-sha2-nistp(256|384|521)$/u, ed25519: /^ssh-ed25519$/u };
const CERT_TYPES: Record<HostKeyType, RegExp> = { rsa: /^ssh-rsa-cert-v01@openssh\.com$/u, ecdsa: /^ecdsa-sha2-nistp(256|384|521)-cert-v01@openssh\.com$/u, ed25519: /^ssh-ed25519-cert-v01@openssh\.com$/u };
/** node's names for the PEM key types. */
const PEM_TYPES: Record<HostKeyType, string> = { rsa: 'rsa', ecdsa: 'ec', ed25519: 'ed25519' };

/** Reads one SSH string (uint32 length + bytes) at `at`; undefined past the end. */
function sshString(buf: Buffer, at: number): { value: Buffer; next: number } | undefined {
  if (at + 4 > buf.length) return undefined;
  const len = buf.readUInt32BE(at);
  if (at + 4 + len > buf.length) return undefined;
  return { value: buf.subarray(at + 4, at + 4 + len), next: at + 4 + len };
}

/**
 * Why a private host key text cannot be used for `type`, or undefined when it can: a PEM key
 * (PKCS#1, SEC1, PKCS#8) node can read, or an OpenSSH key (openssh-key-v1) without a passphrase,
 * of the same type. The reason never quotes the key.
 */
export function privateKeyProblem(type: HostKeyType, text: string): string | undefined {
  const body = text.trim();
  const m = /^-----BEGIN ([A-Z ]*)PRIVATE KEY-----\r?\n([\s\S]*?)\r?\n-----END \1PRIVATE KEY-----$/u.exec(body);
  if (m === null) return 'is not a PEM or OpenSSH private key (-----BEGIN … PRIVATE KEY----- … -----END … PRIVATE KEY-----)';
  const kind = (m[1] ?? '').trim();
  if (kind === 'ENCRYPTED' || /^Proc-Type:\s*4,ENCRYPTED/mu.test(m[2] ?? '')) return 'is encrypted with a passphrase, which sshd cannot give';
  if (kind === 'OPENSSH') {
    const b64 = (m[2] ?? '').replace(/\s+/gu, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/u.test(b64)) return 'is not base64 inside its BEGIN/END lines';
    const buf = Buffer.from(b64, 'base64');
    const magic = Buffer.from('openssh-key-v1\0', 'latin1');
    if (!buf.subarray(0, magic.length).equals(magic)) return 'is not an OpenSSH private key (no openssh-key-v1 header)';
    const cipher = sshString(buf, magic.length);
    const kdf = cipher === undefined ? undefined : sshString(buf, cipher.next);
    const kdfOptions = kdf === undefined ? undefined : sshString(buf, kdf.next);
    if (cipher === undefined || kdfOptions === undefined || kdfOptions.next + 4 > buf.length) return 'is a truncated OpenSSH private key';
    if (cipher.value.toString('latin1') !== 'none') return 'is encrypted with a passphrase, which sshd cannot give';
    const publicBlob = sshString(buf, kdfOptions.next + 4);
    const keyType = publicBlob === undefined ? undefined : sshString(publicBlob.value, 0);
    if (keyType === undefined) return 'is a truncated OpenSSH private key';
    const found = keyType.value.toString('latin1');
    if (!PUBLIC_TYPES[type].test(found)) return `holds a ${JSON.stringify(found.slice(0, 40))} key, not an ${type} key`;
    return undefined;
  }
  try {
    const key = createPrivateKey({ key: body, format: 'pem' });
    if (key.asymmetricKeyType !== PEM_TYPES[type]) return `holds a ${key.asymmetricKeyType ?? 'unknown'} key, not an ${type} key`;
  } catch {
    return 'is not a readable PEM private key';
  }
  return undefined;
}

function wire(...parts: Buffer[]): Buffer {
  return Buffer.concat(parts.flatMap((p) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(p.length);
    return [len, p];
  }));
}

/** An unsigned big-endian integer as an SSH mpint's bytes (no leading zeros; a 0 byte before a high bit). */
function mpint(b64url: string): Buffer {
  let b = Buffer.from(b64url, 'base64url');
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  b = b.subarray(i);
  return (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

/**
 * The OpenSSH public key line ("type base64") of a private key privateKeyProblem accepted: from
 * the public part an OpenSSH key file carries, or computed from a PEM key. Undefined otherwise.
 */
export function publicKeyOf(text: string): string | undefined {
  const body = text.trim();
  const m = /^-----BEGIN ([A-Z ]*)PRIVATE KEY-----\r?\n([\s\S]*?)\r?\n-----END \1PRIVATE KEY-----$/u.exec(body);
  if (m === null) return undefined;
  let blob: Buffer | undefined;
  if ((m[1] ?? '').trim() === 'OPENSSH') {
    const buf = Buffer.from((m[2] ?? '').replace(/\s+/gu, ''), 'base64');
    let at = 'openssh-key-v1\0'.length;
    for (let i = 0; i < 3; i++) at = sshString(buf, at)?.next ?? buf.length + 1;
    blob = sshString(buf, at + 4)?.value;
  } else {
    try {
      const jwk = createPublicKey(createPrivateKey({ key: body, format: 'pem' })).export({ format: 'jwk' });
      const s = (v: string): Buffer => Buffer.from(v, 'latin1');
      if (jwk.kty === 'RSA' && jwk.n !== undefined && jwk.e !== undefined) blob = wire(s('ssh-rsa'), mpint(jwk.e), mpint(jwk.n));
      else if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x !== undefined) blob = wire(s('ssh-ed25519'), Buffer.from(jwk.x, 'base64url'));
      else if (jwk.kty === 'EC' && jwk.x !== undefined && jwk.y !== undefined) {
        const curve = ({ 'P-256': 'nistp256', 'P-384': 'nistp384', 'P-521': 'nistp521' } as Record<string, string>)[jwk.crv ?? ''];
        if (curve !== undefined) blob = wire(s(`ecdsa-sha2-${curve}`), s(curve), Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]));
      }
    } catch {
      return undefined;
    }
  }
  const type = blob === undefined ? undefined : sshString(blob, 0)?.value.toString('latin1');
  return blob === undefined || type === undefined ? undefined : `${type} ${blob.toString('base64')}`;
}

/** Why a public key or certificate text cannot be used for `type` (`part`), or undefined. */
function publicProblem(type: HostKeyType, part: 'public' | 'certificate', text: string): string | undefined {
  const lines = text.split(/\r?\n/u).filter((l) => l.trim() !== '');
  if (lines.length !== 1) return `is ${lines.length} lines, not one ${part === 'public' ? 'public key' : 'certificate'} line`;
  const check = checkAuthorizedKey(lines[0] ?? '');
  if (!check.ok) return `is not an OpenSSH ${part === 'public' ? 'public key' : 'certificate'}: ${check.reason}`;
  const want = part === 'public' ? PUBLIC_TYPES[type] : CERT_TYPES[type];
  const noun = part === 'public' ? 'public key' : 'certificate';
  if (!want.test(check.type)) return `holds a key of type ${check.type}, not an ${type} ${noun}`;
  if (check.line.split(' ')[0] !== check.type) return `has options before the key, which a host ${noun} file cannot have`;
  return undefined;
}

function hostKeys(doc: Obj, issues: Issues): CloudHostKey[] | undefined {
  const v = doc['ssh_keys'];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) {
    issues.warn('ssh_keys: not a mapping of <type>_private / <type>_public / <type>_certificate; ignored', ['ssh_keys']);
    return undefined;
  }
  const out: CloudHostKey[] = [];
  for (const [key, value] of Object.entries(v)) {
    const path = ['ssh_keys', key];
    const m = /^(rsa|ecdsa|ed25519)_(private|public|certificate)$/u.exec(key);
    if (m === null) {
      const why = /^(ecdsa-sk|ed25519-sk|dsa)_(private|public|certificate)$/u.test(key) ? 'a key type cloud-init and vmctx do not take (rsa, ecdsa, ed25519)' : 'not <rsa|ecdsa|ed25519>_<private|public|certificate>';
      issues.warn(`ssh_keys: ${quoted(key)} is ${why}; ignored`, path);
      continue;
    }
    const type = m[1] as HostKeyType;
    const part = m[2] as HostKeyPart;
    if (typeof value !== 'string') {
      issues.warn(`ssh_keys.${key}: not a string; ignored`, path);
      continue;
    }
    const problem = part === 'private' ? privateKeyProblem(type, value) : publicProblem(type, part, value);
    if (problem !== undefined) {
      issues.warn(`ssh_keys.${key} ${problem}; refused (the ${type} host key is not written from ssh_keys)`, path);
      continue;
    }
    out.push({ type, part, value: new Secret(`${value.trim()}\n`) });
  }
  // a public key that is not the private key's would be offered (ssh-keyscan, published fingerprints) for a key sshd does not have
  for (const pub of out.filter((k) => k.part === 'public')) {
    const priv = out.find((k) => k.part === 'private' && k.type === pub.type);
    const derived = priv === undefined ? undefined : publicKeyOf(priv.value.reveal());
    if (derived !== undefined && pub.value.reveal().trim().split(/\s+/u).slice(0, 2).join(' ') !== derived) {
      issues.warn(`ssh_keys.${pub.type}_public is not the public half of ${pub.type}_private; refused (the public key is made from the private one)`, ['ssh_keys', `${pub.type}_public`]);
      out.splice(out.indexOf(pub), 1);
    }
  }
  // a type whose private key was refused (or not given) writes nothing: its public key or certificate alone serves no one
  const withPrivate = new Set(out.filter((k) => k.part === 'private').map((k) => k.type));
  for (const k of out.filter((x) => x.part !== 'private' && !withPrivate.has(x.type))) {
    issues.warn(`ssh_keys.${k.type}_${k.part}: no usable ${k.type}_private with it; ignored`, ['ssh_keys', `${k.type}_${k.part}`]);
  }
  return out.filter((k) => withPrivate.has(k.type));
}

function genKeyTypes(doc: Obj, issues: Issues): HostKeyType[] | undefined {
  const v = doc['ssh_genkeytypes'];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    issues.warn('ssh_genkeytypes: not a list of key types; ignored', ['ssh_genkeytypes']);
    return undefined;
  }
  const out: HostKeyType[] = [];
  v.forEach((t, i) => {
    if (typeof t === 'string' && (HOST_KEY_TYPES as readonly string[]).includes(t)) {
      if (!out.includes(t as HostKeyType)) out.push(t as HostKeyType);
    } else issues.warn(`ssh_genkeytypes[${i}]: ${shown(t)} is not a key type vmctx generates (rsa, ecdsa, ed25519); skipped`, ['ssh_genkeytypes', i]);
  });
  return out;
}

function timezone(doc: Obj, issues: Issues): string | undefined {
  const v = doc['timezone'];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !isZoneName(v.trim())) {
    issues.warn(`timezone: ${shown(v)} is not a zone name like Europe/Madrid; ignored`, ['timezone']);
    return undefined;
  }
  return v.trim();
}

export function parseSystem(doc: Obj, issues: Issues): CloudSystem {
  return {
    hostname: name(doc, 'hostname', issues),
    fqdn: name(doc, 'fqdn', issues),
    preserveHostname: bool(doc, 'preserve_hostname', issues),
    preferFqdnOverHostname: bool(doc, 'prefer_fqdn_over_hostname', issues),
    createHostnameFile: bool(doc, 'create_hostname_file', issues),
    manageEtcHosts: manageEtcHosts(doc, issues),
    hostKeys: hostKeys(doc, issues),
    sshDeleteKeys: bool(doc, 'ssh_deletekeys', issues),
    sshGenKeyTypes: genKeyTypes(doc, issues),
    timezone: timezone(doc, issues),
    hostnameLine: doc['hostname'] === undefined ? undefined : issues.at(['hostname']).line,
    fqdnLine: doc['fqdn'] === undefined ? undefined : issues.at(['fqdn']).line,
    preserveHostnameLine: doc['preserve_hostname'] === undefined ? undefined : issues.at(['preserve_hostname']).line,
  };
}
