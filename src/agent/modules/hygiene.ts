// First-boot hygiene of a new instance: SSH host keys (the image's removed, since every clone of
// it shares them; then cloud-config's ssh_keys written, or ssh_genkeytypes made), and the time zone
// (cloud-config timezone, else TIMEZONE).
import { VmctxError } from '../../shared/errors.js';
import { OutcomeBuilder, type Module, type Target } from './module.js';
import { onHost } from '../../host/root.js';
import { restartIfRunning, systemdRunning, tool, unitFile } from './live.js';
import { markers, replaceBlock } from '../../formats/managedblock.js';
import { HOST_KEY_TYPES, type CloudHostKey, type HostKeyType, isZoneName, publicKeyOf } from '../../formats/cc/system.js';
import type { Context } from '../context/context.js';

/** The host key files cloud-init's ssh_deletekeys removes: keys, public keys and certificates. */
const HOST_KEY = /^ssh_host_[a-z0-9]+_key(\.pub|-cert\.pub)?$/u;

/** The key types made when cloud-config names none (ssh_genkeytypes); the quick ones first. */
const KEY_TYPES: readonly HostKeyType[] = ['ed25519', 'ecdsa', 'rsa'];
/** Types made after the boot when systemd can (an RSA key's prime search: seconds, tens under emulation). */
const DEFERRABLE: ReadonlySet<string> = new Set(['rsa']);
/** The local stage leaves this for vmctx-hostkeys.service (systemd/vmctx-hostkeys.service). */
export const DEFERRED_KEYS_MARKER = '/run/vmctx/hostkeys-deferred';
/** sshd_config's HostCertificate lines for ssh_keys' certificates (before any Match block: the option is global). */
const CERT_BLOCK = markers('#', 'vmctx host certificates');
const ROOT = { uid: 0, gid: 0 };

const keyFile = (type: HostKeyType, part: CloudHostKey['part']): string => `/etc/ssh/ssh_host_${type}_key${part === 'public' ? '.pub' : part === 'certificate' ? '-cert.pub' : ''}`;

/** The RSA key can wait for vmctx-hostkeys.service: systemd runs, and the unit is installed and enabled. */
async function canDefer(target: Target): Promise<boolean> {
  if (!target.live || !(await systemdRunning(target))) return false;
  if ((await target.root.lstat('/etc/systemd/system/multi-user.target.wants/vmctx-hostkeys.service')) === undefined) return false;
  return (await unitFile(target.root, 'vmctx-hostkeys.service')) !== undefined || (await target.root.lstat('/etc/systemd/system/vmctx-hostkeys.service')) !== undefined;
}

/** cloud-config's ssh_keys, the last entry of each name (a later user-data part wins). */
function givenKeys(ctx: Context): Map<string, CloudHostKey> {
  const given = new Map<string, CloudHostKey>();
  for (const k of ctx.cloudConfig?.hostKeys ?? []) given.set(`${k.type}_${k.part}`, k);
  return given;
}

/** Writes the ssh_keys host keys (0600 private, 0644 public and certificate, root's); a missing public key is made from the private one. */
async function writeGivenKeys(given: Map<string, CloudHostKey>, target: Target, out: OutcomeBuilder): Promise<string[]> {
  const { root } = target;
  const certificates: string[] = [];
  for (const type of HOST_KEY_TYPES) {
    const priv = given.get(`${type}_private`);
    if (priv === undefined) continue;
    out.changedIf(keyFile(type, 'private'), (await root.writeFile(keyFile(type, 'private'), priv.value.reveal(), { mode: 0o600, owner: ROOT, secret: true })).changed);
    const pub = given.get(`${type}_public`)?.value.reveal() ?? `${publicKeyOf(priv.value.reveal()) ?? ''} root@localhost\n`;
    out.changedIf(keyFile(type, 'public'), (await root.writeFile(keyFile(type, 'public'), pub, { mode: 0o644, owner: ROOT })).changed);
    const cert = given.get(`${type}_certificate`);
    if (cert !== undefined) {
      out.changedIf(keyFile(type, 'certificate'), (await root.writeFile(keyFile(type, 'certificate'), cert.value.reveal(), { mode: 0o644, owner: ROOT })).changed);
      certificates.push(keyFile(type, 'certificate'));
    }
  }
  return certificates;
}

