// What a person reads, exactly: the run table, the run's result line, the boot's status (short and
// long) and show's view of a small context.
import { describe, expect, it } from 'vitest';
import { stageRecord, type BootRecord } from '../../src/agent/bootrecord.js';
import type { ModuleReport, RunReport } from '../../src/agent/report.js';
import { runResultLine, runTable, showText, statusText } from '../../src/cli/render.js';
import { resolveNet } from '../../src/network/resolvenet.js';
import { contextOf } from '../helpers/context.js';

const BOOT = Date.parse('2026-12-01T10:00:00.000Z');

function mod(id: string, status: ModuleReport['status'], durationMs: number, reason: string, changed: string[] = []): ModuleReport {
  return { id, stage: 'local', frequency: 'per-instance', status, reason, durationMs, changed, actions: [], warnings: [] };
}

function report(stage: RunReport['stage'], startMs: number, durationMs: number, modules: ModuleReport[]): RunReport {
  return {
    vmctx: '0.1.0',
    startedAt: new Date(BOOT + startMs).toISOString(),
    finishedAt: new Date(BOOT + startMs + durationMs).toISOString(),
    durationMs,
    timings: { processToRunMs: 60, contextMs: 12 },
    stage,
    dryRun: false,
    root: '/',
    result: 'ok',
    source: { kind: 'block-device', path: '/dev/sr0', foundBy: 'label CONTEXT', variableFiles: ['context.sh'] },
    sourceAttempts: [],
    instanceId: 'vmid-7',
    instanceIdSource: 'VMID',
    warnings: [],
    modules,
  };
}

const LOCAL = report('local', 3210, 590, [mod('hostname', 'applied', 3.5, 'first run', ['/etc/hostname', '/etc/hosts']), mod('dns', 'unchanged', 1.25, 'first run'), mod('timezone', 'not-relevant', 0.1, 'nothing for it in the context')]);
const FINAL = report('final', 9100, 400, [mod('scripts', 'applied', 120, 'first run', ['/var/log/vmctx/scripts/START_SCRIPT.log']), mod('hooks-per-instance', 'not-relevant', 0.4, 'nothing for it on this system')]);

describe('run output', () => {
  it('the table (-v): columns as wide as the longest module name, a "changed" list or the reason, no "already as wanted"', () => {
    expect(runTable(FINAL)).toBe(
      [
        'result: ok',
        'source: /dev/sr0 (label CONTEXT)',
        'instance: vmid-7 (from VMID)',
        '  scripts             applied       120 ms  changed /var/log/vmctx/scripts/START_SCRIPT.log',
        '  hooks-per-instance  not-relevant  0.4 ms  nothing for it on this system',
        'total: 400 ms (context after 12 ms; the runtime started 60 ms before the run)',
        '',
      ].join('\n'),
    );
  });

  it('the result line counts what the modules did', () => {
    expect(runResultLine(LOCAL)).toBe('result: ok in 590 ms (1 applied, 1 unchanged, 1 not relevant)');
    expect(runResultLine({ ...LOCAL, result: 'no-context', modules: [] })).toBe('result: no-context in 590 ms');
  });
});

