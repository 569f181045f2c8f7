// /etc/passwd parsing (for home directories and ids), as lenient as glibc's: missing trailing
// fields are empty (an empty shell is /bin/sh to login); lines without numeric ids are skipped.

export interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

/** A uid or gid: decimal digits only (Number('') is 0, not "no id"), below (uid_t)-1. */
function parseId(field: string | undefined): number | undefined {
  if (field === undefined || !/^[0-9]{1,10}$/u.test(field)) return undefined;
  const id = Number(field);
  return id < 4294967295 ? id : undefined;
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    // glibc's fgetpwent takes `name:pw:uid:gid` with the rest missing as empty fields: so must we,
    // or an account it lets log in would be invisible here (sysprep, bake --check)
    if (f.length < 4) continue;
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0] ?? '', uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}
