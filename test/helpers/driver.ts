// Bundles test/helpers/script-driver.ts into a runnable file (tests that kill the agent mid-run).
import { join } from 'node:path';
import { tempDir } from './tmp.js';

export async function buildScriptDriver(): Promise<string> {
  const { build } = await import('esbuild');
  const driver = join(await tempDir(), 'driver.mjs');
  await build({
    entryPoints: ['test/helpers/script-driver.ts'],
    outfile: driver,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'silent',
    // names of its own: the bundled code may import createRequire itself (esbuild does not see the banner)
    banner: { js: "import { createRequire as __driverCreateRequire } from 'module'; const require = __driverCreateRequire(import.meta.url);" },
  });
  return driver;
}
