import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lexContextSh, parseContextSh, renderContextSh } from '../../src/formats/contextsh.js';
import { tempDir } from '../helpers/tmp.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const parse = (s: string): Record<string, string> => ({ ...parseContextSh(b(s)).variables });

/** What dash assigns to `names` when it sources `file` (bytes as latin1, one char per byte). */
function dashValues(dir: string, file: Buffer, names: readonly string[]): string[] {
  const path = join(dir, 'context.sh');
  writeFileSync(path, file);
  const script = `. ${path}; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`;
  const out = execFileSync('dash', ['-c', script], { env: {}, stdio: ['ignore', 'pipe', 'pipe'] }).toString('latin1');
  return out.split('\0').slice(0, names.length);
}

describe('context.sh: the reference vectors', () => {
  const table: Array<[string, Record<string, string>]> = [
    ["A='single'", { A: 'single' }],
    ["A='multi\nline\n'", { A: 'multi\nline\n' }],
    ["A=''\\''single'\\'''", { A: "'single'" }],
    ["A='single\\t'", { A: 'single\\t' }],
    ["A='\\'", { A: '\\' }],
    ["A=''\\'''", { A: "'" }],
    ["A='$'", { A: '$' }],
    ["export A='x'", { A: 'x' }],
    ["A='1'\nA='2'", { A: '2' }],
    ["A=''", { A: '' }],
    ['A=', { A: '' }],
    ['A=plain', { A: 'plain' }],
    ['A=plain\\ word', { A: 'plain word' }],
    ['A="dq \\" \\\\ \\$ \\` \\n"', { A: 'dq " \\ $ ` \\n' }],
    ['A="line\\\ncontinued"', { A: 'linecontinued' }],
    ['A=con\\\ntinued', { A: 'continued' }],
    ['A=one B=two', { A: 'one', B: 'two' }],
    ['export A=1 B', { A: '1' }],
    ['# comment\n\n   \tA=x # trailing comment', { A: 'x' }],
    ['A=x#not-a-comment', { A: 'x#not-a-comment' }],
    ['A=*.txt', { A: '*.txt' }],
    ['A="tab\there"', { A: 'tab\there' }],
    ["A='a'\"b\"c", { A: 'abc' }],
    ['A="$"', { A: '$' }],
    ['A="a$ b"', { A: 'a$ b' }],
    ["A='$(reboot)'", { A: '$(reboot)' }],
    ["A='`reboot`'", { A: '`reboot`' }],
    ["A=';|&<>()'", { A: ';|&<>()' }],
    ['_x1=ok', { _x1: 'ok' }],
  ];
  for (const [input, expected] of table) {
    it(JSON.stringify(input), async () => {
      expect(parse(input)).toEqual(expected);
      const dir = await tempDir();
      const names = Object.keys(expected);
      const fromDash = dashValues(dir, b(input), names);
      expect(Object.fromEntries(names.map((n, i) => [n, Buffer.from(fromDash[i] ?? '', 'latin1').toString('utf8')]))).toEqual(expected);
    });
  }
});

// Found by the long differential run (test:long, 50 000 files): "$" followed by a line
// continuation. The shell removes backslash-newline first, so `$\<nl>?` is `$?` and
// `"$\<nl>(reboot)"` is a command substitution; vmctx took the "$" as a plain character.
describe('regression contextsh-fuzz-continuation: "$", then a line continuation', () => {
  it('a command substitution split by a line continuation is rejected whole', () => {
    for (const input of ['A="$\\\n(reboot)"\n', 'A=$\\\n(reboot)\n', 'A="$\\\n\\\n(id)"\n', 'A="${X:-$\\\n(id)}"\n']) {
      let code = 'accepted';
      try {
        parseContextSh(b(input));
      } catch (error) {
        code = (error as { code?: string }).code ?? 'other';
      }
      expect(code, JSON.stringify(input)).toMatch(/^ERR_CONTEXT_(COMMAND|SYNTAX)$/u);
    }
  });
  it('a parameter split by a line continuation is kept literally, with the warning', async () => {
    const r = parseContextSh(b('A=$\\\n?!\nB="$\\\nHOME/x"\n'));
    expect(r.variables).toEqual({ A: '$?!', B: '$HOME/x' });
    expect(r.warnings.map((w) => w.message).join(' ')).toMatch(/"\$\?" is kept literally[\s\S]*"\$HOME" is kept literally/u);
    // and dash agrees that these are expansions (so a literal is the conservative reading)
    const dir = await tempDir();
    expect(dashValues(dir, b('A=$\\\n?!\n'), ['A'])[0]).toBe('0!');
  });
});