/** HostCertificate lines for the certificates in a managed block of sshd_config (removed when there are none). */
async function setCertificates(certificates: readonly string[], target: Target, out: OutcomeBuilder): Promise<void> {
  const st = await target.root.lstat('/etc/ssh/sshd_config');
  if (st === undefined) return;
  // a second name for another file (/etc/shadow) is never carried into sshd_config
  if (st.nlink > 1) {
    if (certificates.length > 0) out.warnings.push(`/etc/ssh/sshd_config has ${st.nlink} hard links; HostCertificate for ${certificates.join(', ')} is not added (sshd does not offer the certificates)`);
    return;
  }
  const config = await target.root.readText('/etc/ssh/sshd_config');
  if (config === undefined) return;
  const next = replaceBlock(config, CERT_BLOCK, certificates.map((c) => `HostCertificate ${c}`), /^\s*Match\s/iu, '/etc/ssh/sshd_config');
  if (next !== config) out.changedIf('/etc/ssh/sshd_config', (await target.root.writeFile('/etc/ssh/sshd_config', next, { mode: st.mode & 0o7777 })).changed);
}

/**
 * Whether sshd is installed (sshd_config); throws when /etc or /etc/ssh is not a plain directory:
 * host keys are written (ssh-keygen too, as root) through these paths, never through a link.
 */
async function sshDirs(root: Target['root'], doing: string): Promise<boolean> {
  if ((await root.lstat('/etc/ssh/sshd_config')) === undefined) return false;
  for (const dir of ['/etc', '/etc/ssh']) {
    if ((await root.lstat(dir))?.type !== 'directory') throw new VmctxError('ERR_PATH_SYMLINK', `${dir} in the root is not a plain directory; not ${doing} host keys through it`);
  }
  return true;
}

