// npm run demo: a short tour for a new user. Builds a context CD from examples/opennebula with
// vmctx's own ISO writer, prepares two small fake Debian roots under ./demo/ (ifupdown with a plain
// resolv.conf; systemd-networkd with systemd-resolved's stub symlink) and applies the CD to them:
// what the CD holds, what would change (dry run), what changed (the real run), and a second run
// that changes nothing. A failing step says which and why, and the demo exits non-zero.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, chown, lstat, mkdir, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const bundle = 'dist/vmctx.js';
const demo = 'demo';
const tty = process.stdout.isTTY === true;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
/** Diffs and files are cut to this many lines: the story stays short. */
const MAX_LINES = 14;

class DemoError extends Error {}

const heading = (n, title) => console.log(`\n${bold(`${n}. ${title}`)}`);
const indent = (text, prefix = '   ') => text.replace(/\n$/u, '').split('\n').map((l) => `${prefix}${l}`).join('\n');

function trim(text, max = MAX_LINES) {
  const lines = text.replace(/\n$/u, '').split('\n');
  if (lines.length <= max) return lines.join('\n');
  return [...lines.slice(0, max), dim(`… ${lines.length - max} more line(s)`)].join('\n');
}

/** Runs the bundle; a non-zero exit (other than the allowed ones) stops the demo with the command's own words. */
function vmctx(step, args, { ok = [0] } = {}) {
  const shown = `vmctx ${args.join(' ')}`;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8' });
  console.log(dim(`   $ ${shown}   [exit ${r.status ?? r.signal}, ${(performance.now() - t0).toFixed(0)} ms]`));
  if (r.error !== undefined) throw new DemoError(`${step}: could not start node (${r.error.message})`);
  if (!ok.includes(r.status ?? -1)) {
    const said = `${r.stderr}${r.stdout}`.trim();
    throw new DemoError(`${step} failed: \`${shown}\` exited with ${r.status ?? r.signal}${said === '' ? '' : `:\n${indent(trim(said, 30))}`}`);
  }
  return r;
}

const mode = (m) => ({ mode: m });

