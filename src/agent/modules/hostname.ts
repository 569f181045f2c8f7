// Hostname: SET_HOSTNAME (then HOSTNAME), already sanitised in the Context. Writes /etc/hostname,
// a managed line in /etc/hosts (replaced, never appended again), HOSTNAME= in the old RHEL
// /etc/sysconfig/network, and sets it live with hostnamectl or hostname (when the Target's machine
// has another name, or the Target gives no machine).
import { markers, replaceBlock } from '../../formats/managedblock.js';
import { runLive, unlinkIfSymlink } from './live.js';
import { OutcomeBuilder, type Module } from './module.js';

export const HOSTS_BLOCK = markers('#');
const DEFAULT_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

export function hostsLines(name: string): string[] {
  const short = name.split('.')[0] ?? name;
  return [short === name ? `127.0.1.1\t${name}` : `127.0.1.1\t${name} ${short}`];
}

/** Sets or adds HOSTNAME= in a sysconfig-style file, keeping every other line. */
export function setSysconfigHostname(text: string, name: string): string {
  const lines = text.replace(/\n$/u, '').split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1));
  const out = lines.map((l) => (/^\s*HOSTNAME=/u.test(l) ? `HOSTNAME=${name}` : l));
  if (!lines.some((l) => /^\s*HOSTNAME=/u.test(l))) out.push(`HOSTNAME=${name}`);
  return `${out.join('\n')}\n`;
}

export const hostnameModule: Module = {
  id: 'hostname',
  needs: ['hostname', 'user-data'],
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: 'hostname from SET_HOSTNAME/HOSTNAME into /etc/hostname, /etc/hosts and the running system',
  isRelevant: (ctx) => ctx.hostname !== undefined,
  inputs: (ctx) => ({ hostname: ctx.hostname }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const name = ctx.hostname;
    if (name === undefined) return out.build();
    const { root } = target;
    await unlinkIfSymlink(root, '/etc/hostname', out);
    await unlinkIfSymlink(root, '/etc/hosts', out);
    out.changedIf('/etc/hostname', (await root.writeFile('/etc/hostname', `${name}\n`, { mode: 0o644 })).changed);
    // a hard-linked /etc/hosts could be another file's content (/etc/shadow's): never carried over
    const links = (await root.lstat('/etc/hosts'))?.nlink ?? 1;
    if (links > 1) out.warnings.push(`/etc/hosts has ${links} hard links; its content is not carried over`);
    const hosts = (links > 1 ? undefined : await root.readText('/etc/hosts')) ?? DEFAULT_HOSTS;
    const nextHosts = replaceBlock(hosts, HOSTS_BLOCK, hostsLines(name), /^127\.0\.1\.1\s/u, '/etc/hosts');
    out.changedIf('/etc/hosts', (await root.writeFile('/etc/hosts', nextHosts, { mode: 0o644 })).changed);
    const sysconfig = await root.readText('/etc/sysconfig/network');
    if (sysconfig !== undefined) {
      out.changedIf('/etc/sysconfig/network', (await root.writeFile('/etc/sysconfig/network', setSysconfigHostname(sysconfig, name), { mode: 0o644 })).changed);
    }
    if (target.live && target.machine?.hostname() !== name) {
      // Early in boot (the local stage) D-Bus is not up yet and hostnamectl can only fail slowly.
      const dbus = (await root.lstat('/run/dbus/system_bus_socket')) !== undefined;
      const hostname = ['hostname', [name]] as const;
      await runLive(target, out, dbus ? [['hostnamectl', ['set-hostname', name]], hostname] : [hostname]);
    }
    log.info({ hostname: name }, 'hostname set');
    return out.build();
  },
};
