// The image's boot hooks (/etc/vmctx/scripts.d/{per-boot,per-instance,once}): name order, the
// context in the environment without secrets unless opted in, once per instance / boot / ever, and
// the hooks that must not run (not executable, a bad #! line, writable by others, a symlink)
// reported while the rest run.
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgent } from '../../../src/agent/run.js';
import { type RunReport } from '../../../src/agent/report.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { HostScriptRunner } from '../../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

interface Setup {
  readonly root: string;
  readonly marks: string;
  run(vars: Record<string, string>, newBoot?: boolean): Promise<RunReport>;
  hook(freq: string, name: string, body: string, mode?: number): Promise<void>;
}

async function setup(): Promise<Setup> {
  const root = await scratchRoot();
  const src = await tempDir();
  const work = await tempDir();
  const marks = await tempDir('vmctx-hook-marks-');
  // the hooks' #! lines are checked against the root: give the scratch root a /bin/sh
  await mkdir(join(root, 'bin'), { recursive: true });
  await symlink('/bin/sh', join(root, 'bin/sh'));
  await mkdir(join(root, 'proc/sys/kernel/random'), { recursive: true });
  await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${randomUUID()}\n`);
  return {
    root,
    marks,
    async hook(freq, name, body, mode = 0o755) {
      await mkdir(join(root, 'etc/vmctx/scripts.d', freq), { recursive: true });
      await writeFile(join(root, 'etc/vmctx/scripts.d', freq, name), body);
      await chmod(join(root, 'etc/vmctx/scripts.d', freq, name), mode);
    },
    async run(vars, newBoot = false) {
      if (newBoot) await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${randomUUID()}\n`);
      await writeFile(join(src, 'context.sh'), renderContextSh({ ...vars, MARKS: marks }));
      return runAgent({
        root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'final', dryRun: false,
        exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
        scripts: new HostScriptRunner(work), scriptTimeoutMs: 20_000,
      });
    },
  };
}

const mod = (r: RunReport, id: string) => r.modules.find((m) => m.id === id);

/** Every regular file's text under dir ('' when dir is absent). */
async function readTree(dir: string): Promise<string> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const texts = await Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(join(e.parentPath, e.name), 'utf8')));
  return texts.join('\n');
}