/** A minimal Debian root: merged /usr, accounts, sshd, skel, and one network backend. */
async function fakeDebian(dir, { backend }) {
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib/systemd/system', 'etc/ssh/sshd_config.d', 'etc/skel', 'etc/default', 'etc/sudoers.d', 'etc/systemd/system/multi-user.target.wants', 'home', 'var/lib', 'var/log', 'var/mail', 'run', 'tmp']) {
    await mkdir(join(dir, d), { recursive: true });
  }
  for (const [link, to] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib']]) await symlink(to, join(dir, link));
  await mkdir(join(dir, 'root/.ssh'), { recursive: true });
  await chmod(join(dir, 'root'), 0o700);
  await chmod(join(dir, 'root/.ssh'), 0o700);
  await chmod(join(dir, 'tmp'), 0o1777);
  await chown(join(dir, 'var/mail'), 0, 8);
  await chmod(join(dir, 'var/mail'), 0o2775);
  for (const sh of ['usr/bin/bash', 'usr/bin/dash']) await writeFile(join(dir, sh), '', mode(0o755));
  await symlink('dash', join(dir, 'usr/bin/sh'));
  await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  await writeFile(join(dir, 'etc/group'), 'root:x:0:\ndaemon:x:1:\nmail:x:8:\nsudo:x:27:\nshadow:x:42:\nusers:x:100:\nnogroup:x:65534:\n');
  await writeFile(join(dir, 'etc/shadow'), 'root:*:19700:0:99999:7:::\ndaemon:*:19700:0:99999:7:::\nsshd:!:19700::::::\nnobody:*:19700:0:99999:7:::\n', mode(0o640));
  await writeFile(join(dir, 'etc/gshadow'), 'root:*::\ndaemon:*::\nmail:*::\nsudo:*::\nshadow:*::\nusers:*::\nnogroup:*::\n', mode(0o640));
  for (const f of ['etc/shadow', 'etc/gshadow']) await chown(join(dir, f), 0, 42);
  await writeFile(join(dir, 'etc/login.defs'), 'MAIL_DIR /var/mail\nUID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nUSERGROUPS_ENAB yes\nENCRYPT_METHOD SHA512\n');
  await writeFile(join(dir, 'etc/skel/.profile'), '# ~/.profile\n[ -f ~/.bashrc ] && . ~/.bashrc\n');
  await writeFile(join(dir, 'etc/skel/.bashrc'), '# ~/.bashrc\nPS1="\\u@\\h:\\w\\$ "\n');
  await writeFile(join(dir, 'etc/hostname'), 'debian\n');
  await writeFile(join(dir, 'etc/hosts'), '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  // Debian images ship an empty machine id: every instance gets its own
  await writeFile(join(dir, 'etc/machine-id'), '', mode(0o444));
  await writeFile(join(dir, 'etc/ssh/sshd_config'), 'Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin prohibit-password\n');
  await writeFile(join(dir, 'root/.ssh/authorized_keys'), '# a key the image author added by hand stays untouched\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJp6Iwt8FeYb1ucKbb3iHgqTr6Zs4yBkZNoIX93Uc9v author@image\n', mode(0o600));
  if (backend === 'ifupdown') {
    await writeFile(join(dir, 'usr/sbin/ifup'), '', mode(0o755));
    await mkdir(join(dir, 'etc/network/interfaces.d'), { recursive: true });
    await writeFile(join(dir, 'etc/network/interfaces'), '# interfaces(5) file used by ifup(8) and ifdown(8)\nauto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n');
    await writeFile(join(dir, 'etc/resolv.conf'), 'nameserver 8.8.8.8\noptions edns0\n');
  } else {
    // systemd-networkd enabled, systemd-resolved's stub resolv.conf
    await writeFile(join(dir, 'usr/lib/systemd/system/systemd-networkd.service'), '[Unit]\nDescription=Network Configuration\n');
    await symlink('/usr/lib/systemd/system/systemd-networkd.service', join(dir, 'etc/systemd/system/multi-user.target.wants/systemd-networkd.service'));
    await mkdir(join(dir, 'etc/systemd/network'), { recursive: true });
    await mkdir(join(dir, 'run/systemd/resolve'), { recursive: true });
    await writeFile(join(dir, 'run/systemd/resolve/stub-resolv.conf'), 'nameserver 127.0.0.53\noptions edns0 trust-ad\n');
    await symlink('../run/systemd/resolve/stub-resolv.conf', join(dir, 'etc/resolv.conf'));
  }
}

/** The change blocks of a dry run's output: "create|modify|mkdir|remove|symlink PATH …" and the diff under it. */
function dryRunChanges(output) {
  const blocks = [];
  for (const line of output.split('\n')) {
    const m = /^(create|modify|mkdir|remove|symlink) (\/\S*)/u.exec(line);
    if (m !== null) blocks.push({ kind: m[1], path: m[2], header: line, body: [] });
    else if (/^would run: /u.test(line)) blocks.push({ kind: 'run', path: '', header: line, body: [] });
    else if (blocks.length > 0 && line !== '') blocks.at(-1).body.push(line);
  }
  return blocks;
}

/** Every entry under a root: type, mode, owner, and a digest of the content or the link target. */
async function tree(dir, rel = '', out = new Map()) {
  for (const name of await readdir(join(dir, rel))) {
    const path = `${rel}/${name}`;
    const st = await lstat(join(dir, path));
    const who = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) {
      out.set(path, `dir ${who}`);
      await tree(dir, path, out);
    } else if (st.isSymbolicLink()) out.set(path, `link -> ${await readlink(join(dir, path))}`);
    else out.set(path, `file ${who} ${createHash('sha256').update(await readFile(join(dir, path))).digest('hex')}`);
  }
  return out;
}