describe('status', () => {
  const record: BootRecord = { bootId: 'b', bootAt: new Date(BOOT).toISOString(), bootClock: 'uptime', stages: [stageRecord(LOCAL, BOOT), stageRecord(FINAL, BOOT)] };
  const view = { progress: { state: 'done', result: 'ok', why: 'the final stage ran' } as const, record, markers: { needNetwork: false, finalIdle: false } };

  it('short: the boot done or not, its result, one line per stage (those that did not run say why)', () => {
    expect(statusText(view, false)).toBe(
      [
        'status: done',
        'result: ok',
        'instance: vmid-7 (context from /dev/sr0 (label CONTEXT))',
        'stage    result    start      end    took  modules',
        'local    ok      3.210 s  3.800 s  590 ms  1 applied, 1 unchanged, 1 not relevant',
        'network  not needed (no /run/vmctx/need-network: the local stage found a context, or none was looked for)',
        'final    ok      9.100 s  9.500 s  400 ms  1 applied, 1 not relevant',
        '',
      ].join('\n'),
    );
  });

  it('long: the boot time and where it came from, a timeline after boot, every module of every stage', () => {
    expect(statusText(view, true)).toBe(
      [
        'status: done',
        'result: ok',
        'instance: vmid-7 (context from /dev/sr0 (label CONTEXT))',
        'boot: 2026-12-01T10:00:00.000Z (from /proc/uptime); times are seconds after it',
        'stage    result    start      end    took  modules',
        'local    ok      3.210 s  3.800 s  590 ms  1 applied, 1 unchanged, 1 not relevant',
        'network  not needed (no /run/vmctx/need-network: the local stage found a context, or none was looked for)',
        'final    ok      9.100 s  9.500 s  400 ms  1 applied, 1 not relevant',
        '',
        'timeline (after boot):',
        '  +3.210 s  local stage started',
        '  +3.800 s  local stage finished: ok (590 ms)',
        '  +9.100 s  final stage started',
        '  +9.500 s  final stage finished: ok (400 ms)',
        '',
        'local stage: ok, context from /dev/sr0 (label CONTEXT), instance vmid-7',
        '  hostname  applied       3.5 ms  changed /etc/hostname, /etc/hosts',
        '  dns       unchanged     1.3 ms  first run',
        '  timezone  not-relevant  0.1 ms  nothing for it in the context',
        '',
        'final stage: ok, context from /dev/sr0 (label CONTEXT), instance vmid-7',
        '  scripts             applied       120 ms  changed /var/log/vmctx/scripts/START_SCRIPT.log',
        '  hooks-per-instance  not-relevant  0.4 ms  nothing for it on this system',
        '',
      ].join('\n'),
    );
  });

  it('a boot still going says what it waits for', () => {
    const waiting = { progress: { state: 'running', why: 'waiting for the network stage (the local stage found no local context)' } as const, record: { bootId: 'b', stages: [stageRecord({ ...LOCAL, result: 'no-context', modules: [], error: { code: 'ERR_NO_CONTEXT', message: 'no context found' } })] }, markers: { needNetwork: true, finalIdle: true } };
    expect(statusText(waiting, false)).toBe(
      [
        'status: running (waiting for the network stage (the local stage found no local context))',
        'instance: vmid-7 (context from /dev/sr0 (label CONTEXT))',
        'stage    result             start           end    took  modules',
        'local    no-context  10:00:03.210  10:00:03.800  590 ms  ERR_NO_CONTEXT: no context found',
        'network  not run yet (the local stage asked for it)',
        'final    skipped (no final-stage work this boot: /run/vmctx/final-idle)',
        '',
      ].join('\n'),
    );
  });
});

