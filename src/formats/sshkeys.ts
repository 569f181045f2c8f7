// authorized_keys line validation: optional options, a known key type, base64 whose decoded
// blob names the same type, and an optional comment. Anything else is refused with a reason.

const KEY_TYPES = new Set([
  'ssh-rsa', 'ssh-dss', 'ssh-ed25519', 'ssh-ed448',
  'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com', 'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-rsa-cert-v01@openssh.com', 'ssh-dss-cert-v01@openssh.com', 'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp384-cert-v01@openssh.com', 'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'sk-ssh-ed25519-cert-v01@openssh.com', 'sk-ecdsa-sha2-nistp256-cert-v01@openssh.com',
]);

export type KeyCheck = { readonly ok: true; readonly line: string; readonly type: string } | { readonly ok: false; readonly reason: string };

/** Splits off a leading options field (comma-separated, double quotes allowed). */
function splitOptions(line: string): { options: string; rest: string } | undefined {
  let i = 0;
  let quoted = false;
  for (; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && quoted) {
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === ' ' || c === '\t')) break;
  }
  if (quoted) return undefined;
  return { options: line.slice(0, i), rest: line.slice(i).trimStart() };
}

export function checkAuthorizedKey(input: string): KeyCheck {
  const line = input.trim();
  if (line === '') return { ok: false, reason: 'empty' };
  // sshd skips it; taken for an options field, a commented-out key would pass for an installed one
  if (line.startsWith('#')) return { ok: false, reason: 'a comment, not a key' };
  if (/[\0\r\n]/u.test(line)) return { ok: false, reason: 'control characters in the key line' };
  if (line.length > 16384) return { ok: false, reason: 'key line longer than 16 KiB' };
  let fields = line.split(/[ \t]+/u);
  let options = '';
  if (!KEY_TYPES.has(fields[0] ?? '')) {
    const split = splitOptions(line);
    if (split === undefined) return { ok: false, reason: 'unterminated quote in the options' };
    options = split.options;
    fields = split.rest.split(/[ \t]+/u);
    if (!KEY_TYPES.has(fields[0] ?? '')) return { ok: false, reason: `not a public key line (no known key type): "${line.slice(0, 40)}${line.length > 40 ? '…' : ''}"` };
  }
  const type = fields[0] ?? '';
  const b64 = fields[1] ?? '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/u.test(b64) || b64.length % 4 !== 0) return { ok: false, reason: 'key data is not base64' };
  const blob = Buffer.from(b64, 'base64');
  if (blob.length < 4) return { ok: false, reason: 'key data too short' };
  const nameLength = blob.readUInt32BE(0);
  if (nameLength > blob.length - 4 || blob.subarray(4, 4 + nameLength).toString('latin1') !== type) {
    return { ok: false, reason: `key data does not hold a ${type} key` };
  }
  const comment = fields.slice(2).join(' ');
  const normalised = [options, type, b64, comment].filter((p) => p !== '').join(' ');
  return { ok: true, line: normalised, type };
}

/**
 * One metadata key entry (EC2 `public-keys/N/openssh-key`, OpenStack `keys[].data` or
 * `public_keys{name}`) holds one key, so it is one line: blank lines around it are dropped; a
 * second line would become another authorized_keys line nobody named, so only the first is
 * kept and the caller reports how many were dropped. (OpenNebula's SSH_PUBLIC_KEY is a list, one
 * key per line, and does not come through here.)
 */
export function singleKeyEntry(entry: string): { readonly line: string | undefined; readonly dropped: number } {
  const lines = entry.split(/\r?\n|\r/u).map((l) => l.trim()).filter((l) => l !== '');
  return { line: lines[0], dropped: Math.max(0, lines.length - 1) };
}
