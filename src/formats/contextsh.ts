// context.sh lexer: gives exactly what a POSIX shell sourcing the file would assign, without ever
// running anything. Expansions are kept literally (with a warning); anything that would make a
// shell run a command rejects the whole file, naming the line.
import { VmctxError } from '../shared/errors.js';

export interface ContextWarning {
  readonly line: number;
  readonly message: string;
}

export interface RawAssignment {
  readonly name: string;
  /** The value's bytes as a latin1 string (one char per byte): byte-exact for any input. */
  readonly bytes: string;
  readonly line: number;
}

export interface LexResult {
  readonly assignments: readonly RawAssignment[];
  readonly warnings: readonly ContextWarning[];
}

export interface ContextFile {
  /** Final values (last assignment wins), decoded as UTF-8. */
  readonly variables: Readonly<Record<string, string>>;
  /** Line of the assignment that gave each variable its value. */
  readonly lines: Readonly<Record<string, number>>;
  readonly warnings: readonly ContextWarning[];
}

const NAME_START = /[A-Za-z_]/u;
const NAME_CHAR = /[A-Za-z0-9_]/u;
const OPERATORS = new Set([';', '&', '|', '<', '>', '(', ')']);
const SPECIAL_PARAMS = new Set(['?', '$', '#', '@', '*', '!', '-']);

function syntax(line: number, message: string): VmctxError {
  return new VmctxError('ERR_CONTEXT_SYNTAX', `line ${line}: ${message}`, { details: { line } });
}

function command(line: number, message: string): VmctxError {
  return new VmctxError('ERR_CONTEXT_COMMAND', `line ${line}: ${message}; vmctx never runs context.sh, so the whole file is rejected`, {
    details: { line },
  });
}

class Lexer {
  readonly #s: string;
  #pos = 0;
  #line = 1;
  readonly warnings: ContextWarning[] = [];
  readonly assignments: RawAssignment[] = [];
  /** Names made read-only (`readonly NAME[=value]`), with the line that did it. */
  readonly #readonly = new Map<string, number>();
  #crWarned = false;

  constructor(text: string) {
    this.#s = text;
  }

