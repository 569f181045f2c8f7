// Interface resolution: the provider's NICs (by MAC) to the guest's interface names. Pure.
import type { InterfaceConfig, NetworkIssue, NetworkModel } from './model.js';

export interface GuestNic {
  readonly name: string;
  readonly mac: string;
  /** The kernel's interface index (probe order), when known. */
  readonly ifindex?: number;
  /** Backed by a device (not a bridge, veth, bond…), when known. */
  readonly physical?: boolean;
}

/** Names the kernel could have given: at most 15 characters, no slash, space or control character. */
export function isUsableIfName(name: string): boolean {
  return /^[A-Za-z0-9_.:-]{1,15}$/u.test(name) && name !== '.' && name !== '..';
}

/**
 * Live: every NIC with a MAC gets the name of the guest interface carrying that MAC; a MAC the
 * guest does not have is reported, and that NIC left out unless the backend's files match by MAC
 * themselves (networkd, netplan, NetworkManager), which then apply if the NIC appears. Offline (no guest list): names stay the
 * ethN guesses and the renderers match by MAC where the format allows.
 */
export function resolveInterfaces(model: NetworkModel, guest: readonly GuestNic[] | undefined, matchesByMac = false): NetworkModel {
  if (guest === undefined) return model;
  const issues: NetworkIssue[] = [...model.issues];
  const byMac = new Map<string, GuestNic>();
  for (const nic of guest) if (!byMac.has(nic.mac.toLowerCase())) byMac.set(nic.mac.toLowerCase(), nic);
  const interfaces: InterfaceConfig[] = [];
  // a NIC the context names without a MAC (StratusLab's IP_PRIVATE/IP_PUBLIC, ETHn without
  // ETHn_MAC) is the guest's n-th physical NIC in probe order, among those no MAC claimed: that is
  // what "eth0" meant when the kernel named it so; its MAC then anchors the file
  const claimed = new Set(model.interfaces.map((n) => n.mac).filter((m): m is string => m !== undefined));
  const positional = guest.filter((g) => g.physical !== false && !claimed.has(g.mac.toLowerCase())).sort((a, b) => (a.ifindex ?? 0) - (b.ifindex ?? 0) || a.name.localeCompare(b.name));
  const withoutMac = model.interfaces.filter((n) => n.mac === undefined).sort((a, b) => a.index - b.index);
  for (const nic of model.interfaces) {
    if (nic.mac === undefined) {
      const found = positional[withoutMac.indexOf(nic)];
      if (found !== undefined && isUsableIfName(found.name)) interfaces.push({ ...nic, mac: found.mac.toLowerCase(), name: found.name, nameResolved: true });
      else interfaces.push(nic);
      continue;
    }
    const found = byMac.get(nic.mac);
    if (found === undefined) {
      if (matchesByMac) {
        // the file matches by MAC: it takes effect if (when) the NIC appears
        issues.push({ variable: `ETH${nic.index}_MAC`, message: `no interface with MAC ${nic.mac} on this system now; its configuration matches it by MAC if it appears` });
        interfaces.push(nic);
      } else {
        issues.push({ variable: `ETH${nic.index}_MAC`, message: `no interface with MAC ${nic.mac} on this system; this NIC is not configured` });
      }
      continue;
    }
    if (!isUsableIfName(found.name)) {
      issues.push({ variable: `ETH${nic.index}_MAC`, message: `the guest names this interface ${JSON.stringify(found.name.slice(0, 40))}, which vmctx will not write into a file; skipped` });
      continue;
    }
    interfaces.push({ ...nic, name: found.name, nameResolved: true });
  }
  return { ...model, interfaces, issues };
}
