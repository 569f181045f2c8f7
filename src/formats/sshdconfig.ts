// sshd_config reading: the directives that matter to vmctx, in order, with Match blocks marked
// (their settings are conditional, so vmctx ignores them) and Include patterns left to the caller.

export interface SshdDirective {
  readonly keyword: string;
  readonly args: readonly string[];
  readonly inMatch: boolean;
}

function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/gu;
  for (const m of text.matchAll(re)) {
    // sshd (8.7+) reads an unquoted # at the start of an argument as a comment to the end of the line
    if (m[2]?.startsWith('#') === true) break;
    out.push(m[1] ?? m[2] ?? '');
  }
  return out;
}

export function parseSshdConfig(text: string): SshdDirective[] {
  const out: SshdDirective[] = [];
  let inMatch = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/u.exec(line);
    if (m === null) continue;
    const keyword = (m[1] ?? '').toLowerCase();
    if (keyword === 'match') inMatch = true;
    out.push({ keyword, args: splitArgs(m[2] ?? ''), inMatch });
  }
  return out;
}

/** Expands %h, %u, %% in an AuthorizedKeysFile entry; relative entries are relative to home. */
export function expandAuthorizedKeysPath(pattern: string, user: string, home: string): string | undefined {
  // one pass, left to right: %% is a literal % whatever follows it; any other token (%U, %i…) or a lone % is not expanded
  const parts = pattern.split(/(%.?)/u);
  const tokens = new Map([['%h', home], ['%u', user], ['%%', '%']]);
  if (parts.some((p, i) => i % 2 === 1 && !tokens.has(p))) return undefined;
  const expanded = parts.map((p, i) => (i % 2 === 1 ? (tokens.get(p) ?? '') : p)).join('');
  return expanded.startsWith('/') ? expanded : `${home.replace(/\/$/u, '')}/${expanded}`;
}

/** Whether a glob from an Include line (only `*` and `?`) matches a file name; as in glob(3), a leading dot only literally. */
export function globMatch(pattern: string, name: string): boolean {
  if (name.startsWith('.') && !pattern.startsWith('.')) return false;
  let re = '^';
  for (const c of pattern) re += c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/gu, '\\$&');
  return new RegExp(`${re}$`, 'u').test(name);
}
