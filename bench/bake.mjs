// Benchmark: `vmctx bake` against virt-customize doing the same injection (the bundle, the loader,
// the launcher, three units and their enablement links) into the same 1 GiB ext3 image, in one
// invocation; and bake time on 1, 4 and 8 GiB sparse images (it should not grow with the image).
// virt-customize runs its appliance under TCG (LIBGUESTFS_BACKEND_SETTINGS=force_tcg), as here.
// libguestfs-tools is installed with apt when missing (root); without it that half is skipped
// and the JSON says why.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median } from './stats.mjs';

const RUNS = Number(process.env.BENCH_BAKE_RUNS ?? 5);
const VC_RUNS = Number(process.env.BENCH_VC_RUNS ?? 3);
const bundle = resolve('dist/vmctx.js');

const fmt = (a) => `median ${median(a).toFixed(0)}  min ${Math.min(...a).toFixed(0)}  max ${Math.max(...a).toFixed(0)}`;

function sh(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).slice(-800)}`);
  return r.stdout;
}

function timed(cmd, args, env) {
  const t0 = process.hrtime.bigint();
  sh(cmd, args, env);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function makeImage(base, name, size) {
  const tree = join(base, `tree-${name}`);
  for (const d of ['etc/ssh', 'usr/lib/systemd', 'home', 'root', 'var/log', 'bin', 'tmp']) await mkdir(join(tree, d), { recursive: true });
  // enough of an OS for libguestfs's inspection (virt-customize refuses an image without one)
  await writeFile(join(tree, 'etc/os-release'), 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n');
  await writeFile(join(tree, 'etc/debian_version'), '12.0\n');
  await writeFile(join(tree, 'etc/fstab'), '/dev/sda / ext3 defaults 0 1\n');
  sh('cp', ['/bin/sh', '/bin/ls', join(tree, 'bin/')]);
  await writeFile(join(tree, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(join(tree, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n');
  await writeFile(join(tree, 'usr/lib/systemd/systemd'), '');
  await writeFile(join(tree, 'etc/hosts'), '127.0.0.1 localhost\n');
  const img = join(base, `${name}.img`);
  sh('mke2fs', ['-F', '-q', '-t', 'ext3', '-d', tree, img, size]);
  return img;
}

function ensureVirtCustomize() {
  if (spawnSync('sh', ['-c', 'command -v virt-customize'], { encoding: 'utf8' }).status === 0) return undefined;
  if (process.getuid?.() !== 0) return 'virt-customize is not installed and this is not root';
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libguestfs-tools >/dev/null'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `installing libguestfs-tools failed: ${(r.stderr || '').slice(-300)}`;
}

export async function benchBake() {
  const base = await mkdtemp(join(tmpdir(), 'vmctx-bench-bake-'));
  try {
    const golden = await makeImage(base, 'golden-1g', '1G');
    const bakeOnce = (img) => timed(process.execPath, [bundle, 'bake', img, '--in-place', '--node', 'system', '--no-sysprep', '--no-zero', '--bundle', bundle]);
    const bake = [];
    for (let i = 0; i < RUNS; i++) {
      const img = join(base, `bake-${i}.img`);
      sh('cp', ['--sparse=always', golden, img]);
      bake.push(bakeOnce(img));
      await rm(img);
    }
    // the same files for virt-customize, from a staging directory
    const stage = join(base, 'stage');
    await mkdir(stage);
    const inst = join(base, 'installed');
    await mkdir(join(inst, 'usr/lib/systemd'), { recursive: true });
    await writeFile(join(inst, 'usr/lib/systemd/systemd'), '');
    sh(process.execPath, [bundle, 'install', '--root', inst, '--no-node']);
    const units = ['vmctx-local.service', 'vmctx-network.service', 'vmctx-final.service'];
    const wanted = { 'vmctx-local.service': 'sysinit.target', 'vmctx-network.service': 'multi-user.target', 'vmctx-final.service': 'multi-user.target' };
    const vcArgs = ['--no-network', '--mkdir', '/usr/lib/vmctx', '--upload', `${join(inst, 'usr/lib/vmctx/vmctx.js')}:/usr/lib/vmctx/vmctx.js`, '--upload', `${join(inst, 'usr/lib/vmctx/load.js')}:/usr/lib/vmctx/load.js`, '--mkdir', '/usr/sbin', '--upload', `${join(inst, 'usr/sbin/vmctx')}:/usr/sbin/vmctx`, '--chmod', '0755:/usr/sbin/vmctx', '--mkdir', '/usr/lib/systemd/system'];
    for (const u of units) vcArgs.push('--upload', `${join(inst, 'usr/lib/systemd/system', u)}:/usr/lib/systemd/system/${u}`, '--mkdir', `/etc/systemd/system/${wanted[u]}.wants`, '--link', `/usr/lib/systemd/system/${u}:/etc/systemd/system/${wanted[u]}.wants/${u}`);
    const vc = [];
    const why = ensureVirtCustomize();
    let vcError;
    if (why === undefined) {
      for (let i = 0; i < VC_RUNS; i++) {
        const img = join(base, `vc-${i}.img`);
        sh('cp', ['--sparse=always', golden, img]);
        try {
          vc.push(timed('virt-customize', ['--format', 'raw', '-a', img, ...vcArgs], { LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' }));
        } catch (error) {
          vcError = String(error.message).slice(-500);
          break;
        } finally {
          await rm(img);
        }
      }
    }
    // flat as the image grows: sparse images of 1, 4 and 8 GiB
    const sizes = {};
    for (const size of ['1G', '4G', '8G']) {
      const g = await makeImage(base, `size-${size}`, size);
      const runs = [];
      for (let i = 0; i < 3; i++) {
        const img = join(base, `s-${size}-${i}.img`);
        sh('cp', ['--sparse=always', g, img]);
        runs.push(bakeOnce(img));
        await rm(img);
      }
      await rm(g);
      sizes[size] = { medianMs: median(runs), runs };
    }
    const result = {
      runs: RUNS,
      bake1GiB: { medianMs: median(bake), minMs: Math.min(...bake), maxMs: Math.max(...bake) },
      virtCustomize1GiB: vc.length > 0 ? { runs: vc.length, medianMs: median(vc), minMs: Math.min(...vc), maxMs: Math.max(...vc) } : { skipped: why ?? vcError },
      ratio: vc.length > 0 ? median(vc) / median(bake) : undefined,
      bySize: sizes,
    };
    console.log(`bake: the same injection into a 1 GiB ext3 image (bundle, loader, launcher, 3 units + links)`);
    console.log(`  vmctx bake (${RUNS} runs)        ms: ${fmt(bake)}`);
    if (vc.length > 0) console.log(`  virt-customize, TCG (${vc.length} runs) ms: ${fmt(vc)}\n  virt-customize / vmctx bake: ${result.ratio.toFixed(0)}x (target >= 50x)`);
    else console.log(`  virt-customize: not measured (${why ?? vcError})`);
    console.log(`  vmctx bake by image size (median of 3): ${Object.entries(sizes).map(([s, v]) => `${s} ${v.medianMs.toFixed(0)} ms`).join(', ')}`);
    return result;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}
