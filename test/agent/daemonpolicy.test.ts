// The daemon's policy, called directly on a scratch root: only the on-change modules, nothing run
// for a medium or a poll that brings the context already applied, a NIC trigger always looks again;
// --once's result; the daemon served until its control says stop.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DAEMON_SOCKET, TRIGGER_DIR } from '../../src/agent/daemon.js';
import { CONTEXT_ONLY, DAEMON_MODULES, Reconfigurer, contextFingerprint, reconfigureOnce, serveDaemon } from '../../src/agent/daemonpolicy.js';
import { contextOf } from '../helpers/context.js';
import { eth } from '../network/netmodel-helpers.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import { scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

async function writeContext(dir: string, vars: Record<string, string>): Promise<void> {
  await writeFile(join(dir, '.context.sh.new'), Object.entries(vars).map(([k, v]) => `${k}='${v}'\n`).join(''));
  await rename(join(dir, '.context.sh.new'), join(dir, 'context.sh'));
}

async function setup(): Promise<{ root: string; medium: string; options: ConstructorParameters<typeof Reconfigurer>[0] }> {
  const root = await scratchRoot();
  const medium = await tempDir('vmctx-medium-');
  await writeContext(medium, { VMID: '5', SET_HOSTNAME: 'p-1' });
  const options = { root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: medium, logger: createLogger(undefined), version: 'test' };
  return { root, medium, options };
}

describe('the daemon policy', () => {
  it('re-applies only on-change modules; media and polls that bring the applied context run nothing; a NIC always looks again', async () => {
    expect(DAEMON_MODULES.length).toBeGreaterThan(0);
    expect(DAEMON_MODULES.every((m) => m.frequency === 'on-change')).toBe(true);
    expect([...CONTEXT_ONLY].sort()).toEqual(['media', 'metadata-poll']);
    const { root, medium, options } = await setup();
    const r = new Reconfigurer(options);
    // the first check always runs (nothing was applied by this daemon yet)
    const first = await r.check(['media']);
    expect(first).toMatchObject({ ran: true, remote: false });
    expect(first.summary).toMatch(/applied hostname/u);
    expect(r.lastResult).toBe('ok');
    expect(await r.check(['media'])).toEqual({ ran: false, summary: 'context unchanged', remote: false });
    expect(await r.check(['media', 'metadata-poll'])).toEqual({ ran: false, summary: 'context unchanged', remote: false });
    // a NIC (or the start, or SIGHUP) runs the modules, whose planner finds nothing to change
    expect(await r.check(['media', 'net'])).toEqual({ ran: true, summary: 'nothing to change', remote: false });
    await writeContext(medium, { VMID: '5', SET_HOSTNAME: 'p-2' });
    const changed = await r.check(['media']);
    expect(changed.ran).toBe(true);
    expect(changed.summary).toMatch(/^applied hostname/u);
    expect(await readFile(join(root, 'etc/hostname'), 'utf8')).toBe('p-2\n');
  });

  it('--once: one check, its line on the console, the run\'s result', async () => {
    const { options } = await setup();
    const lines: string[] = [];
    expect(await reconfigureOnce({ ...options, console: new ConsoleLines(true, (l) => lines.push(l)) })).toBe('ok');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vmctx: daemon --once: applied hostname/u);
  });

  it('serves until its control says stop, then takes its socket and trigger directory away', async () => {
    const { root, options } = await setup();
    const lines: string[] = [];
    let stop = (): void => undefined;
    const stopped = new Promise<void>((resolve) => { stop = resolve; });
    let hangup: (() => void) | undefined;
    const serving = serveDaemon({ ...options, console: new ConsoleLines(true, (l) => lines.push(l)), debounceMs: 60_000 }, { stopped, onHangup: (look) => { hangup = look; } });
    while (hangup === undefined) await new Promise((r) => { setImmediate(r); });
    expect(existsSync(join(root, DAEMON_SOCKET))).toBe(true);
    expect(existsSync(join(root, TRIGGER_DIR))).toBe(true);
    // the first check waits for a quiet minute: stopping now drops it
    stop();
    await serving;
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`vmctx: daemon: listening on ${join(root, DAEMON_SOCKET)}\n`);
    expect(lines.at(-1)).toBe('vmctx: daemon: stopping\n');
    expect(existsSync(join(root, DAEMON_SOCKET))).toBe(false);
    expect(existsSync(join(root, TRIGGER_DIR))).toBe(false);
  });
});

describe('contextFingerprint', () => {
  it('changes with the network model (a network document) even when no variable does', async () => {
    const ctx = await contextOf({ VMID: '1' });
    const other = { ...ctx, net: { ...ctx.net, model: { ...ctx.net.model, devices: [eth('lan', { name: 'eno1' }, { dhcp4: true })] } } };
    expect(contextFingerprint(other)).not.toBe(contextFingerprint(ctx));
    expect(contextFingerprint(await contextOf({ VMID: '1' }))).toBe(contextFingerprint(ctx));
  });
});
