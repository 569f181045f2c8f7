import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { vmctx } from '../helpers/cli.js';
import { scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';
import { THREE_MISTAKES } from '../helpers/validate.js';

/** "LINE severity: message" of every warning or error line, whoever printed it. */
function problems(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /(?:^|\s|\/)context\.sh:(\d+)(?::\d+)?: (warning|error): (.*)$/u.exec(line);
    if (m !== null) out.push(`${m[1]} ${m[2]}: ${m[3]}`);
  }
  return out.sort();
}

async function threeMistakes(): Promise<{ dir: string; file: string }> {
  const dir = await tempDir();
  const file = join(dir, 'context.sh');
  await writeFile(file, THREE_MISTAKES);
  return { dir, file };
}

describe('vmctx validate (the command)', () => {
  it('three mistakes: three lines file:line:col: severity: message, exit 4', async () => {
    const { file } = await threeMistakes();
    const r = vmctx(['validate', file]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe(
      [
        `${file}:4:1: warning: SET_HOSTNAM: unknown variable (did you mean SET_HOSTNAME?); not applied`,
        `${file}:14:5: warning: USER_DATA: write_files[0]: unknown key "contnet" (did you mean "content"?); the entry has no content, so /etc/motd is not written (not even empty)`,
        `${file}:20:14: error: USER_DATA: cloud-config is not YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
        '',
      ].join('\n'),
    );
    expect(r.stderr).toBe('vmctx: 1 error(s), 2 warning(s)\n');
  });

  it('--json for machines: the same diagnostics with line and column', async () => {
    const { file } = await threeMistakes();
    const r = vmctx(['validate', '--json', file]);
    expect(r.code).toBe(4);
    const doc = JSON.parse(r.stdout) as { ok: boolean; problems: number; diagnostics: Array<{ file: string; line: number; col: number; severity: string }> };
    expect(doc.ok).toBe(false);
    expect(doc.problems).toBe(3);
    expect(doc.diagnostics.map((d) => [d.line, d.col, d.severity])).toEqual([[4, 1, 'warning'], [14, 5, 'warning'], [20, 14, 'error']]);
  });

  it('the examples/ directory validates clean (exit 0), every file and as a medium; --verbose lists the unused names', async () => {
    const files = (await readdir('examples', { recursive: true, withFileTypes: true })).filter((e) => e.isFile() && !e.name.endsWith('.sh') || e.name === 'context.sh').map((e) => join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThan(0);
    const r = vmctx(['validate', ...files]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', 'vmctx: valid: no problems found\n']);
    for (const dir of await readdir('examples')) expect(vmctx(['validate', '--source', join('examples', dir)]).code).toBe(0);
    expect(vmctx(['validate', '--verbose', 'examples/opennebula/context.sh']).stdout).toMatch(/context\.sh:2:1: info: DISK_ID: known, not used by vmctx/u);
  });

  it('an ISO made by make-iso is checked through the same reader as the run', async () => {
    const dir = await tempDir();
    const iso = join(dir, 'ctx.iso');
    expect(vmctx(['make-iso', '-o', iso, '--var', 'SET_HOSTNAME=a', '--var', 'USERNAM=deploy']).code).toBe(0);
    const r = vmctx(['validate', '--source', iso]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/ctx\.iso\/context\.sh:3:1: warning: USERNAM: unknown variable \(did you mean USERNAME\?\); not applied\n$/u);
  });

  it('nothing to check, or a path that is not there, is a usage error (exit 2)', () => {
    expect(vmctx(['validate']).code).toBe(2);
    const r = vmctx(['validate', '/nonexistent/context.sh']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/validate: \/nonexistent\/context\.sh: .*no such file/iu);
  });

  it('show and run --dry-run print the same warnings as validate (one shared check)', async () => {
    const { dir, file } = await threeMistakes();
    const fromValidate = problems(vmctx(['validate', file]).stdout);
    expect(fromValidate).toHaveLength(3);
    const root = await scratchRoot();
    const show = vmctx(['show', '--source', dir, '--root', root, '--state-dir', join(root, 'state')]);
    expect(show.code).toBe(0);
    expect(problems(show.stderr)).toEqual(fromValidate);
    const run = vmctx(['run', '--dry-run', '--source', dir, '--root', root, '--state-dir', join(root, 'state')]);
    expect(problems(run.stderr)).toEqual(fromValidate);
    // and the report carries them, with their lines
    const json = vmctx(['run', '--dry-run', '--json', '-q', '--source', dir, '--root', root, '--state-dir', join(root, 'state')]).stdout;
    // stdout is one JSON document, the dry run's plan inside it
    const report = JSON.parse(json) as { warnings: Array<{ variable: string; line: number }>; dryRun: { changes: unknown[] } };
    expect(report.dryRun.changes.length).toBeGreaterThan(0);
    expect(report.warnings.map((w) => [w.variable, w.line])).toEqual([['SET_HOSTNAM', 4], ['USER_DATA', 14], ['USER_DATA', 20]]);
  });

  it('regression contnet: a real run does not write an empty file for a write_files entry whose content key is misspelled', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'context.sh'), "USER_DATA='#cloud-config\nwrite_files:\n  - path: /etc/motd\n    contnet: hello\n  - path: /etc/issue.vmctx\n    content: hi\n'\n");
    const root = await scratchRoot();
    const r = vmctx(['run', '--source', dir, '--root', root, '--state-dir', join(root, 'state')]);
    expect(r.stderr).toMatch(/context\.sh:4:5: warning: USER_DATA: write_files\[0\]: unknown key "contnet" \(did you mean "content"\?\)/u);
    // the correct entry is written; the misspelled one is not, not even empty
    expect((await stat(join(root, 'etc/issue.vmctx'))).size).toBe(2);
    await expect(stat(join(root, 'etc/motd'))).rejects.toThrow(/ENOENT/u);
  });
});
