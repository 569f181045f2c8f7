// Benchmark: `vmctx sparsecopy` against `cp --sparse=always` and `dd conv=sparse` on the same
// inputs: an 8 GiB file holding 100 MiB of data (ten 10 MiB pieces, the rest holes) and the same
// 100 MiB as a plain file. vmctx runs twice: as it is (holes from the extent map, never read) and
// with --no-extent-map (every byte read and compared, as dd does). Medians of BENCH_SPARSECOPY_RUNS
// (5), each copy checked once with cmp; the page cache is left warm for all (sources were just
// written), destinations removed between runs.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, sh, timed } from './stats.mjs';

const RUNS = Number(process.env.BENCH_SPARSECOPY_RUNS ?? 5);
const MiB = 1024 * 1024;
const bundle = resolve('dist/vmctx.js');


async function makeInput(path, size, pieces) {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(size);
    const piece = randomBytes(10 * MiB);
    for (const off of pieces) await fh.write(piece, 0, piece.length, off);
  } finally {
    await fh.close();
  }
}

const TOOLS = {
  'vmctx sparsecopy': (src, dst) => [process.execPath, [bundle, 'sparsecopy', '-q', src, dst]],
  'vmctx sparsecopy --no-extent-map': (src, dst) => [process.execPath, [bundle, 'sparsecopy', '-q', '--no-extent-map', src, dst]],
  'cp --sparse=always': (src, dst) => ['cp', ['--sparse=always', src, dst]],
  'dd conv=sparse bs=1M': (src, dst) => ['dd', [`if=${src}`, `of=${dst}`, 'bs=1M', 'conv=sparse', 'status=none']],
};

export async function benchSparsecopy() {
  const base = await mkdtemp(join(tmpdir(), 'vmctx-bench-sparsecopy-'));
  try {
    const inputs = {
      '8 GiB, 100 MiB data': join(base, 'big.img'),
      '100 MiB data alone': join(base, 'small.img'),
    };
    await makeInput(inputs['8 GiB, 100 MiB data'], 8 * 1024 * MiB, Array.from({ length: 10 }, (_, i) => i * 800 * MiB));
    await makeInput(inputs['100 MiB data alone'], 100 * MiB, Array.from({ length: 10 }, (_, i) => i * 10 * MiB));
    const result = { runs: RUNS, inputs: {} };
    for (const [name, src] of Object.entries(inputs)) {
      const times = Object.fromEntries(Object.keys(TOOLS).map((t) => [t, []]));
      const allocated = {};
      for (let i = 0; i < RUNS; i++) {
        // the order turns each run, so no tool always goes first
        const order = Object.keys(TOOLS).map((_, k, a) => a[(k + i) % a.length]);
        for (const tool of order) {
          const dst = join(base, 'out.img');
          const [cmd, args] = TOOLS[tool](src, dst);
          times[tool].push(timed(cmd, args));
          if (i === 0) {
            if (spawnSync('cmp', [src, dst]).status !== 0) throw new Error(`${tool}: the copy of ${name} differs from its source`);
            allocated[tool] = (await stat(dst)).blocks * 512;
          }
          await rm(dst);
        }
      }
      result.inputs[name] = Object.fromEntries(Object.entries(times).map(([t, a]) => [t, { medianMs: median(a), minMs: Math.min(...a), maxMs: Math.max(...a), allocatedBytes: allocated[t] }]));
    }
    const big = result.inputs['8 GiB, 100 MiB data'];
    const small = result.inputs['100 MiB data alone'];
    result.ratios = {
      // "8 GiB with 100 MiB of data takes about as long as the 100 MiB"
      vmctxBigOverSmall: big['vmctx sparsecopy'].medianMs / small['vmctx sparsecopy'].medianMs,
      cpOverVmctxBig: big['cp --sparse=always'].medianMs / big['vmctx sparsecopy'].medianMs,
      ddOverVmctxBig: big['dd conv=sparse bs=1M'].medianMs / big['vmctx sparsecopy'].medianMs,
      noMapOverMapBig: big['vmctx sparsecopy --no-extent-map'].medianMs / big['vmctx sparsecopy'].medianMs,
    };
    console.log(`sparsecopy: median of ${RUNS} runs (ms), warm page cache`);
    for (const [name, tools] of Object.entries(result.inputs)) {
      console.log(`  ${name}`);
      for (const [tool, v] of Object.entries(tools)) console.log(`    ${tool.padEnd(34)} ${v.medianMs.toFixed(0).padStart(6)}  (min ${v.minMs.toFixed(0)}, max ${v.maxMs.toFixed(0)}; ${(v.allocatedBytes / MiB).toFixed(1)} MiB allocated)`);
    }
    const r = result.ratios;
    console.log(`  vmctx 8 GiB / 100 MiB: ${r.vmctxBigOverSmall.toFixed(2)}x; on 8 GiB: cp / vmctx ${r.cpOverVmctxBig.toFixed(2)}x, dd / vmctx ${r.ddOverVmctxBig.toFixed(2)}x, --no-extent-map / vmctx ${r.noMapOverMapBig.toFixed(2)}x`);
    return result;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchSparsecopy();