describe('context.sh: expansions are kept literally with a warning', () => {
  it('keeps $VAR, ${VAR} and $1 in legacy double-quoted values', () => {
    const result = parseContextSh(b('A="$HOME/x"\nB="${PATH:-/bin}"\nC=$1\n'));
    expect(result.variables).toEqual({ A: '$HOME/x', B: '${PATH:-/bin}', C: '$1' });
    expect(result.warnings.map((w) => w.line)).toEqual([1, 2, 3]);
    expect(result.warnings[0]?.message).toMatch(/kept literally/);
  });
  it('keeps an unquoted ~ literally with a warning', () => {
    const result = parseContextSh(b('A=~/x\n'));
    expect(result.variables['A']).toBe('~/x');
    expect(result.warnings[0]?.message).toMatch(/~/);
  });
});

describe('context.sh: anything that would run a command rejects the whole file', () => {
  const rejected: Array<[string, string, number]> = [
    ['A=1\nB="$(reboot)"\n', 'ERR_CONTEXT_COMMAND', 2],
    ['A=1\n\nB=`reboot`\n', 'ERR_CONTEXT_COMMAND', 3],
    ['A=$(id)', 'ERR_CONTEXT_COMMAND', 1],
    ['A="${X:-$(id)}"', 'ERR_CONTEXT_COMMAND', 1],
    ["A='x'; reboot", 'ERR_CONTEXT_COMMAND', 1],
    ["A='x' | cat", 'ERR_CONTEXT_COMMAND', 1],
    ["A='x' & B=1", 'ERR_CONTEXT_COMMAND', 1],
    ['A=x >/etc/passwd', 'ERR_CONTEXT_COMMAND', 1],
    ['A=1\nreboot\n', 'ERR_CONTEXT_COMMAND', 2],
    ['A=1 reboot', 'ERR_CONTEXT_COMMAND', 1],
    ['(A=1)', 'ERR_CONTEXT_COMMAND', 1],
    ['1A=x', 'ERR_CONTEXT_COMMAND', 1],
    ['A-B=x', 'ERR_CONTEXT_COMMAND', 1],
    ['"A"=x', 'ERR_CONTEXT_COMMAND', 1],
    ['if true; then A=1; fi', 'ERR_CONTEXT_COMMAND', 1],
    ['export -p', 'ERR_CONTEXT_COMMAND', 1],
    ["A='unterminated\nB=2\n", 'ERR_CONTEXT_SYNTAX', 1],
    ['A="unterminated\n', 'ERR_CONTEXT_SYNTAX', 1],
    ['A=1\0B=2', 'ERR_CONTEXT_SYNTAX', 1],
    ['A=1\r\nrm -rf /\r\n', 'ERR_CONTEXT_COMMAND', 2],
  ];
  for (const [input, code, line] of rejected) {
    it(`${JSON.stringify(input)} → ${code} at line ${line}`, () => {
      expect(() => parseContextSh(b(input))).toThrow(expect.objectContaining({ code, details: { line } }) as Error);
      try {
        parseContextSh(b(input));
      } catch (error) {
        expect((error as Error).message).toMatch(new RegExp(`^line ${line}:`));
      }
    });
  }
});

describe('context.sh: hand-edited files', () => {
  it('drops CR before LF outside quotes, with one warning', () => {
    const result = parseContextSh(b("A='x'\r\nB=y\r\n"));
    expect(result.variables).toEqual({ A: 'x', B: 'y' });
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]?.message).toMatch(/CR/);
  });
  it('keeps a CR inside quotes, as a shell does', () => {
    expect(parse("A='x\r\ny'\r\n")).toEqual({ A: 'x\r\ny' });
  });
  it('ignores a BOM with a warning', () => {
    const result = parseContextSh(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b("A='x'\n")]));
    expect(result.variables).toEqual({ A: 'x' });
    expect(result.warnings[0]?.message).toMatch(/byte order mark/);
  });
  it('reports the line of each variable and of multi-line values', () => {
    const result = parseContextSh(b("A='1\n2\n3'\nB='x'\n"));
    expect(result.lines).toEqual({ A: 1, B: 4 });
  });
  it('warns about invalid UTF-8 and keeps the rest', () => {
    const result = parseContextSh(Buffer.concat([b("A='"), Buffer.from([0xff, 0xfe]), b("'\n")]));
    expect(result.warnings[0]?.message).toMatch(/UTF-8/);
  });
});