export const hostKeysModule: Module = {
  id: 'ssh-host-keys',
  stage: 'local',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  description: "SSH host keys once per instance, before sshd starts: the image's removed (ssh_deletekeys), cloud-config's ssh_keys written or ssh_genkeytypes made (RSA at idle priority after the boot, with systemd)",
  isRelevant: () => true,
  inputs: () => null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    if (!(await sshDirs(root, 'generating'))) return out.build();
    const cc = ctx.cloudConfig;
    const given = givenKeys(ctx);
    const old = ((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n));
    if (cc?.sshDeleteKeys === false) out.actions.push(`ssh_deletekeys: false: the image's host keys are kept (${old.length} files)`);
    else for (const name of old) await root.remove(`/etc/ssh/${name}`);
    if (given.size > 0) {
      // cloud-init: given keys replace generation; only the given types are there
      if (cc?.sshGenKeyTypes !== undefined) out.warnings.push('ssh_genkeytypes: not used, ssh_keys gives the host keys (as in cloud-init)');
      await setCertificates(await writeGivenKeys(given, target, out), target, out);
      log.info({ types: [...new Set([...given.values()].map((k) => k.type))] }, 'SSH host keys written from cloud-config ssh_keys');
    } else {
      await setCertificates([], target, out);
      const wanted = cc?.sshGenKeyTypes === undefined ? KEY_TYPES : KEY_TYPES.filter((t) => cc.sshGenKeyTypes?.includes(t));
      if (wanted.length === 0) out.warnings.push('ssh_genkeytypes names no key type: no host keys are made');
      // with ssh_deletekeys: false an existing key of a type stays (cloud-init makes only the missing ones)
      const present = new Set(((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n)));
      const missing = wanted.filter((t) => !present.has(`ssh_host_${t}_key`));
      let made: readonly HostKeyType[] = missing;
      if (!target.live) {
        // an offline root: ssh-keygen -A makes the missing default types under it (a dry run plans it
        // on a scratch copy); the types ssh_genkeytypes leaves out go again
        if (missing.length > 0) await tool(target, 'ssh-keygen', ['-A', '-f', root.path], { rootFlag: false });
        for (const name of ((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n) && !present.has(n))) {
          if (!wanted.some((t) => name.startsWith(`ssh_host_${t}_key`))) await root.remove(`/etc/ssh/${name}`);
        }
      } else {
        // vmctx-hostkeys.service runs ssh-keygen -A, which makes every default type: only when all are wanted
        const defer = missing.some((t) => DEFERRABLE.has(t)) && KEY_TYPES.every((t) => wanted.includes(t)) && (await canDefer(target));
        made = missing.filter((t) => !(defer && DEFERRABLE.has(t)));
        // each type is its own process: they run side by side (the boot has more than one CPU)
        await Promise.all(made.map((type) => tool(target, 'ssh-keygen', ['-q', '-t', type, '-N', '', '-f', onHost(root, keyFile(type, 'private'))], { rootFlag: false, stdin: '' })));
        if (defer) {
          await root.writeFile(DEFERRED_KEYS_MARKER, '', { mode: 0o600 });
          out.actions.push(`${missing.filter((t) => !made.includes(t)).join(', ')} host key left to vmctx-hostkeys.service (after the boot, at idle priority)`);
        }
      }
      for (const name of ((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n) && !present.has(n))) out.changedIf(`/etc/ssh/${name}`, true);
      log.info({ removed: cc?.sshDeleteKeys === false ? 0 : old.length, made }, 'SSH host keys made for the new instance');
    }
    // an sshd already running (or one that failed at boot for want of keys, without systemd) takes the new keys
    await restartIfRunning(target, out, ['ssh.service', 'sshd.service'], ['ssh', 'sshd']);
    return out.build();
  },
};

/**
 * The second pass of ssh-host-keys: ssh_keys (and ssh_deletekeys, ssh_genkeytypes) in user data
 * that has #include URLs arrive in the network stage, after the local stage made the host keys
 * (sshd never starts without them). Given keys are written then (idempotent: the same keys change
 * nothing, so a run that had the whole user data from the start is not disturbed) and sshd takes
 * them; key types that do not match ssh_genkeytypes are said, not remade (the keys sshd already
 * offers stay).
 */
export const hostKeysLateModule: Module = {
  id: 'ssh-host-keys-late',
  stage: 'local',
  frequency: 'per-instance',
  onInterrupted: 'rerun',
  needs: ['user-data'],
  description: "ssh_keys from user data fetched with #include (in the network stage, after ssh-host-keys made the keys): written, and sshd takes them; ssh_genkeytypes that came late is said",
  isRelevant: (ctx) => ctx.userDataIncludes === 'fetched' && ((ctx.cloudConfig?.hostKeys?.length ?? 0) > 0 || ctx.cloudConfig?.sshGenKeyTypes !== undefined),
  inputs: () => null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    if (!(await sshDirs(root, 'writing'))) return out.build();
    const cc = ctx.cloudConfig;
    const given = givenKeys(ctx);
    if (given.size > 0) {
      const certificates = await writeGivenKeys(given, target, out);
      // only the given types are there (as in the first pass), unless ssh_deletekeys: false
      if (cc?.sshDeleteKeys !== false) {
        const types = new Set([...given.values()].map((k) => k.type));
        for (const name of ((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n))) {
          if (![...types].some((t) => name.startsWith(`ssh_host_${t}_key`))) out.changedIf(`/etc/ssh/${name}`, await root.remove(`/etc/ssh/${name}`));
        }
      }
      await setCertificates(certificates, target, out);
      if (out.changed.length > 0) {
        out.actions.push("ssh_keys from the #include'd user data written (it arrived after the local stage had made host keys)");
        log.info({ types: [...new Set([...given.values()].map((k) => k.type))] }, 'SSH host keys written from late user data');
        await restartIfRunning(target, out, ['ssh.service', 'sshd.service'], ['ssh', 'sshd']);
      }
      return out.build();
    }
    const wanted = KEY_TYPES.filter((t) => cc?.sshGenKeyTypes?.includes(t) === true);
    const present = new Set(((await root.readdir('/etc/ssh')) ?? []).filter((n) => HOST_KEY.test(n)));
    const deferred = (await root.lstat(DEFERRED_KEYS_MARKER)) !== undefined;
    const have = KEY_TYPES.filter((t) => present.has(`ssh_host_${t}_key`) || (deferred && DEFERRABLE.has(t)));
    if (have.length !== wanted.length || have.some((t) => !wanted.includes(t))) {
      out.warnings.push(`ssh_genkeytypes (${wanted.join(', ') || 'none'}) came with #include'd user data, fetched after the host keys were made (${have.join(', ') || 'none'}, in the local stage, before sshd starts); not applied: the host keys stay`);
    }
    return out.build();
  },
};