describe('hooks in /etc/vmctx/scripts.d', () => {
  it('run in name order after the built-in modules, with the context but no secrets unless the hook opts in', async () => {
    const s = await setup();
    await s.hook('per-instance', '20-third', '#!/bin/sh\necho "third $SET_HOSTNAME" >> "$MARKS/order"\n');
    await s.hook('per-instance', '00-first', '#!/bin/sh\necho "first pw=${PASSWORD:-none}" >> "$MARKS/order"\n');
    await s.hook('per-instance', '10-second', '#!/bin/sh\n# vmctx-env: secrets\necho "second pw=${PASSWORD:-none}" >> "$MARKS/order"\n');
    const report = await s.run({ VMID: '1', SET_HOSTNAME: 'hooked', PASSWORD: 'hook-secret', START_SCRIPT: 'echo "start" >> "$MARKS/order"' });
    expect(mod(report, 'hooks-per-instance')?.status).toBe('applied');
    const ids = report.modules.map((m) => m.id);
    expect(ids.indexOf('hooks-per-instance')).toBeGreaterThan(ids.indexOf('scripts'));
    expect(await readFile(join(s.marks, 'order'), 'utf8')).toBe('start\nfirst pw=none\nsecond pw=hook-secret\nthird hooked\n');
    expect(await readFile(join(s.root, 'var/log/vmctx/scripts/hooks-per-instance-20-third.log'), 'utf8')).toMatch(/^# vmctx: 20-third \(scripts\.d\/per-instance\) run by \/bin\/sh .* exit 0/u);
  });

  it('per-boot on every boot, per-instance once per instance, once only ever', async () => {
    const s = await setup();
    for (const freq of ['per-boot', 'per-instance', 'once']) await s.hook(freq, '50-mark', `#!/bin/sh\necho x >> "$MARKS/${freq}"\n`);
    await s.run({ VMID: '1' });
    await s.run({ VMID: '1' });
    await s.run({ VMID: '1' }, true);
    await s.run({ VMID: '2' }, true);
    const count = async (f: string): Promise<number> => (await readFile(join(s.marks, f), 'utf8')).split('\n').filter(Boolean).length;
    expect(await count('per-boot')).toBe(3);
    expect(await count('per-instance')).toBe(2);
    expect(await count('once')).toBe(1);
  });

  it('not executable, a bad #! line, writable by others, a symlink, a backup file: reported, and the rest run', async () => {
    const s = await setup();
    await s.hook('per-boot', '10-not-exec', '#!/bin/sh\necho bad >> "$MARKS/bad"\n', 0o644);
    await s.hook('per-boot', '20-bad-shebang', '#!/nonexistent/interpreter\necho bad >> "$MARKS/bad"\n');
    await s.hook('per-boot', '30-world-writable', '#!/bin/sh\necho bad >> "$MARKS/bad"\n', 0o777);
    await s.hook('per-boot', '40-good', '#!/bin/sh\necho good >> "$MARKS/good"\n');
    await s.hook('per-boot', '50-old.dpkg-old', '#!/bin/sh\necho bad >> "$MARKS/bad"\n');
    await s.hook('per-boot', '60-fails', '#!/bin/sh\nexit 3\n');
    await symlink('/bin/true', join(s.root, 'etc/vmctx/scripts.d/per-boot/45-link'));
    const report = await s.run({ VMID: '1' });
    const m = mod(report, 'hooks-per-boot');
    expect(m?.status).toBe('applied');
    expect(await readFile(join(s.marks, 'good'), 'utf8')).toBe('good\n');
    await expect(readFile(join(s.marks, 'bad'), 'utf8')).rejects.toThrow();
    const warnings = (m?.warnings ?? []).join('\n');
    expect(warnings).toMatch(/10-not-exec: not run \(not executable/u);
    expect(warnings).toMatch(/20-bad-shebang: not run \(its first line "#!\/nonexistent\/interpreter" names no interpreter/u);
    expect(warnings).toMatch(/30-world-writable: not run \(owned by uid 0 with mode 777/u);
    expect(warnings).toMatch(/45-link: not run \(not a regular file: a symlink\)/u);
    expect(warnings).toMatch(/50-old\.dpkg-old: not run/u);
    expect(warnings).toMatch(/60-fails exited with 3/u);
  });

  it('no scripts.d: nothing to do, nothing fails', async () => {
    const s = await setup();
    const report = await s.run({ VMID: '1' });
    expect(mod(report, 'hooks-per-boot')?.status).toBe('not-relevant');
    expect(report.result).toBe('ok');
  });

  // Found by the crash-injection suite (CI run of session 3, trial 128): a kill inside hooks-once,
  // which had no hook to run, left it "interrupted" for good. A hook module with nothing to run
  // now records nothing, so there is nothing to interrupt.
  it('regression crash-trial-128: hook modules without hooks leave no record in the state', async () => {
    const s = await setup();
    await s.run({ VMID: '1' });
    const state = JSON.parse(await readFile(join(s.root, 'var/lib/vmctx/state.json'), 'utf8')) as { modules: Record<string, unknown> };
    expect(Object.keys(state.modules).filter((id) => id.startsWith('hooks-'))).toEqual([]);
  });
  it('secret-named variables (API_KEY, ACCESS_KEY, *_TOKEN, *SECRET*, *PASSWORD*, *_PASS) stay out of a hook\'s environment, its log, the report and the state unless it opts in', async () => {
    const s = await setup();
    const secrets: Record<string, string> = {
      API_KEY: 'sk-live-api-0f3c', ACCESS_KEY: 'AKIA-access-77e1', GITHUB_TOKEN: 'ghp-token-41aa', MY_SECRET_THING: 'my-secret-9c2d',
      DB_PASSWORD_X: 'db-pw-5b17', X_API_KEY: 'x-api-c0de', SMTP_PASS: 'smtp-pass-1e2f', aws_access_key_id: 'aws-id-8d8d',
    };
    await s.hook('per-instance', '10-env', '#!/bin/sh\nenv > "$MARKS/env"\nenv\n');
    await s.hook('per-instance', '20-optin', '#!/bin/sh\n# vmctx-env: secrets\nenv > "$MARKS/env-optin"\n');
    const report = await s.run({ VMID: '1', APP_NAME: 'shown-app', BYPASS_PROXY: 'shown-bypass', ...secrets });
    expect(mod(report, 'hooks-per-instance')?.status).toBe('applied');
    const env = await readFile(join(s.marks, 'env'), 'utf8');
    expect(env).toContain('APP_NAME=shown-app');
    expect(env).toContain('BYPASS_PROXY=shown-bypass');
    const optin = await readFile(join(s.marks, 'env-optin'), 'utf8');
    const everywhere = [
      env,
      JSON.stringify(report),
      await readFile(join(s.root, 'var/log/vmctx/scripts/hooks-per-instance-10-env.log'), 'utf8'),
      ...(await Promise.all(['var/lib/vmctx', 'run/vmctx'].map(async (d) => readTree(join(s.root, d))))),
    ].join('\n');
    for (const [name, value] of Object.entries(secrets)) {
      expect(everywhere, name).not.toContain(value);
      expect(optin, name).toContain(`${name}=${value}`);
    }
  });
});