  #peek(offset = 0): string {
    return this.#s[this.#pos + offset] ?? '';
  }

  #warn(line: number, message: string): void {
    if (this.warnings.length < 100) this.warnings.push({ line, message });
  }

  /** A CR directly before LF outside quotes: dropped (a file edited on Windows). */
  #isDroppedCr(): boolean {
    if (this.#peek() === '\r' && this.#peek(1) === '\n') {
      if (!this.#crWarned) {
        this.#warn(this.#line, 'CR LF line ends: the CR characters outside quotes were dropped');
        this.#crWarned = true;
      }
      return true;
    }
    return false;
  }

  run(): void {
    if (this.#s.startsWith('\u00ef\u00bb\u00bf')) {
      this.#warn(1, 'the file starts with a UTF-8 byte order mark; it was ignored');
      this.#pos = 3;
    }
    const nul = this.#s.indexOf('\0');
    if (nul >= 0) throw syntax(this.#s.slice(0, nul).split('\n').length, 'NUL byte in the file');
    while (this.#pos < this.#s.length) this.#command();
  }

  /** Skips blanks, comments and line continuations; returns true at the end of a command. */
  #skipBlanks(): boolean {
    for (;;) {
      const c = this.#peek();
      if (c === ' ' || c === '\t') this.#pos++;
      else if (c === '\\' && this.#peek(1) === '\n') {
        this.#pos += 2;
        this.#line++;
      } else if (c === '\\' && this.#peek(1) === '\r' && this.#peek(2) === '\n') {
        this.#isDroppedCr();
        this.#pos += 3;
        this.#line++;
      } else if (c === '#') {
        while (this.#pos < this.#s.length && this.#peek() !== '\n') this.#pos++;
      } else if (c === '\r' && this.#isDroppedCr()) {
        this.#pos++;
      } else return c === '\n' || c === '';
    }
  }

  /**
   * dash stops (exit 2, "NAME: is read only") at any assignment to a read-only variable: a plain
   * assignment, `export NAME=…` or `readonly NAME=…`, even of the same value. vmctx gives dash's
   * values only, so such a file is rejected whole, naming the line.
   */
  #assign(name: string, bytes: string, line: number): void {
    const since = this.#readonly.get(name);
    if (since !== undefined) {
      throw syntax(line, `"${name}" is read-only (readonly on line ${since}); a shell stops here, so the whole file is rejected`);
    }
    this.assignments.push({ name, bytes, line });
  }

  /** One simple command: optional export/readonly, then assignments only. */
  #command(): void {
    let words = 0;
    let exporting = false;
    let readonly = false;
    for (;;) {
      if (this.#skipBlanks()) {
        if (this.#peek() === '\n') {
          this.#pos++;
          this.#line++;
        }
        return;
      }
      const c = this.#peek();
      if (OPERATORS.has(c)) throw command(this.#line, `"${c}" would make a shell run a command or redirect output`);
      const line = this.#line;
      const name = this.#assignmentName();
      if (name !== undefined) {
        this.#pos += name.length + 1;
        const value = this.#word(true);
        this.#assign(name, value, line);
        // `readonly A=1 A=2` fails at the second A, as dash handles the arguments in order
        if (readonly) this.#readonly.set(name, line);
      } else {
        const start = this.#pos;
        const word = this.#word(false);
        const literal = this.#s.slice(start, this.#pos);
        if (words === 0 && (literal === 'export' || literal === 'readonly')) {
          exporting = true;
          readonly = literal === 'readonly';
        } else if (exporting && /^[A-Za-z_][A-Za-z0-9_]*$/u.test(literal)) {
          // `export NAME` marks a variable without assigning it: nothing to record.
          // `readonly NAME` makes it read-only from here on (set or not), as in dash.
          if (readonly && !this.#readonly.has(literal)) this.#readonly.set(literal, line);
        } else {
          const shown = word.length > 40 ? `${word.slice(0, 40)}…` : word;
          const what = /^[0-9][A-Za-z0-9_]*=/u.test(literal) ? `"${literal.split('=')[0] ?? ''}" is not a valid variable name, so` : '';
          throw command(line, `${what} ${JSON.stringify(shown)} would be run as a command`.trim());
        }
      }
      words++;
    }
  }

  /** The NAME of `NAME=` at the current position, when the word is an assignment. */
  #assignmentName(): string | undefined {
    if (!NAME_START.test(this.#peek())) return undefined;
    let end = this.#pos + 1;
    while (end < this.#s.length && NAME_CHAR.test(this.#s[end] ?? '')) end++;
    return this.#s[end] === '=' ? this.#s.slice(this.#pos, end) : undefined;
  }

  /** Reads one word with shell quoting; returns its value. */
  #word(isValue: boolean): string {
    let out = '';
    let atValueStart = isValue;
    for (;;) {
      const c = this.#peek();
      if (c === '' || c === ' ' || c === '\t' || c === '\n') return out;
      if (c === '\r' && this.#isDroppedCr()) return out;
      if (OPERATORS.has(c)) throw command(this.#line, `"${c}" would make a shell run a command or redirect output`);
      if (c === '~' && isValue && (atValueStart || out.endsWith(':'))) {
        this.#warn(this.#line, 'an unquoted "~" is kept literally (a shell would expand it to a home directory)');
      }
      atValueStart = false;
      if (c === "'") {
        const end = this.#s.indexOf("'", this.#pos + 1);
        if (end < 0) throw syntax(this.#line, 'unterminated single quote');
        const text = this.#s.slice(this.#pos + 1, end);
        this.#line += countNewlines(text);
        out += text;
        this.#pos = end + 1;
      } else if (c === '"') {
        out += this.#doubleQuoted();
      } else if (c === '\\') {
        const next = this.#peek(1);
        if (next === '\n') {
          this.#pos += 2;
          this.#line++;
        } else if (next === '') {
          out += '\\';
          this.#pos++;
        } else {
          if (next === '\r' && this.#peek(2) === '\n') {
            // backslash-CR-LF from a Windows editor: a line continuation after the CR is dropped
            this.#isDroppedCr();
            this.#pos += 3;
            this.#line++;
            continue;
          }
          out += next;
          if (next === '\n') this.#line++;
          this.#pos += 2;
        }
      } else if (c === '`') {
        throw command(this.#line, 'a backquote command substitution would run a command');
      } else if (c === '$') {
        out += this.#dollar();
      } else {
        out += c;
        this.#pos++;
      }
    }
  }

  #doubleQuoted(): string {
    const startLine = this.#line;
    this.#pos++;
    let out = '';
    for (;;) {
      const c = this.#peek();
      if (c === '') throw syntax(startLine, 'unterminated double quote');
      if (c === '"') {
        this.#pos++;
        return out;
      }
      if (c === '\\') {
        const next = this.#peek(1);
        if (next === '\n') {
          this.#pos += 2;
          this.#line++;
        } else if (next === '$' || next === '`' || next === '"' || next === '\\') {
          out += next;
          this.#pos += 2;
        } else {
          out += '\\';
          this.#pos++;
        }
      } else if (c === '`') {
        throw command(this.#line, 'a backquote command substitution would run a command');
      } else if (c === '$') {
        out += this.#dollar();
      } else {
        if (c === '\n') this.#line++;
        out += c;
        this.#pos++;
      }
    }
  }

  /**
   * At a `$`: rejects command substitution; keeps parameter expansions literally, with a warning.
   * Line continuations between the `$` and what follows are removed first, as the shell does:
   * `"$\<newline>(reboot)"` is a command substitution to dash.
   */
  #dollar(): string {
    let p = this.#pos + 1;
    while (this.#s[p] === '\\' && this.#s[p + 1] === '\n') {
      p += 2;
      this.#line++;
    }
    const next = this.#s[p] ?? '';
    if (next === '(') throw command(this.#line, '"$(" command substitution would run a command');
    if (next === '{') {
      const close = this.#s.indexOf('}', p + 1);
      if (close < 0) throw syntax(this.#line, 'unterminated "${"');
      const text = `$${this.#s.slice(p, close + 1)}`;
      if (text.includes('$(') || text.includes('`')) throw command(this.#line, `"${text}" contains a command substitution`);
      if (/["'\n]/u.test(text)) throw syntax(this.#line, `"${text}" is a parameter expansion vmctx cannot keep literally`);
      this.#warn(this.#line, `"${text}" is kept literally (vmctx does not expand variables)`);
      this.#pos = close + 1;
      return text;
    }
    if (NAME_START.test(next)) {
      let end = p + 1;
      while (end < this.#s.length && NAME_CHAR.test(this.#s[end] ?? '')) end++;
      const text = `$${this.#s.slice(p, end)}`;
      this.#warn(this.#line, `"${text}" is kept literally (vmctx does not expand variables)`);
      this.#pos = end;
      return text;
    }
    if (/[0-9]/u.test(next) || SPECIAL_PARAMS.has(next)) {
      const text = `$${next}`;
      this.#warn(this.#line, `"${text}" is kept literally (vmctx does not expand variables)`);
      this.#pos = p + 1;
      return text;
    }
    this.#pos = p;
    return '$';
  }
}

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Lexes context.sh bytes into raw assignments (byte-exact values) and warnings. */
export function lexContextSh(input: Uint8Array): LexResult {
  const lexer = new Lexer(Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('latin1'));
  lexer.run();
  return { assignments: lexer.assignments, warnings: lexer.warnings };
}

/** Parses context.sh into variables (last assignment wins). Throws ERR_CONTEXT_* on invalid files. */
export function parseContextSh(input: Uint8Array): ContextFile {
  const { assignments, warnings } = lexContextSh(input);
  const variables: Record<string, string> = {};
  const lines: Record<string, number> = {};
  const all = [...warnings];
  for (const a of assignments) {
    const bytes = Buffer.from(a.bytes, 'latin1');
    const value = bytes.toString('utf8');
    if (!Buffer.from(value, 'utf8').equals(bytes)) all.push({ line: a.line, message: `${a.name}: value is not valid UTF-8; invalid bytes were replaced` });
    variables[a.name] = value;
    lines[a.name] = a.line;
  }
  return { variables, lines, warnings: all };
}

/** Renders variables the way current OpenNebula writes context.sh (sorted keys, '\'' escaping). */
export function renderContextSh(variables: Readonly<Record<string, string>>, header = '# Context variables generated by OpenNebula'): string {
  const keys = Object.keys(variables).sort();
  let out = `${header}\n`;
  for (const key of keys) out += `${key}='${(variables[key] ?? '').replaceAll("'", "'\\''")}'\n`;
  return out;
}

/** Renders the legacy (OpenNebula ≤ 4.0, StratusLab) double-quoted style; refuses values it cannot carry. */
export function renderLegacyContextSh(variables: Readonly<Record<string, string>>): string {
  let out = '';
  for (const key of Object.keys(variables).sort()) {
    const value = variables[key] ?? '';
    if (/["\\$`]/u.test(value)) {
      throw new VmctxError('ERR_CONTEXT_INVALID', `${key}: a value with " \\ $ or \` cannot be written in the legacy double-quoted style`);
    }
    out += `${key}="${value}"\n`;
  }
  return out;
}