/** The zone to set and where it came from: cloud-config's timezone wins over TIMEZONE (user data wins, as in cloud-init). */
export function zoneOf(ctx: Context): { zone: string; source: string; overridden: string | undefined } | undefined {
  const variable = (ctx.variables['TIMEZONE'] ?? '').trim();
  const cc = ctx.cloudConfig?.timezone;
  if (cc !== undefined) return { zone: cc, source: 'cloud-config timezone', overridden: variable !== '' && variable !== cc ? variable : undefined };
  return variable === '' ? undefined : { zone: variable, source: 'TIMEZONE', overridden: undefined };
}

export const timezoneModule: Module = {
  id: 'timezone',
  needs: ['user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'time zone from cloud-config timezone, else TIMEZONE (/etc/localtime, /etc/timezone, old RHEL /etc/sysconfig/clock)',
  isRelevant: (ctx) => zoneOf(ctx) !== undefined,
  inputs: (ctx) => zoneOf(ctx) ?? null,
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const chosen = zoneOf(ctx);
    if (chosen === undefined) return out.build();
    const { zone, source } = chosen;
    if (chosen.overridden !== undefined) out.warnings.push(`cloud-config timezone ${zone} is used, not TIMEZONE ${JSON.stringify(chosen.overridden.slice(0, 60))}: the user data's zone wins, as in cloud-init`);
    if (!isZoneName(zone)) throw new VmctxError('ERR_MODULE', `${source} ${JSON.stringify(zone.slice(0, 60))} is not a zone name like Europe/Madrid`);
    const file = `/usr/share/zoneinfo/${zone}`;
    if ((await root.lstat(file))?.type !== 'file') throw new VmctxError('ERR_MODULE', `${source} ${zone}: ${file} does not exist in this system`);
    out.changedIf('/etc/localtime', await root.symlink(file, '/etc/localtime'));
    if ((await root.lstat('/etc/timezone')) !== undefined) out.changedIf('/etc/timezone', (await root.writeFile('/etc/timezone', `${zone}\n`, { mode: 0o644 })).changed);
    const clock = await root.readText('/etc/sysconfig/clock');
    if (clock !== undefined) {
      const lines = clock.replace(/\n$/u, '').split('\n').filter((l) => !/^\s*ZONE=/u.test(l));
      out.changedIf('/etc/sysconfig/clock', (await root.writeFile('/etc/sysconfig/clock', `${[...lines, `ZONE="${zone}"`].join('\n')}\n`, { mode: 0o644 })).changed);
    }
    log.info({ zone, source }, 'time zone set');
    return out.build();
  },
};
