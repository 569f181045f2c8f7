// Hostname: the Context's host (cloud-config hostname/fqdn, else SET_HOSTNAME, then HOSTNAME;
// already sanitised). Writes /etc/hostname (not created where the image has none under
// create_hostname_file: false), HOSTNAME= in the old RHEL /etc/sysconfig/network, and sets it live
// with hostnamectl or hostname (when the Target's machine has another name, or the Target gives no
// machine); nothing of this under preserve_hostname. /etc/hosts per manage_etc_hosts: by default
// (and "localhost") a managed "127.0.1.1 fqdn short" block replaces the image's 127.0.1.1 lines,
// every other line kept; true rewrites the file whole; false leaves it.
import { markers, replaceBlock } from '../../formats/managedblock.js';
import type { HostnameSpec } from '../context/types.js';
import { runLive, unlinkIfSymlink } from './live.js';
import { OutcomeBuilder, type Module } from './module.js';

export const HOSTS_BLOCK = markers('#');
const DEFAULT_HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';
/** A line of the image's own for 127.0.1.1 (Debian's place for the host's name), not one naming localhost. */
const OLD_NAME_LINE = /^\s*127\.0\.1\.1\s/u;

export function hostsLines(host: Pick<HostnameSpec, 'short' | 'fqdn'>): string[] {
  return [host.fqdn === undefined || host.fqdn === host.short ? `127.0.1.1\t${host.short}` : `127.0.1.1\t${host.fqdn} ${host.short}`];
}

/** /etc/hosts as manage_etc_hosts: true writes it: the name first, then the usual loopback lines. */
export function hostsTemplate(host: Pick<HostnameSpec, 'short' | 'fqdn'>): string {
  return [
    '# Written by vmctx (cloud-config manage_etc_hosts: true): rewritten whole when the host name changes.',
    '# For lines of your own here, set manage_etc_hosts: localhost (vmctx then changes only its 127.0.1.1 block).',
    ...hostsLines(host),
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    '',
  ].join('\n');
}

/**
 * The hosts file with vmctx's block for `host` (placed where the image's 127.0.1.1 line was), and
 * without the image's other 127.0.1.1 lines (an old name that would still resolve, and be the
 * address's name first); every other line kept. Returns the lines taken out.
 */
export function updateHosts(text: string, host: Pick<HostnameSpec, 'short' | 'fqdn'>): { text: string; dropped: string[] } {
  const withBlock = replaceBlock(text, HOSTS_BLOCK, hostsLines(host), OLD_NAME_LINE, '/etc/hosts');
  const kept: string[] = [];
  const dropped: string[] = [];
  let inside = false;
  for (const line of withBlock.split('\n')) {
    if (line.trimEnd() === HOSTS_BLOCK.begin) inside = true;
    else if (line.trimEnd() === HOSTS_BLOCK.end) inside = false;
    else if (!inside && OLD_NAME_LINE.test(line) && !/(^|\s)localhost(\.\S*)?(\s|$)/u.test(line.split('#')[0] ?? '')) {
      dropped.push(line);
      continue;
    }
    kept.push(line);
  }
  return { text: kept.join('\n'), dropped };
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
  description: 'hostname (cloud-config hostname/fqdn, else SET_HOSTNAME/HOSTNAME) into /etc/hostname, /etc/hosts and the running system',
  isRelevant: (ctx) => ctx.host !== undefined && (!ctx.host.preserve || ctx.host.etcHosts !== 'off'),
  inputs: (ctx) => ({ hostname: ctx.hostname, host: ctx.host }),
  async apply(ctx, target, log) {
    const out = new OutcomeBuilder();
    const host = ctx.host;
    if (host === undefined) return out.build();
    const { root } = target;
    const { name } = host;
    if (!host.preserve) {
      await unlinkIfSymlink(root, '/etc/hostname', out);
      const hasFile = (await root.lstat('/etc/hostname')) !== undefined;
      if (hasFile || host.createFile) out.changedIf('/etc/hostname', (await root.writeFile('/etc/hostname', `${name}\n`, { mode: 0o644 })).changed);
      else out.actions.push('create_hostname_file: false and the image has no /etc/hostname: none created (the name holds until the next boot sets it again)');
      const sysconfig = await root.readText('/etc/sysconfig/network');
      if (sysconfig !== undefined) {
        out.changedIf('/etc/sysconfig/network', (await root.writeFile('/etc/sysconfig/network', setSysconfigHostname(sysconfig, name), { mode: 0o644 })).changed);
      }
      if (target.live && target.machine?.hostname() !== name) {
        // Early in boot (the local stage) D-Bus is not up yet and hostnamectl can only fail slowly.
        const dbus = (await root.lstat('/run/dbus/system_bus_socket')) !== undefined;
        // without a hostname file to keep, the name is only the running system's (hostnamectl would write one)
        const mode = hasFile || host.createFile ? [] : ['--transient'];
        const hostname = ['hostname', [name]] as const;
        await runLive(target, out, dbus ? [['hostnamectl', ['set-hostname', ...mode, name]], hostname] : [hostname]);
      }
    }
    if (host.etcHosts !== 'off') {
      await unlinkIfSymlink(root, '/etc/hosts', out);
      let next: string;
      if (host.etcHosts === 'template') next = hostsTemplate(host);
      else {
        // a hard-linked /etc/hosts could be another file's content (/etc/shadow's): never carried over
        const links = (await root.lstat('/etc/hosts'))?.nlink ?? 1;
        if (links > 1) out.warnings.push(`/etc/hosts has ${links} hard links; its content is not carried over`);
        const hosts = (links > 1 ? undefined : await root.readText('/etc/hosts')) ?? DEFAULT_HOSTS;
        const updated = updateHosts(hosts, host);
        next = updated.text;
        // the lines' addresses and names only (a hosts file holds no secrets); each shortened
        if (updated.dropped.length > 0) {
          out.details = { hostsLinesReplaced: updated.dropped.map((l) => l.slice(0, 120)) };
          log.info({ lines: updated.dropped.map((l) => l.slice(0, 120)) }, "/etc/hosts: the image's 127.0.1.1 line replaced by vmctx's");
        }
      }
      out.changedIf('/etc/hosts', (await root.writeFile('/etc/hosts', next, { mode: 0o644 })).changed);
    }
    log.info({ hostname: host.preserve ? undefined : name, fqdn: host.fqdn, source: host.source, etcHosts: host.etcHosts }, host.preserve ? 'hostname kept (preserve_hostname)' : 'hostname set');
    return out.build();
  },
};
