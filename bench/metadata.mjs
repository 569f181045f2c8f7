// Benchmark: contextualizing from the HTTP metadata service. A cold `vmctx run --source metadata`
// against `vmctx serve-metadata` on 127.0.0.1 (IMDSv2), next to the same context from an ISO in the
// same invocation; and the time to give up when nothing answers, with the default first-boot and
// later-boot budgets (cloud-init's EC2 datasource documents max_wait 120 s and timeout 50 s).
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { median } from './stats.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const GIVE_UP_RUNS = Number(process.env.BENCH_GIVE_UP_RUNS ?? 3);
const bundle = resolve('dist/vmctx.js');

function key(type, comment) {
  const name = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(name.length);
  return `${type} ${Buffer.concat([len, name, randomBytes(36)]).toString('base64')} ${comment}`;
}

const fmt = (a) => `median ${median(a).toFixed(1)}  min ${Math.min(...a).toFixed(1)}  max ${Math.max(...a).toFixed(1)}`;

async function scratchRoot(base, name) {
  const root = join(base, name);
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'root'), { mode: 0o700 });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(join(root, 'etc/group'), 'root:x:0:\n');
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n');
  return root;
}

function timed(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bundle, ...args], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: r.status, stderr: r.stderr };
}

async function closedPort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

export async function benchMetadata() {
  const base = await mkdtemp(join(tmpdir(), 'vmctx-bench-md-'));
  let server;
  try {
    const keys = [key('ssh-ed25519', 'a'), key('ssh-ed25519', 'b')];
    const desc = {
      'meta-data': { 'instance-id': 'i-bench', 'local-hostname': 'bench-md.example.com', 'local-ipv4': '10.0.0.5', 'public-keys': keys.map((k, i) => ({ name: `k${i}`, 'openssh-key': k })), placement: { 'availability-zone': 'z' } },
      'user-data': '#cloud-config\nwrite_files:\n  - path: /etc/bench\n    content: "x\\n"\n',
    };
    await writeFile(join(base, 'md.json'), JSON.stringify(desc));
    server = spawn(process.execPath, [bundle, 'serve-metadata', '--from', join(base, 'md.json'), '--listen', '127.0.0.1:0', '--imdsv2', 'required', '-q'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const url = await new Promise((resolveUrl, reject) => {
      let buf = '';
      server.stdout.on('data', (d) => {
        buf += d.toString();
        const m = /listening (\S+)/u.exec(buf);
        if (m) resolveUrl(m[1]);
      });
      server.on('exit', (c) => reject(new Error(`serve-metadata exited ${c}`)));
    });
    // the same context as an ISO, for the ratio
    const iso = join(base, 'ctx.iso');
    const made = spawnSync(process.execPath, [bundle, 'make-iso', '-o', iso, '--var', 'VMID=1', '--var', 'SET_HOSTNAME=bench-md.example.com', '--var', `SSH_PUBLIC_KEY=${keys.join('\n')}`, '--var', `USER_DATA=${desc['user-data']}`]);
    if (made.status !== 0) throw new Error(`make-iso failed: ${made.stderr}`);

    const md = [];
    const isoMs = [];
    timed(['--version']);
    for (let i = 0; i < RUNS; i++) {
      const a = timed(['run', '--source', 'metadata', '--metadata-url', url, '--root', await scratchRoot(base, `md-${i}`), '-q']);
      if (a.status !== 0) throw new Error(`vmctx run (metadata) exited ${a.status}: ${a.stderr}`);
      md.push(a.ms);
      const b = timed(['run', '--source', iso, '--root', await scratchRoot(base, `iso-${i}`), '-q']);
      if (b.status !== 0) throw new Error(`vmctx run (iso) exited ${b.status}: ${b.stderr}`);
      isoMs.push(b.ms);
    }
    // nothing listening: the first boot's budget, then a later boot's (a cached copy exists)
    const port = await closedPort();
    const dead = `http://127.0.0.1:${port}`;
    const giveUpFirst = [];
    const giveUpLater = [];
    for (let i = 0; i < GIVE_UP_RUNS; i++) {
      const root = await scratchRoot(base, `dead-${i}`);
      const a = timed(['run', '--source', 'metadata', '--metadata-url', dead, '--root', root, '-q']);
      if (a.status !== 6) throw new Error(`expected exit 6 when nothing answers, got ${a.status}`);
      giveUpFirst.push(a.ms);
      // a later boot: give the root a cached copy first
      const seeded = await scratchRoot(base, `later-${i}`);
      const ok = timed(['run', '--source', 'metadata', '--metadata-url', url, '--root', seeded, '-q']);
      if (ok.status !== 0) throw new Error('seeding the cache failed');
      const b = timed(['run', '--source', 'metadata', '--metadata-url', dead, '--root', seeded, '-q']);
      if (b.status !== 6) throw new Error(`expected exit 6 on a later boot with nothing answering, got ${b.status}`);
      giveUpLater.push(b.ms);
    }
    const result = {
      runs: RUNS,
      metadataRun: { medianMs: median(md), minMs: Math.min(...md), maxMs: Math.max(...md) },
      isoRun: { medianMs: median(isoMs), minMs: Math.min(...isoMs), maxMs: Math.max(...isoMs) },
      ratioMetadataToIso: median(md) / median(isoMs),
      giveUpFirstBoot: { runs: GIVE_UP_RUNS, medianMs: median(giveUpFirst), budgetMs: 10_000 },
      giveUpLaterBoot: { runs: GIVE_UP_RUNS, medianMs: median(giveUpLater), budgetMs: 3000 },
      cloudInitEc2Defaults: { maxWaitS: 120, timeoutS: 50, source: 'cloud-init docs, datasources/ec2.rst' },
    };
    console.log(`metadata: cold vmctx run from serve-metadata on 127.0.0.1 (IMDSv2), ${RUNS} runs each`);
    console.log(`  vmctx run --source metadata     ms: ${fmt(md)}`);
    console.log(`  vmctx run --source ctx.iso      ms: ${fmt(isoMs)}`);
    console.log(`  metadata / iso: ${result.ratioMetadataToIso.toFixed(2)}x`);
    console.log(`  nothing listening, first boot (budget 10 s)  ms: ${fmt(giveUpFirst)}  (exit 6)`);
    console.log(`  nothing listening, later boot (budget 3 s, cached copy used)  ms: ${fmt(giveUpLater)}  (exit 6)`);
    console.log('  cloud-init EC2 datasource defaults: max_wait 120 s, timeout 50 s per request');
    return result;
  } finally {
    server?.kill('SIGTERM');
    await rm(base, { recursive: true, force: true });
  }
}
