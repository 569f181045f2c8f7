// npm run bench: runs the benchmarks and writes bench/results/latest.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { benchAgent } from './agent.mjs';
import { benchMetadata } from './metadata.mjs';
import { benchBake } from './bake.mjs';
import { benchBoot } from './boot.mjs';
import { bootChart } from './chart.mjs';
import { benchMkdisk } from './mkdisk.mjs';
import { benchSparsecopy } from './sparsecopy.mjs';

const results = { date: new Date().toISOString(), node: process.version, agent: await benchAgent(), metadata: await benchMetadata(), bake: await benchBake(), mkdisk: await benchMkdisk(), sparsecopy: await benchSparsecopy(), boot: await benchBoot() };
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/latest.json', `${JSON.stringify(results, null, 2)}\n`);
await writeFile('bench/results/boot.svg', bootChart(results.boot));
console.log('\nwrote bench/results/latest.json');