/** vmctx's own records (run state, report, lock, log): not changes to the system, so not in a dry run's list. */
const own = (p) => p === '/var/lib/vmctx/state.json' || p === '/var/log/vmctx.log' || p === '/run/vmctx' || p.startsWith('/run/vmctx/');

/** Paths, with runs of files in one directory sharing a prefix shortened: /etc/ssh/ssh_host_* (6 files). */
function compact(paths) {
  const byDir = new Map();
  for (const p of paths) {
    const dir = p.slice(0, p.lastIndexOf('/') + 1);
    byDir.set(dir, [...(byDir.get(dir) ?? []), p.slice(dir.length)]);
  }
  const out = [];
  for (const [dir, names] of byDir) {
    let prefix = names[0] ?? '';
    for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
    if (names.length > 2 && prefix.length >= 3) out.push(`${dir}${prefix}* (${names.length} files)`);
    else out.push(...names.map((n) => `${dir}${n}`));
  }
  return out;
}

/** What a run did, from its --json report: one line per module that did something, with the paths it changed. */
function story(report) {
  const lines = [];
  const quiet = [];
  for (const m of report.modules) {
    if (m.status === 'applied' || m.status === 'failed') {
      const what = m.status === 'failed' ? `FAILED: ${m.error?.message ?? ''}` : [...compact(m.changed), ...m.actions].join(', ');
      lines.push(`${m.id.padEnd(14)} ${what}`);
      for (const w of m.warnings) lines.push(`${''.padEnd(14)} warning: ${w}`);
    } else quiet.push(m.id);
  }
  return { lines, quiet };
}

