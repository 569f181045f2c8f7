// First-boot hygiene of a new instance: SSH host keys regenerated (keys baked into an image are
// shared by every clone of it), and the time zone from TIMEZONE.
import { VmctxError } from '../../shared/errors.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';
import { onHost } from '../../host/root.js';
import { restartIfRunning, systemdRunning, tool, unitFile } from './live.js';

const HOST_KEY = /^ssh_host_[a-z0-9]+_key(\.pub)?$/u;
const ZONE = /^[A-Za-z0-9_+-]+(\/[A-Za-z0-9_+-]+){0,3}$/u;

/** The key types `ssh-keygen -A` makes; the quick ones first. */
const KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const;
/** Types made after the boot when systemd can (an RSA key's prime search: seconds, tens under emulation). */
const DEFERRABLE: ReadonlySet<string> = new Set(['rsa']);
/** The local stage leaves this for vmctx-hostkeys.service (systemd/vmctx-hostkeys.service). */
export const DEFERRED_KEYS_MARKER = '/run/vmctx/hostkeys-deferred';

/** The RSA key can wait for vmctx-hostkeys.service: systemd runs, and the unit is installed and enabled. */
async function canDefer(target: Target): Promise<boolean> {
  if (!target.live || !(await systemdRunning(target))) return false;
  if ((await target.root.lstat('/etc/systemd/system/multi-user.target.wants/vmctx-hostkeys.service')) === undefined) return false;
  return (await unitFile(target.root, 'vmctx-hostkeys.service')) !== undefined || (await target.root.lstat('/etc/systemd/system/vmctx-hostkeys.service')) !== undefined;
}

export const hostKeysModule: Module = {
  id: 'ssh-host-keys',
  stage: 'local',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  description: 'SSH host keys regenerated once per instance, before sshd starts (RSA at idle priority after the boot, with systemd)',
  isRelevant: () => true,
  inputs: () => null,
  async apply(_ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    if ((await root.lstat('/etc/ssh/sshd_config')) === undefined) return out.build();
    // ssh-keygen writes through these paths as root: the directories must be real, not links
    for (const dir of ['/etc', '/etc/ssh']) {
      if ((await root.lstat(dir))?.type !== 'directory') throw new VmctxError('ERR_PATH_SYMLINK', `${dir} in the root is not a plain directory; not generating host keys through it`);
    }
    const old = ((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n));
    for (const name of old) await root.remove(`/etc/ssh/${name}`);
    if (!target.live) {
      await tool(target, 'ssh-keygen', ['-A', '-f', root.path], { rootFlag: false });
    } else {
      const defer = await canDefer(target);
      const now = KEY_TYPES.filter((t) => !(defer && DEFERRABLE.has(t)));
      // each type is its own process: they run side by side (the boot has more than one CPU)
      await Promise.all(now.map((type) => tool(target, 'ssh-keygen', ['-q', '-t', type, '-N', '', '-f', onHost(root, `/etc/ssh/ssh_host_${type}_key`)], { rootFlag: false, stdin: '' })));
      if (defer) {
        await root.writeFile(DEFERRED_KEYS_MARKER, '', { mode: 0o600 });
        out.actions.push(`${KEY_TYPES.filter((t) => !now.includes(t)).join(', ')} host key left to vmctx-hostkeys.service (after the boot, at idle priority)`);
      }
    }
    for (const name of ((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n))) out.changedIf(`/etc/ssh/${name}`, true);
    log.info({ removed: old.length, keys: out.changed.length }, 'SSH host keys regenerated for the new instance');
    // an sshd already running (or one that failed at boot for want of keys, without systemd) takes the new keys
    await restartIfRunning(target, out, ['ssh.service', 'sshd.service'], ['ssh', 'sshd']);
    return out.build();
  },
};

export const timezoneModule: Module = {
  id: 'timezone',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'time zone from TIMEZONE (/etc/localtime, /etc/timezone, old RHEL /etc/sysconfig/clock)',
  isRelevant: (ctx) => (ctx.variables['TIMEZONE'] ?? '').trim() !== '',
  inputs: (ctx) => ctx.variables['TIMEZONE']?.trim() ?? null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const zone = (ctx.variables['TIMEZONE'] ?? '').trim();
    if (!ZONE.test(zone) || zone.split('/').includes('..')) throw new VmctxError('ERR_MODULE', `TIMEZONE ${JSON.stringify(zone.slice(0, 60))} is not a zone name like Europe/Madrid`);
    const file = `/usr/share/zoneinfo/${zone}`;
    if ((await root.lstat(file))?.type !== 'file') throw new VmctxError('ERR_MODULE', `TIMEZONE ${zone}: ${file} does not exist in this system`);
    out.changedIf('/etc/localtime', await root.symlink(file, '/etc/localtime'));
    if ((await root.lstat('/etc/timezone')) !== undefined) out.changedIf('/etc/timezone', (await root.writeFile('/etc/timezone', `${zone}\n`, { mode: 0o644 })).changed);
    const clock = await root.readText('/etc/sysconfig/clock');
    if (clock !== undefined) {
      const lines = clock.replace(/\n$/u, '').split('\n').filter((l) => !/^\s*ZONE=/u.test(l));
      out.changedIf('/etc/sysconfig/clock', (await root.writeFile('/etc/sysconfig/clock', `${[...lines, `ZONE="${zone}"`].join('\n')}\n`, { mode: 0o644 })).changed);
    }
    log.info({ zone }, 'time zone set');
    return out.build();
  },
};
