// /etc/passwd parsing (for home directories and ids); malformed lines are skipped.

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
    if (f.length < 7) continue;
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0] ?? '', uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}
