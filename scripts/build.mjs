// Bundles the CLI into one file, dist/vmctx.js, runnable as `node dist/vmctx.js` anywhere
// (no package.json needed next to it: it is CommonJS, and dist/package.json says so for the repo).
import { build } from 'esbuild';
import { mkdir, writeFile, readFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
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

await build({
  plugins: [rawText, ext2fsFix],
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/vmctx.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  legalComments: 'none',
  banner: { js: '#!/usr/bin/env node' },
  define: { __VMCTX_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
await chmod('dist/vmctx.js', 0o755);
