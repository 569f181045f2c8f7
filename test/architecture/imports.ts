// The layer checker: reads the import specifiers of TypeScript sources (import, export-from,
// dynamic import()) and reports the imports the layer rules forbid and the cycles of the graph.
// Pure: it takes file texts keyed by repository path, so tests can feed it small fixtures.
import ts from 'typescript';
import path from 'node:path/posix';

export interface ImportEdge {
  /** The importing file, as given (e.g. "src/agent/run.ts"). */
  readonly from: string;
  /** The specifier as written. */
  readonly specifier: string;
  /** The file a relative specifier names (".js" read as ".ts"), undefined for packages and node: modules. */
  readonly to: string | undefined;
  /** `import type`, `export type`, or every named binding type-only: erased at compile time. */
  readonly typeOnly: boolean;
  /** The named bindings (`import { a, b as c }` gives a, b), empty for default/namespace/side-effect imports. */
  readonly names: readonly string[];
  /** `import x from` / `import * as x from` / side-effect import / `export * from` / import(): the whole module. */
  readonly whole: boolean;
  readonly line: number;
}

export interface Violation {
  readonly rule: 'machine' | 'process' | 'image-agent' | 'pure-layer' | 'cli-only' | 'cycle' | 'type-cycle' | 'unresolved';
  readonly file: string;
  readonly message: string;
}

/** The import edges of one source text. */
export function importsOf(file: string, text: string, known: ReadonlySet<string>): ImportEdge[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const edges: ImportEdge[] = [];
  const add = (node: ts.Node, specifier: string, typeOnly: boolean, names: readonly string[], whole: boolean): void => {
    const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
    edges.push({ from: file, specifier, to: resolveSpecifier(file, specifier, known), typeOnly, names, whole, line });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const bindings = clause?.namedBindings;
      const named = bindings !== undefined && ts.isNamedImports(bindings) ? bindings.elements : undefined;
      const names = named?.map((e) => (e.propertyName ?? e.name).text) ?? [];
      const whole = clause === undefined || clause.name !== undefined || (bindings !== undefined && ts.isNamespaceImport(bindings));
      const typeOnly = clause !== undefined && (clause.phaseModifier === ts.SyntaxKind.TypeKeyword || (!whole && named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node, node.moduleSpecifier.text, typeOnly, names, whole);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const named = clause !== undefined && ts.isNamedExports(clause) ? clause.elements : undefined;
      const names = named?.map((e) => (e.propertyName ?? e.name).text) ?? [];
      const typeOnly = node.isTypeOnly || (named !== undefined && named.length > 0 && named.every((e) => e.isTypeOnly));
      add(node, node.moduleSpecifier.text, typeOnly, names, named === undefined);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg !== undefined && ts.isStringLiteralLike(arg)) add(node, arg.text, false, [], true);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node, node.argument.literal.text, true, [], true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edges;
}

function resolveSpecifier(file: string, specifier: string, known: ReadonlySet<string>): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  // a bundler query (`?raw`: a file's text) names the file without it
  const joined = path.normalize(path.join(path.dirname(file), specifier.replace(/\?.*$/su, '')));
  const candidates = [joined.replace(/\.js$/u, '.ts'), joined.replace(/\.js$/u, '.d.ts'), joined, `${joined}.ts`, `${joined}/index.ts`];
  return candidates.find((c) => known.has(c)) ?? joined;
}

/** Modules that touch the machine (files, processes, sockets, the host's name). */
const MACHINE_MODULES = new Set(['fs', 'fs/promises', 'child_process', 'net', 'os', 'dgram', 'tls', 'http', 'https', 'http2', 'cluster', 'worker_threads']);
/** The pure functions of those modules: allowed as named imports only. */
const PURE_NAMES: Readonly<Record<string, ReadonlySet<string>>> = { net: new Set(['isIP', 'isIPv4', 'isIPv6']) };
/** The layers that must not touch the machine. */
const NO_MACHINE = ['src/agent/', 'src/network/', 'src/formats/', 'src/cli/'];

function layerOf(file: string): string | undefined {
  return /^src\/([^/]+)\//u.exec(file)?.[1];
}

function machineModule(specifier: string): string | undefined {
  const bare = specifier.replace(/^node:/u, '');
  return MACHINE_MODULES.has(bare) ? bare : undefined;
}

