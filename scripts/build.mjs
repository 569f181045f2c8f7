// Bundles the CLI into one file, dist/vmctx.js, runnable as `node dist/vmctx.js` anywhere
// (no package.json needed next to it: it is CommonJS, and dist/package.json says so for the repo).
import { build } from 'esbuild';
import { appendFile, mkdir, writeFile, readFile, chmod } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
/** The syntax the bundle may use: the oldest Node package.json's engines.node allows (">=N"), Debian 12's 18. */
const NODE_TARGET = `node${/^>=\s*(\d+)$/u.exec(pkg.engines?.node ?? '')?.[1] ?? (() => { throw new Error('package.json engines.node must be ">=N"'); })()}`;
await mkdir('dist', { recursive: true });
await writeFile('dist/package.json', '{ "type": "commonjs" }\n');
/** `import text from './file?raw'` embeds a file's text (systemd units and other static assets). */
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: join(args.resolveDir, args.path.slice(0, -4)), namespace: 'raw-text' }));
    b.onLoad({ filter: /.*/, namespace: 'raw-text' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

/**
 * ext2fs 4.2.5's lib/fs.js assigns to two constants in code paths vmctx never calls (realpath, read
 * streams); Node only fails there at run time, esbuild refuses to bundle it. They become `let`.
 */
const ext2fsFix = {
  name: 'ext2fs-const-fix',
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/]ext2fs[\\/]lib[\\/]fs\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const fixed = source.replace("const path = require('path');", "let path = require('path');").replace('const toRead = Math.min(pool.length', 'let toRead = Math.min(pool.length');
      return { contents: fixed, loader: 'js' };
    });
  },
};

/**
 * The agent starts on every boot and V8 parses all of a script before running it: big libraries
 * used only off the common path must not cost every boot their parse time. Each is bundled on its
 * own, gzipped and appended to dist/vmctx.js inside a trailing comment (V8 skips a comment almost
 * for free); the first import() reads it back from the bundle's own file and evaluates it.
 * ext2fs: only `vmctx bake`; got: only the HTTP metadata fallback; systeminformation: only the last
 * resort of medium discovery (block devices with an ISO 9660 signature).
 */
const LAZY = { ext2fs: 'node_modules/ext2fs/index.js', got: 'got', systeminformation: 'systeminformation' };
const payloads = {};
for (const [name, entry] of Object.entries(LAZY)) {
  const built = await build({
    plugins: name === 'ext2fs' ? [ext2fsFix] : [],
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: NODE_TARGET,
    format: 'cjs',
    write: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
  payloads[name] = gzipSync(Buffer.from(built.outputFiles[0].text, 'utf8'), { level: 9 }).toString('base64');
}
const lazyModules = {
  name: 'lazy-modules',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(${Object.keys(LAZY).join('|')})$`) }, (args) => ({ path: args.path, namespace: 'lazy-module' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-module' }, (args) => ({
      contents: [
        "const self = require('fs').readFileSync(__filename, 'latin1');",
        `const open = '/*VMCTX-LAZY:${args.path}\\n';`,
        `const begin = self.lastIndexOf(open);`,
        `const end = self.lastIndexOf('\\nVMCTX-LAZY:${args.path}*/');`,
        `if (begin < 0 || end < begin) throw new Error('the ${args.path} library embedded in ' + __filename + ' is missing');`,
        "const text = require('zlib').gunzipSync(Buffer.from(self.slice(begin + open.length, end), 'base64')).toString('utf8');",
        'const m = { exports: {} };',
        "new Function('module', 'exports', 'require', '__filename', '__dirname', text)(m, m.exports, require, __filename, __dirname);",
        'module.exports = m.exports;',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

/**
 * vmctx logs through pino to a file (sonic-boom) and never uses a pino transport, which would run
 * in a worker thread: thread-stream is left out, and pino's one other use of worker_threads (is
 * this the main thread?) is answered without loading it on every boot.
 */
const noWorkers = {
  name: 'no-workers',
  setup(b) {
    b.onResolve({ filter: /^thread-stream$/ }, () => ({ path: 'thread-stream', namespace: 'no-workers' }));
    b.onResolve({ filter: /^worker_threads$/ }, (args) => (/[\\/]node_modules[\\/]pino[\\/]/u.test(args.importer) ? { path: 'worker_threads', namespace: 'no-workers' } : undefined));
    b.onLoad({ filter: /^thread-stream$/, namespace: 'no-workers' }, () => ({
      contents: "module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not part of the vmctx bundle'); } };",
      loader: 'js',
    }));
    b.onLoad({ filter: /^worker_threads$/, namespace: 'no-workers' }, () => ({ contents: 'module.exports = { isMainThread: true };', loader: 'js' }));
  },
};

await build({
  plugins: [rawText, lazyModules, noWorkers],
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/vmctx.js',
  bundle: true,
  platform: 'node',
  target: NODE_TARGET,
  format: 'cjs',
  minifySyntax: true,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  define: { __VMCTX_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
// The loader runs the bundle as a vm.Script, which has no dynamic-import callback: an import() of
// a module esbuild leaves outside the bundle (a built-in) would fail there at run time only.
const left = /[^\w.$]import\(\s*["'`]([^"'`]+)/u.exec(await readFile('dist/vmctx.js', 'utf8'));
if (left !== null) throw new Error(`dist/vmctx.js keeps an import() of ${left[1]}: the loader cannot run it; use a static import`);
for (const [name, payload] of Object.entries(payloads)) await appendFile('dist/vmctx.js', `/*VMCTX-LAZY:${name}\n${payload}\nVMCTX-LAZY:${name}*/\n`);
await chmod('dist/vmctx.js', 0o755);
