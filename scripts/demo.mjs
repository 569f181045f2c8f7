// npm run demo: builds a context CD from examples/opennebula with vmctx's own ISO writer, prepares
// two small fake roots (plain resolv.conf, and systemd-resolved's stub symlink) and runs the agent
// on them: a dry run with diffs, the real run, the report, and a second run that changes nothing.
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const bundle = 'dist/vmctx.js';
const demo = 'demo';
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

function vmctx(args, { show = true } = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8' });
  const ms = (performance.now() - t0).toFixed(0);
  if (show) {
    console.log(bold(`\n$ node ${bundle} ${args.join(' ')}`) + `   [exit ${r.status}, ${ms} ms]`);
    process.stdout.write(r.stderr + r.stdout);
  }
  if (r.status !== 0) throw new Error(`vmctx ${args[0]} failed with exit ${r.status}`);
  return r;
}

async function fakeRoot(dir, resolved) {
  await mkdir(join(dir, 'etc/ssh/sshd_config.d'), { recursive: true });
  await mkdir(join(dir, 'root/.ssh'), { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(join(dir, 'etc/hostname'), 'debian\n');
  await writeFile(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  await writeFile(join(dir, 'etc/ssh/sshd_config'), 'Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\n');
  await writeFile(join(dir, 'root/.ssh/authorized_keys'), '# a key the image author added by hand stays untouched\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJp6Iwt8FeYb1ucKbb3iHgqTr6Zs4yBkZNoIX93Uc9v author@image\n', { mode: 0o600 });
  if (resolved) await symlink('../run/systemd/resolve/stub-resolv.conf', join(dir, 'etc/resolv.conf'));
  else await writeFile(join(dir, 'etc/resolv.conf'), 'nameserver 8.8.8.8\noptions edns0\n');
}

await rm(demo, { recursive: true, force: true });
await mkdir(demo);
const iso = join(demo, 'context.iso');
vmctx(['make-iso', '-o', iso, '--vars-file', 'examples/opennebula/context.sh', '--file', 'examples/opennebula/init.sh']);
vmctx(['show', '--source', iso]);

const plain = join(demo, 'root');
const stub = join(demo, 'root-resolved');
await fakeRoot(plain, false);
await fakeRoot(stub, true);

console.log(bold('\n== dry run: what would change (nothing is written) =='));
vmctx(['run', '--source', iso, '--root', plain, '--dry-run', '-q']);
console.log(bold('\n== the real run =='));
vmctx(['run', '--source', iso, '--root', plain]);
for (const f of ['etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'root/.ssh/authorized_keys']) {
  console.log(bold(`\n--- ${plain}/${f}`));
  process.stdout.write(await readFile(join(plain, f), 'utf8'));
}
console.log(bold(`\n--- ${plain}/run/vmctx/report.json (modules)`));
const report = JSON.parse(await readFile(join(plain, 'run/vmctx/report.json'), 'utf8'));
for (const m of report.modules) console.log(`${m.id.padEnd(9)} ${m.status.padEnd(8)} ${String(m.durationMs).padStart(6)} ms  ${m.changed.join(', ')}`);

console.log(bold('\n== second run: nothing to do (per-module state) =='));
vmctx(['run', '--source', iso, '--root', plain]);

console.log(bold('\n== a root using systemd-resolved: the stub symlink stays, a drop-in is written =='));
vmctx(['run', '--source', iso, '--root', stub, '-q']);
process.stdout.write(await readFile(join(stub, 'etc/systemd/resolved.conf.d/90-vmctx.conf'), 'utf8'));
console.log(bold(`\nDone. Look around in ./${demo}/ ; the log is ${plain}/var/log/vmctx.log (0600, no secrets).`));