/** Every layer-rule violation among the given files (paths relative to the repository, texts as read). */
export function checkLayers(files: ReadonlyMap<string, string>): Violation[] {
  const known = new Set(files.keys());
  const violations: Violation[] = [];
  const edges: ImportEdge[] = [];
  for (const [file, text] of files) edges.push(...importsOf(file, text, known));
  const where = (e: ImportEdge): string => `${e.from}:${e.line} imports '${e.specifier}'`;
  for (const e of edges) {
    const fromLayer = layerOf(e.from);
    const toLayer = e.to === undefined ? undefined : layerOf(e.to);
    const machine = machineModule(e.specifier);
    if (machine !== undefined && !e.typeOnly && NO_MACHINE.some((p) => e.from.startsWith(p))) {
      const pure = PURE_NAMES[machine];
      const allowed = pure !== undefined && !e.whole && e.names.length > 0 && e.names.every((n) => pure.has(n));
      if (!allowed) violations.push({ rule: 'machine', file: e.from, message: `${where(e)}: only src/host/ touches the machine (${fromLayer ?? '?'}/ may not import ${e.specifier}${pure === undefined ? '' : ` except { ${[...pure].join(', ')} }`})` });
    }
    if (e.to?.startsWith('src/') === true && /\.(ts|js)$/u.test(e.to) && !known.has(e.to)) violations.push({ rule: 'unresolved', file: e.from, message: `${where(e)}: no such file ${e.to}` });
    // processes start in one place, always with a deadline (host/exec.ts): image/ and provider/ too
    if ((machine === 'child_process') && !e.typeOnly && e.from.startsWith('src/') && !e.from.startsWith('src/host/')) violations.push({ rule: 'process', file: e.from, message: `${where(e)}: processes start only through host/exec.ts (one runner, always with a deadline)` });
    if (fromLayer === 'image' && toLayer === 'agent') violations.push({ rule: 'image-agent', file: e.from, message: `${where(e)}: the image builder may not import agent/ (shared constants belong in shared/)` });
    if ((fromLayer === 'formats' || fromLayer === 'network') && (toLayer === 'host' || toLayer === 'agent')) violations.push({ rule: 'pure-layer', file: e.from, message: `${where(e)}: ${fromLayer}/ is pure and may not import ${toLayer}/` });
    if (toLayer === 'cli' && fromLayer !== 'cli' && e.from.startsWith('src/')) violations.push({ rule: 'cli-only', file: e.from, message: `${where(e)}: only cli/ may import cli/` });
  }
  const valueCycles = findCycles(edges.filter((e) => !e.typeOnly));
  for (const c of valueCycles) violations.push({ rule: 'cycle', file: c.path[0] ?? '', message: `import cycle (value imports) among ${c.files.join(', ')}: ${describeCycle(c)}` });
  // a cycle that only type imports close is erased at run time but still ties the files together
  const seen = new Set(valueCycles.map((c) => c.files.join(' ')));
  for (const c of findCycles(edges)) {
    if (!seen.has(c.files.join(' '))) violations.push({ rule: 'type-cycle', file: c.path[0] ?? '', message: `import cycle (closed by type-only imports) among ${c.files.join(', ')}: ${describeCycle(c)}` });
  }
  return violations;
}

export interface Cycle {
  /** Every file of the strongly connected component, sorted. */
  readonly files: readonly string[];
  /** One concrete cycle through its first file (the last file imports the first). */
  readonly path: readonly string[];
}

function describeCycle(c: Cycle): string {
  return [...c.path, c.path[0] ?? ''].join(' -> ');
}

/** The strongly connected components of more than one file (or a file importing itself), each with one cycle through them. */
export function findCycles(edges: readonly ImportEdge[]): Cycle[] {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if (e.to === undefined) continue;
    let targets = graph.get(e.from);
    if (targets === undefined) graph.set(e.from, (targets = new Set()));
    targets.add(e.to);
  }
  // Tarjan's algorithm, iterative enough for a few hundred files
  let index = 0;
  const indexes = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strong = (v: string): void => {
    indexes.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexes.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, indexes.get(w) ?? 0));
    }
    if (low.get(v) === indexes.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v) === true) components.push(component);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indexes.has(v)) strong(v);
  // name each component by one concrete cycle through its first file, so the message reads as a path
  return components
    .map((component) => {
      const files = [...component].sort();
      return { files, path: cycleThrough(graph, new Set(files), files[0] ?? '') };
    })
    .sort((a, b) => (a.files[0] ?? '').localeCompare(b.files[0] ?? ''));
}

function cycleThrough(graph: ReadonlyMap<string, ReadonlySet<string>>, members: ReadonlySet<string>, start: string): string[] {
  // breadth-first from start back to start, inside the component
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() ?? '';
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const cycle = [v];
        while (cycle[0] !== start) cycle.unshift(previous.get(cycle[0] ?? '') ?? start);
        return cycle;
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}
