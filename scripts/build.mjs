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

await build({
  plugins: [rawText],
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