describe('context.sh: OpenNebula rendering round-trips and agrees with dash', () => {
  it('random byte strings (no NUL): render → parse gives the same bytes, and dash agrees', async () => {
    const dir = await tempDir();
    const bytes = fc.uint8Array({ minLength: 0, maxLength: 64 }).map((a) => Buffer.from(a.map((x) => (x === 0 ? 1 : x))));
    const specials = fc.array(fc.constantFrom(...`'"\\$\`\n\r\t ;|&<>(){}#~=*?!`.split('')), { maxLength: 24 }).map((a) => Buffer.from(a.join(''), 'latin1'));
    let cases = 0;
    fc.assert(
      fc.property(fc.oneof(bytes, specials), (value) => {
        const latin = value.toString('latin1');
        const file = Buffer.from(`# Context variables generated by OpenNebula\nV='${latin.replaceAll("'", "'\\''")}'\n`, 'latin1');
        const ours = lexContextSh(file).assignments.at(-1)?.bytes;
        expect(ours).toBe(latin);
        expect(dashValues(dir, file, ['V'])[0]).toBe(latin);
        cases++;
      }),
      { numRuns: 300, seed: 20261121 },
    );
    expect(cases).toBe(300);
  });

  it('renderContextSh writes sorted keys with a header', () => {
    expect(renderContextSh({ B: "it's", A: 'x' })).toBe("# Context variables generated by OpenNebula\nA='x'\nB='it'\\''s'\n");
  });
});

/** How dash ends sourcing `file`: its exit status, stderr and (when it succeeded) the values of `names`. */
function dashSource(dir: string, file: string, names: readonly string[]): { status: number | null; stderr: string; values: string[] } {
  const path = join(dir, 'context.sh');
  writeFileSync(path, file);
  const script = `. ${path}; printf '%s\\0' ${names.map((n) => `"$${n}"`).join(' ')}`;
  const r = spawnSync('dash', ['-c', script], { env: {}, encoding: 'latin1' });
  return { status: r.status, stderr: r.stderr, values: r.stdout.split('\0').slice(0, names.length) };
}

describe('context.sh: readonly, checked against dash itself', () => {
  // dash stops (exit 2, "NAME: is read only") at the line given: the whole file is rejected there
  const fatal: Array<[string, number]> = [
    ['readonly PASSWORD=good\nPASSWORD=evil\n', 2],
    ['readonly A\nA=x\n', 2],
    ['export A=1\nreadonly A\nA=2\n', 3],
    ['readonly A=1 B=2\nB=3\n', 2],
    ['readonly A=1 A=2\n', 1],
    ['readonly A=1\nA=1\n', 2],
    ['readonly A=1\nexport A=2\n', 2],
    ['readonly A=1\nreadonly A=2\n', 2],
    ['readonly A=1 B\nB=2\n', 2],
    ['readonly A=1\nB=2 A=3\n', 2],
    ['A=0\nreadonly A # comment\n\nA=1\n', 4],
    ["readonly A='multi\nline'\nA=2\n", 3],
  ];
  for (const [input, line] of fatal) {
    it(`${JSON.stringify(input)}: dash stops at line ${line}, vmctx rejects it there`, async () => {
      const dash = dashSource(await tempDir(), input, ['A']);
      expect(dash.status).toBe(2);
      expect(dash.stderr).toMatch(new RegExp(`: ${line}: .*is read only`));
      expect(() => parseContextSh(b(input))).toThrow(expect.objectContaining({ code: 'ERR_CONTEXT_SYNTAX', details: { line } }) as Error);
      expect(() => parseContextSh(b(input))).toThrow(/is read-only \(readonly on line \d+\)/);
    });
  }

  // dash fails on these too; vmctx already rejects them as commands
  const failing: string[] = ['readonly A=1\nunset A\n', 'export -r A=1\n', 'readonly -- A=1\nA=2\n'];
  for (const input of failing) {
    it(`${JSON.stringify(input)}: dash fails, vmctx rejects the file`, async () => {
      const dash = dashSource(await tempDir(), input, ['A']);
      expect(dash.status).toBe(2);
      expect(() => parseContextSh(b(input))).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_CONTEXT_(SYNTAX|COMMAND)$/) as string }) as Error);
    });
  }

  // dash accepts these: same values
  const accepted: string[] = ['readonly A=1\nexport A\n', 'readonly A\nreadonly A\nB=2\n', 'readonly A=1\nreadonly A\n', 'A=1\nreadonly B=2 A\n', "readonly B='x'\nA=y\n"];
  for (const input of accepted) {
    it(`${JSON.stringify(input)}: dash accepts it, vmctx gives dash's values`, async () => {
      const dash = dashSource(await tempDir(), input, ['A', 'B']);
      expect(dash.status).toBe(0);
      const ours = parse(input);
      expect([ours['A'] ?? '', ours['B'] ?? '']).toEqual(dash.values);
    });
  }
});
