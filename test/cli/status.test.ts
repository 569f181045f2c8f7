// vmctx status across a boot's stages, through the built CLI on a scratch root: `run --stage local`
// then `--stage final`, and what status, status --long, --json and --wait make of them.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { vmctx } from '../helpers/cli.js';
import { fakeKey, scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

/** A scratch root whose /proc/stat says it booted 100 s ago, and a context directory for it. */
async function bootedRoot(): Promise<{ root: string; src: string; btime: number }> {
  const root = await scratchRoot();
  const btime = Math.floor(Date.now() / 1000) - 100;
  await mkdir(join(root, 'proc'));
  await writeFile(join(root, 'proc/stat'), `cpu  1 2 3 4\nbtime ${btime}\nprocesses 42\n`);
  const src = join(await tempDir(), 'ctx');
  await mkdir(src);
  await writeFile(join(src, 'context.sh'), `VMID='55'\nSET_HOSTNAME='stage-host'\nSSH_PUBLIC_KEY='${fakeKey()}'\n`);
  return { root, src, btime };
}

interface StatusJson {
  status: string;
  result: string | null;
  boot: { bootAt: string; bootClock: string; stages: Array<{ stage: string; result: string; startSec: number; endSec: number; modules: Array<{ id: string; status: string }> }> };
  lastRun: { stage: string };
}

describe('vmctx status: the whole boot', () => {
  it('lists every stage that ran this boot with its modules, result and times after boot; --wait waits for the final stage', async () => {
    const { root, src, btime } = await bootedRoot();
    expect(vmctx(['run', '--source', src, '--root', root, '--stage', 'local', '-q']).code).toBe(0);
    // the local stage found nothing for the final stage on a scratch root (scripts run only live): it says so
    expect(await readFile(join(root, 'run/vmctx/final-idle'), 'utf8')).toBe('');
    const afterLocal = vmctx(['status', '--root', root]);
    expect(afterLocal.code).toBe(0);
    expect(afterLocal.stdout).toMatch(/^status: done\nresult: ok\n/u);
    expect(afterLocal.stdout).toMatch(/^final +skipped \(no final-stage work this boot: \/run\/vmctx\/final-idle\)$/mu);

    // without that marker the boot waits for its final stage: --wait gives up at its deadline (exit 8)
    await rm(join(root, 'run/vmctx/final-idle'));
    const pending = vmctx(['status', '--root', root, '--wait', '--timeout', '1']);
    expect(pending.code).toBe(8);
    expect(pending.stdout).toMatch(/^status: running \(waiting for the final stage\)$/mu);
    expect(pending.stderr).toBe('vmctx: the boot was not done after 1 s: waiting for the final stage\n');

    expect(vmctx(['run', '--source', src, '--root', root, '--stage', 'final', '-q']).code).toBe(0);
    const long = vmctx(['status', '--root', root, '--long']);
    expect(long.code).toBe(0);
    const text = long.stdout;
    expect(text).toMatch(/^status: done\nresult: ok\ninstance: vmid-55 \(context from \S+ \(--source\)\)\n/u);
    expect(text).toContain(`boot: ${new Date(btime * 1000).toISOString()} (from /proc/stat btime); times are seconds after it\n`);
    // both stages, about 100 s after the boot, and the network stage that was not needed
    expect(text).toMatch(/^local +ok +1\d\d\.\d{3} s +1\d\d\.\d{3} s +\d+ ms +\d+ applied, /mu);
    expect(text).toMatch(/^network +not needed /mu);
    expect(text).toMatch(/^final +ok +1\d\d\.\d{3} s +1\d\d\.\d{3} s +\d+ ms +\d+ (skipped|not relevant)/mu);
    expect(text).toMatch(/^timeline \(after boot\):\n {2}\+1\d\d\.\d{3} s {2}local stage started\n {2}\+1\d\d\.\d{3} s {2}local stage finished: ok \(\d+ ms\)\n {2}\+1\d\d\.\d{3} s {2}final stage started\n {2}\+1\d\d\.\d{3} s {2}final stage finished: ok \(\d+ ms\)\n/mu);
    expect(text).toMatch(/^local stage: ok, context from .*, instance vmid-55\n {2}network +not-relevant/mu);
    expect(text).toMatch(/^ {2}hostname +applied +[\d.]+ ms {2}changed \/etc\/hostname, \/etc\/hosts$/mu);
    expect(text).toMatch(/^final stage: ok, /mu);
    expect(text).toMatch(/^ {2}scripts +(skipped|not-relevant) /mu);
    expect(text).toMatch(/^state \(across boots\):\n {2}hostname +done /mu);

    const json = JSON.parse(vmctx(['status', '--root', root, '--json']).stdout) as StatusJson;
    expect(json.status).toBe('done');
    expect(json.result).toBe('ok');
    expect(json.boot.bootClock).toBe('btime');
    expect(json.boot.stages.map((s) => [s.stage, s.result])).toEqual([['local', 'ok'], ['final', 'ok']]);
    const [local, final] = json.boot.stages;
    expect(local?.startSec).toBeGreaterThanOrEqual(100);
    expect(final?.startSec).toBeGreaterThanOrEqual(local?.endSec ?? Infinity);
    expect(local?.modules.find((m) => m.id === 'hostname')?.status).toBe('applied');
    // report.json still holds the last run only
    expect(json.lastRun.stage).toBe('final');

    const waited = vmctx(['status', '--root', root, '--wait', '--timeout', '5']);
    expect(waited.code).toBe(0);
  });

  it('the daemon\'s checks after the boot are not stages of the boot (report.json has them)', async () => {
    const { root, src } = await bootedRoot();
    expect(vmctx(['run', '--source', src, '--root', root, '--stage', 'local', '-q']).code).toBe(0);
    const daemon = vmctx(['daemon', '--once', '--source', src, '--root', root, '-q']);
    expect(daemon.code, daemon.stderr).toBe(0);
    const json = JSON.parse(vmctx(['status', '--root', root, '--json']).stdout) as StatusJson;
    expect(json.lastRun.stage).toBe('all');
    expect(json.boot.stages.map((s) => s.stage)).toEqual(['local']);
  });

  it('--wait exits with the boot\'s result: a module that failed in the local stage makes it 5', async () => {
    const { root, src } = await bootedRoot();
    await rm(join(root, 'root'), { recursive: true });
    await writeFile(join(root, 'root'), 'not a directory\n');
    expect(vmctx(['run', '--source', src, '--root', root, '--stage', 'local', '-q']).code).toBe(5);
    expect(vmctx(['run', '--source', src, '--root', root, '--stage', 'final', '-q']).code).toBe(0);
    const waited = vmctx(['status', '--root', root, '--wait']);
    expect(waited.code).toBe(5);
    expect(waited.stdout).toMatch(/^status: done\nresult: module-failed\n/u);
  });
});