const IMPORTANT = [/^\/etc\/hostname$/u, /^\/etc\/hosts$/u, /^\/etc\/resolv\.conf$/u, /^\/etc\/network\/interfaces\.d\//u, /^\/etc\/systemd\/network\//u, /^\/etc\/systemd\/resolved\.conf\.d\//u, /authorized_keys$/u];

async function main() {
  try {
    await access(bundle);
  } catch {
    throw new DemoError(`${bundle} is missing: build it first (npm run build), or run the whole demo with npm run demo`);
  }
  if (process.getuid?.() !== 0) {
    throw new DemoError('the demo applies a context the way the agent does at boot, with the system\'s own useradd/chpasswd -R and files owned by root and by new users: that needs root. Run it as root (for example in a container, or with sudo npm run demo); it only writes under ./demo/');
  }
  await rm(demo, { recursive: true, force: true });
  await mkdir(demo);
  const iso = join(demo, 'context.iso');
  const plain = join(demo, 'root');
  const networkd = join(demo, 'root-networkd');

  heading(1, 'The context CD: what the cloud hands the VM');
  vmctx('making the CD', ['make-iso', '-o', iso, '--vars-file', 'examples/opennebula/context.sh', '--file', 'examples/opennebula/init.sh']);
  const shown = vmctx('reading the CD', ['show', '--source', iso]);
  // the summary, without the raw variable list (the file is in examples/opennebula/context.sh)
  console.log(indent(shown.stdout.split('\nvariables:')[0] ?? shown.stdout));
  console.log(dim(`   (all variables: vmctx show --source ${iso}; the file: examples/opennebula/context.sh)`));

  await fakeDebian(plain, { backend: 'ifupdown' });
  await fakeDebian(networkd, { backend: 'networkd' });

  heading(2, `What would change: a dry run on ${plain} (a small Debian root; nothing is written)`);
  const dry = vmctx('the dry run', ['run', '--source', iso, '--root', plain, '--dry-run', '-q']);
  const blocks = dryRunChanges(dry.stdout);
  if (blocks.length === 0) throw new DemoError(`the dry run listed no change:\n${indent(trim(dry.stdout, 30))}`);
  const changes = blocks.filter((x) => x.kind !== 'run');
  for (const kind of ['create', 'modify', 'mkdir', 'remove', 'symlink']) {
    const paths = changes.filter((b) => b.kind === kind).map((b) => `${b.path}${b.body.some((l) => /secret content not shown/u.test(l)) ? ' (secret)' : ''}`);
    if (paths.length > 0) console.log(`   ${kind.padEnd(7)} ${compact(paths).join(', ')}`);
  }
  const commands = blocks.filter((x) => x.kind === 'run');
  if (commands.length > 0) console.log(`   and run ${commands.length} program(s): ${[...new Set(commands.map((c) => c.header.split(' ')[2]?.split('/').at(-1)))].join(', ')}`);
  for (const b of blocks.filter((x) => IMPORTANT.some((re) => re.test(x.path)) && x.body.length > 0)) {
    console.log(`\n   ${bold(b.header)}`);
    console.log(indent(trim(b.body.filter((l) => !/^(---|\+\+\+|@@) /u.test(l)).join('\n'))));
  }

  heading(3, 'What changed: the real run');
  const before = await tree(plain);
  const real = vmctx('the real run', ['run', '--source', iso, '--root', plain, '--json']);
  const report = JSON.parse(real.stdout);
  const told = story(report);
  console.log(indent(told.lines.join('\n')));
  console.log(dim(`   (nothing to do for: ${told.quiet.join(', ')})`));
  const after = await tree(plain);
  const onDisk = [...new Set([...before.keys(), ...after.keys()])].filter((p) => before.get(p) !== after.get(p) && !own(p));
  const dryPaths = new Set(blocks.filter((b) => b.kind !== 'run').map((b) => b.path));
  const unpredicted = onDisk.filter((p) => !dryPaths.has(p));
  const untrue = [...dryPaths].filter((p) => !onDisk.includes(p));
  if (unpredicted.length > 0 || untrue.length > 0) {
    throw new DemoError(`the dry run did not tell the truth: changed but not listed: ${unpredicted.join(', ') || 'none'}; listed but not changed: ${untrue.join(', ') || 'none'}`);
  }
  console.log(`   On disk ${onDisk.length} paths changed: exactly the ${dryPaths.size} the dry run listed (besides vmctx's own state, log and report: ${plain}/run/vmctx/report.json)`);

  heading(4, 'A second run: nothing left to do');
  const settled = await tree(plain);
  const again = JSON.parse(vmctx('the second run', ['run', '--source', iso, '--root', plain, '--json']).stdout);
  const final = await tree(plain);
  const changedAgain = [...new Set([...settled.keys(), ...final.keys()])].filter((p) => settled.get(p) !== final.get(p) && !own(p));
  if (changedAgain.length > 0) throw new DemoError(`the second run changed ${changedAgain.join(', ')}`);
  const counts = {};
  for (const m of again.modules) counts[m.status] = (counts[m.status] ?? 0) + 1;
  console.log(`   result ${again.result}: 0 paths changed (${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}); per-instance steps (host keys, machine id) are done, the rest is already as wanted`);

  heading(5, `Another system: ${networkd} (systemd-networkd, systemd-resolved)`);
  const other = JSON.parse(vmctx('the run on the networkd root', ['run', '--source', iso, '--root', networkd, '--json']).stdout);
  console.log(indent(story(other).lines.filter((l) => /^(network|dns) /u.test(l)).join('\n')));
  console.log(`   /etc/resolv.conf stays systemd-resolved's stub link; the servers go to a drop-in:`);
  console.log(indent(trim(await readFile(join(networkd, 'etc/systemd/resolved.conf.d/90-vmctx.conf'), 'utf8')), '     '));

  console.log(`\n${bold('Done.')} Look around in ./${demo}/; the agent's log is ${plain}/var/log/vmctx.log (0600, no secrets).`);
}

try {
  await main();
} catch (error) {
  const message = error instanceof DemoError ? error.message : `unexpected error: ${error instanceof Error ? error.message : String(error)}`;
  console.error(`\ndemo: ${message}`);
  process.exitCode = 1;
}