describe('show', () => {
  it('names the NICs the running system does not have among the problems', async () => {
    const ctx = await contextOf({ ETH0_IP: '10.0.0.5', ETH0_MAC: '52:54:00:12:34:56' });
    const resolved = resolveNet(ctx.net.model, [{ name: 'ens3', mac: '52:54:00:00:00:99' }], { keepAbsent: false, matchesByMac: false });
    expect(showText(ctx, { attempts: [], variables: {}, resolved })).toContain('network (from context.sh):\n  - (none)\nusers:');
    expect(showText(ctx, { attempts: [], variables: {}, resolved })).toContain('problems (1):\n  this system: ethernets.eth0: not supported: no interface with MAC 52:54:00:12:34:56 on this system; not configured\n');
  });

  it('prints bonds, VLANs, live names, routes on no device, global DNS and the notes of what is not applied', async () => {
    const ctx = await contextOf({ ETH0_MAC: '52:54:00:12:34:56', ETH0_IP: '10.0.0.5', ETH0_VLAN_ID: '7', ETH0_ROUTES: '10.9.0.0/16 via 10.0.0.9 metric 5', DNS: '10.0.0.2', ETH0_NETWORK: '10.0.0.0' });
    const resolved = resolveNet(ctx.net.model, [{ name: 'ens3', mac: '52:54:00:12:34:56' }], { keepAbsent: true, matchesByMac: true });
    const text = showText(ctx, { attempts: [], variables: {}, resolved });
    // ETHx_VLAN_ID is the VLAN the host tags: the NIC itself has the address, and the variable is named
    expect(text).toContain([
      'network (from context.sh):',
      '  eth0 (52:54:00:12:34:56; here ens3): 10.0.0.5/24; route 10.9.0.0/16 via 10.0.0.9 metric 5',
      '  dns: 10.0.0.2; search: -',
      'users:',
    ].join('\n'));
    expect(text).toContain('ETH0_NETWORK follows from ETHx_IP and ETHx_MASK; it is informational (not network configuration of the guest); not used');
    expect(text).toContain('ETH0_VLAN_ID is the VLAN the host tags for this NIC');
  });

  it('lists network, users, keys, scripts and the problems it found', async () => {
    const ctx = await contextOf({
      ETH0_IP: '10.0.0.5', ETH0_MASK: '255.255.255.0', ETH0_MAC: '52:54:00:12:34:56', ETH0_GATEWAY: '10.0.0.1',
      ETH1_MAC: '52:54:00:00:00:01', ETH1_IP: '10.1.0.300',
      DNS: '10.0.0.2', SET_HOSTNAME: 'web-1', USERNAME: 'deploy', USERNAME_SUDO: 'YES',
      SSH_PUBLIC_KEY: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7kIk0s0F8zDgq5VBhJ2kjm2mT5Hc7D9X8l5Y0W3o2Q a@b',
      PASSWORD: 'secret', START_SCRIPT: 'echo hi',
    });
    expect(showText(ctx, { attempts: [{ path: '/dev/sr0', result: 'used' }], variables: { SET_HOSTNAME: 'web-1', PASSWORD: '<redacted>' } })).toBe(
      [
        'looked at: /dev/sr0: used',
        'source: /test (test)',
        'instance: test-instance (from context-hash)',
        'hostname: web-1',
        'dns: 10.0.0.2; search: -',
        'network (from context.sh):',
        '  eth0 (52:54:00:12:34:56): 10.0.0.5/24; gateway 10.0.0.1',
        '  eth1 (52:54:00:00:00:01): no address',
        '  dns: 10.0.0.2; search: -',
        'users:',
        '  deploy (sudo): 1 ssh key(s), password from PASSWORD (plain)',
        'scripts:',
        '  START_SCRIPT (from START_SCRIPT; 7 bytes)',
        'problems (1):',
        '  invalid: ETH1_IP (context.sh): "10.1.0.300" is not an IPv4 address; skipped',
        'variables:',
        '  SET_HOSTNAME="web-1"',
        '  PASSWORD="<redacted>"',
        '',
      ].join('\n'),
    );
  });

  it('lists the cloud-config accounts, groups, passwords (never their values) and ssh_pwauth', async () => {
    const ctx = await contextOf({ USER_DATA: '#cloud-config\ngroups: [{ops: [root]}]\nusers:\n  - {name: app, groups: [ops], sudo: "ALL=(ALL) ALL", plain_text_passwd: Hunter-2x, ssh_authorized_keys: [k]}\n  - {name: svc, system: true, lock_passwd: false}\nchpasswd:\n  users: [{name: app, password: Other-3y, type: text}]\nssh_pwauth: true\n' });
    const text = showText(ctx, { attempts: [], variables: {} });
    expect(text).toContain([
      'users:',
      '  root: 0 ssh key(s)',
      '  app (cloud-config users, groups ops, sudo, password locked, password (plain)): 1 ssh key(s)',
      '  svc (cloud-config users, system): 0 ssh key(s)',
      '  group ops: root',
      '  password for app from chpasswd app (plain, expired)',
      '  ssh password authentication: yes',
      'scripts:',
    ].join('\n'));
    expect(text).not.toMatch(/Hunter-2x|Other-3y/u);
  });
});
