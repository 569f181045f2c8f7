// The layer rules, enforced: only host/ touches the machine, the image builder does not import
// agent/, formats/ and network/ stay pure, only cli/ imports cli/, and the imports form no cycle.
// The checker is proved on small in-memory fixtures first, then run over the real src/ tree.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkLayers, findCycles, importsOf, type Violation } from './imports.js';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = join(dir, d.name);
    if (d.isDirectory()) return sources(full);
    return d.isFile() && d.name.endsWith('.ts') ? [full] : [];
  });
}

function check(files: Record<string, string>): Violation[] {
  return checkLayers(new Map(Object.entries(files)));
}

describe('the layer checker on fixtures', () => {
  it('reads import, export-from, dynamic import() and import-type specifiers', () => {
    const text = [
      "import { a, type B } from './a.js';",
      "import type { C } from './c.js';",
      "import { type D } from './d.js';",
      "import * as e from 'node:fs';",
      "import './side.js';",
      "export { f } from './f.js';",
      "export type { G } from './g.js';",
      "export * from './h.js';",
      "const i = await import('./i.js');",
      "let j: import('./j.js').J;",
    ].join('\n');
    const known = new Set(['src/x/a.ts', 'src/x/c.ts', 'src/x/d.ts', 'src/x/f.ts', 'src/x/g.ts', 'src/x/h.ts', 'src/x/i.ts', 'src/x/j.ts', 'src/x/side.ts']);
    const edges = importsOf('src/x/m.ts', text, known).map((e) => [e.specifier, e.to, e.typeOnly, e.whole, e.names.join(','), e.line]);
    expect(edges).toEqual([
      ['./a.js', 'src/x/a.ts', false, false, 'a,B', 1],
      ['./c.js', 'src/x/c.ts', true, false, 'C', 2],
      ['./d.js', 'src/x/d.ts', true, false, 'D', 3],
      ['node:fs', undefined, false, true, '', 4],
      ['./side.js', 'src/x/side.ts', false, true, '', 5],
      ['./f.js', 'src/x/f.ts', false, false, 'f', 6],
      ['./g.js', 'src/x/g.ts', true, false, 'G', 7],
      ['./h.js', 'src/x/h.ts', false, true, '', 8],
      ['./i.js', 'src/x/i.ts', false, true, '', 9],
      ['./j.js', 'src/x/j.ts', true, true, '', 10],
    ]);
  });

  it('reports a machine import in agent/, network/, formats/ and cli/, with the prefix or without', () => {
    const v = check({
      'src/agent/modules/m.ts': "import { readFile } from 'node:fs/promises';\n",
      'src/network/n.ts': "import { execFile } from 'child_process';\n",
      'src/formats/f.ts': "import * as fs from 'fs';\n",
      'src/cli/c.ts': "import { hostname } from 'node:os';\n",
      'src/agent/d.ts': "const net = await import('node:net');\n",
      'src/host/ok.ts': "import { readFile } from 'node:fs/promises';\nimport { execFile } from 'node:child_process';\n",
    });
    expect(v.map((x) => `${x.rule} ${x.file}`)).toEqual(['machine src/agent/modules/m.ts', 'machine src/network/n.ts', 'process src/network/n.ts', 'machine src/formats/f.ts', 'machine src/cli/c.ts', 'machine src/agent/d.ts']);
    expect(v[0]?.message).toContain("src/agent/modules/m.ts:1 imports 'node:fs/promises'");
  });

  it("allows node:net's pure isIP/isIPv4/isIPv6 as named imports only, and type-only imports", () => {
    expect(check({
      'src/formats/ip.ts': "import { isIP, isIPv4, isIPv6 } from 'node:net';\n",
      'src/agent/t.ts': "import type { Socket } from 'node:net';\nimport type { Stats } from 'node:fs';\n",
    })).toEqual([]);
    const v = check({
      'src/formats/ip.ts': "import { isIP, createServer } from 'node:net';\n",
      'src/network/ns.ts': "import * as net from 'node:net';\n",
    });
    expect(v.map((x) => `${x.rule} ${x.file}`)).toEqual(['machine src/formats/ip.ts', 'machine src/network/ns.ts']);
  });

  it('reports image/ importing agent/, formats/ or network/ importing host/ or agent/, and anything but cli/ importing cli/', () => {
    const v = check({
      'src/image/bake.ts': "import { CONFIG } from '../agent/config.js';\n",
      'src/agent/config.ts': 'export const CONFIG = 1;\n',
      'src/formats/x.ts': "import { Root } from '../host/root.js';\n",
      'src/network/y.ts': "import type { Context } from '../agent/context.js';\n",
      'src/host/root.ts': 'export class Root {}\n',
      'src/agent/context.ts': 'export interface Context { a: 1 }\n',
      'src/agent/run.ts': "import { exit } from '../cli/exit.js';\n",
      'src/cli/main.ts': "import { exit } from './exit.js';\n",
      'src/cli/exit.ts': 'export const exit = 1;\n',
    });
    expect(v.map((x) => `${x.rule} ${x.file}`)).toEqual(['image-agent src/image/bake.ts', 'pure-layer src/formats/x.ts', 'pure-layer src/network/y.ts', 'cli-only src/agent/run.ts']);
    expect(v[0]?.message).toContain("src/image/bake.ts:1 imports '../agent/config.js'");
  });

  it('reports a process started outside host/ (image/ and provider/ included), not in host/', () => {
    const v = check({
      'src/image/chroot.ts': "import { spawn } from 'node:child_process';\n",
      'src/provider/media.ts': "import { execFile } from 'child_process';\n",
      'src/host/exec.ts': "import { spawn } from 'node:child_process';\n",
    });
    expect(v.map((x) => `${x.rule} ${x.file}`)).toEqual(['process src/image/chroot.ts', 'process src/provider/media.ts']);
    expect(v[0]?.message).toContain('only through host/exec.ts');
  });

  it('reports a cycle of value imports, and one that only type imports close separately', () => {
    const v = check({
      'src/a/one.ts': "import { two } from './two.js';\nexport const one = two;\n",
      'src/a/two.ts': "import { three } from './three.js';\nexport const two = three;\n",
      'src/a/three.ts': "import { one } from './one.js';\nexport const three = 3;\n",
      'src/b/types.ts': "import type { U } from './use.js';\nexport interface T { u: U }\n",
      'src/b/use.ts': "import type { T } from './types.js';\nexport interface U { t?: T }\n",
      'src/c/self.ts': "import { x } from './self.js';\nexport const x = 1;\n",
      'src/d/free.ts': "import { one } from '../a/one.js';\n",
    });
    expect(v.filter((x) => x.rule === 'cycle').map((x) => x.message)).toEqual([
      'import cycle (value imports) among src/a/one.ts, src/a/three.ts, src/a/two.ts: src/a/one.ts -> src/a/two.ts -> src/a/three.ts -> src/a/one.ts',
      'import cycle (value imports) among src/c/self.ts: src/c/self.ts -> src/c/self.ts',
    ]);
    expect(v.filter((x) => x.rule === 'type-cycle').map((x) => x.message)).toEqual(['import cycle (closed by type-only imports) among src/b/types.ts, src/b/use.ts: src/b/types.ts -> src/b/use.ts -> src/b/types.ts']);
    expect(v.filter((x) => x.rule !== 'cycle' && x.rule !== 'type-cycle')).toEqual([]);
  });

  it('finds no cycle in a graph without one', () => {
    const known = new Set(['src/a.ts', 'src/b.ts', 'src/c.ts']);
    const edges = [...importsOf('src/a.ts', "import './b.js';\nimport './c.js';", known), ...importsOf('src/b.ts', "import './c.js';", known)];
    expect(findCycles(edges)).toEqual([]);
  });

  it('reports a relative import of a file that does not exist (a rule cannot pass by missing the file)', () => {
    expect(check({ 'src/agent/a.ts': "import { x } from './gone.js';\nimport text from '../../systemd/unit.service?raw';\n" }).map((x) => x.rule)).toEqual(['unresolved']);
  });
});

describe('the layer rules on src/', () => {
  it('hold: no machine access outside host/ and image/, no image -> agent, no impure formats/network, no cycle', () => {
    const files = new Map(sources(join(root, 'src')).map((f) => [relative(root, f).split('\\').join('/'), readFileSync(f, 'utf8')]));
    expect(files.size).toBeGreaterThan(50);
    const violations = checkLayers(files);
    // every offender, one per line, so a failing run lists all of them at once
    expect(violations.map((v) => `[${v.rule}] ${v.message}`).join('\n')).toBe('');
  });
});
