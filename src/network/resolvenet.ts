// The model's ethernets on the running guest: which kernel interface each one is. Pure (the guest's
// NICs are given).
//
//   - By MAC: the NIC whose PERMANENT MAC is that (a bond port's current MAC is the bond's, so the
//     permanent one, from bonding_slave/perm_hwaddr, is what finds it once enslaved), else whose
//     current MAC is; when a bond (or a VLAN, a bridge) shares the MAC, the physical NIC wins.
//   - Positional (Match.positional: OpenNebula's ETHn without ETHn_MAC, StratusLab's IP_PRIVATE…):
//     the n-th physical NIC, in probe order, that no MAC of the model claims — what "eth0" meant
//     when the kernel named it so. Its MAC then anchors the device (match by MAC from there on).
//   - By glob or driver: the one physical NIC that matches (several: only backends that match by
//     themselves can use it; noted for the others).
// A MAC the guest does not have is noted; the device stays when the backend's files match by MAC
// and the NIC may still appear (`keepAbsent`), else it is left out with what depends on it.
// Every name taken from the guest is checked (checkIfName) before it can reach a file or an argv.
import type { NetworkNote } from './docreader.js';
import { checkIfName, masterOf, vlansOn, type Device, type EthernetDevice, type NetModel } from './netmodel.js';
import { devicePath, isGlob, type GuestNames } from './renderers/common.js';

export interface GuestNic {
  readonly name: string;
  /** The current MAC, lower case. */
  readonly mac: string;
  /** The permanent MAC when it differs from the current one (a bond port: bonding_slave/perm_hwaddr). */
  readonly permMac?: string;
  /** The kernel's interface index (probe order), when known. */
  readonly ifindex?: number;
  /** Backed by a device (not a bond, bridge, VLAN, veth…), when known. */
  readonly physical?: boolean;
  /** The driver's name (device/driver), when known. */
  readonly driver?: string;
  /** The link is administratively up (IFF_UP in its flags), when known. */
  readonly up?: boolean;
}

export interface ResolvedNet {
  /** The model, positional NICs anchored by the MAC of the NIC they were given; absent NICs left out unless kept. */
  readonly model: NetModel;
  /** Device id → the guest's kernel name, for the ethernets found. */
  readonly names: GuestNames;
  /** What could not be resolved, by device. */
  readonly notes: readonly NetworkNote[];
}

export interface ResolveOptions {
  /** Keep an ethernet whose MAC the guest does not have (its file matches by MAC and applies when it appears). */
  readonly keepAbsent: boolean;
  /** The backend matches globs and drivers itself: several NICs matching one is no problem. */
  readonly matchesByMac: boolean;
  /**
   * Offline (no guest list: an image, a dry run), for backends that configure by name: an ethernet
   * found only by MAC is written for its id when that is an interface name (OpenNebula's ETHn is
   * "ethN", as vmctx always guessed; cloud-init's ENI renderer names by the id too).
   */
  readonly guessNames?: boolean;
}

const note = (path: string, message: string): NetworkNote => ({ path, file: 'this system', line: undefined, what: 'not supported', message });
const permanent = (g: GuestNic): string => (g.permMac ?? g.mac).toLowerCase();
const byProbeOrder = (a: GuestNic, b: GuestNic): number => (a.ifindex ?? 0) - (b.ifindex ?? 0) || a.name.localeCompare(b.name);

/** A name or driver glob as fnmatch reads it: `*`, `?`, `[…]` (with `!` negation). */
export function globMatches(glob: string, value: string): boolean {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/gu, (x) => `\\${x}`)}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/-]/gu, (x) => `\\${x}`);
  }
  try {
    return new RegExp(`^${re}$`, 'u').test(value);
  } catch {
    return false;
  }
}

/** The guest NIC carrying a MAC: permanent MAC first, then current; a physical NIC before a bond sharing it. */
export function nicByMac(guest: readonly GuestNic[], mac: string): GuestNic | undefined {
  const want = mac.toLowerCase();
  const rank = (list: GuestNic[]): GuestNic | undefined => list.sort((a, b) => Number(b.physical !== false) - Number(a.physical !== false) || byProbeOrder(a, b))[0];
  return rank(guest.filter((g) => permanent(g) === want)) ?? rank(guest.filter((g) => g.mac.toLowerCase() === want));
}

/** The model without the given devices, and without what cannot exist without them (a VLAN on one; its place in a bond or bridge). */
export function withoutDevices(model: NetModel, ids: ReadonlySet<string>): NetModel {
  if (ids.size === 0) return model;
  const gone = new Set(ids);
  for (let grew = true; grew;) {
    grew = false;
    for (const d of model.devices) {
      if (d.kind === 'vlan' && gone.has(d.link) && !gone.has(d.id)) {
        gone.add(d.id);
        grew = true;
      }
    }
  }
  const devices = model.devices.filter((d) => !gone.has(d.id)).map((d): Device => (d.kind === 'bond' || d.kind === 'bridge' ? { ...d, interfaces: d.interfaces.filter((m) => !gone.has(m)) } : d));
  return { ...model, devices };
}

/** A device with something to set; a plain ethernet with nothing (a MAC alone, methods "skip") is not. */
function hasSettings(model: NetModel, d: Device): boolean {
  if (d.kind !== 'ethernet' || masterOf(model, d.id) !== undefined || vlansOn(model, d.id).length > 0) return true;
  return d.dhcp4 || d.dhcp6 || d.acceptRa !== undefined || d.dhcp4Overrides !== undefined || d.dhcp6Overrides !== undefined || d.addresses.length > 0 || d.routes.length > 0 ||
    d.nameservers.addresses.length > 0 || d.nameservers.search.length > 0 || d.mtu !== undefined || d.macaddress !== undefined || d.optional !== undefined ||
    d.linkLocal !== undefined || d.setName !== undefined || d.wakeOnLan !== undefined;
}

/** The model without ethernets that have nothing to set (no file takes such a NIC over from the system's own configuration). */
export function configuredModel(model: NetModel): NetModel {
  return withoutDevices(model, new Set(model.devices.filter((d) => !hasSettings(model, d)).map((d) => d.id)));
}

/** Resolves the model's ethernets on the guest; `guest` undefined (offline, a dry run): the model as it is. */
export function resolveNet(model: NetModel, guest: readonly GuestNic[] | undefined, options: ResolveOptions): ResolvedNet {
  if (guest === undefined) {
    const guessed = new Map<string, string>();
    if (options.guessNames === true) {
      for (const d of model.devices) {
        if (d.kind === 'ethernet' && d.match.macaddress !== undefined && d.match.name === undefined && d.setName === undefined && checkIfName(d.id).ok && !d.id.startsWith('-')) guessed.set(d.id, d.id);
      }
    }
    return { model, names: guessed, notes: [] };
  }
  const names = new Map<string, string>();
  const notes: NetworkNote[] = [];
  const absent = new Set<string>();
  const anchored = new Map<string, EthernetDevice>();
  const ethernets = model.devices.filter((d): d is EthernetDevice => d.kind === 'ethernet');
  const usable = (d: EthernetDevice, nic: GuestNic): boolean => {
    // a name that starts with "-" would be an option to ifup or networkctl
    if (checkIfName(nic.name).ok && !nic.name.startsWith('-')) return true;
    notes.push(note(`ethernets.${d.id}`, `the guest names this NIC ${JSON.stringify(nic.name.slice(0, 40))}, which vmctx will not write into a file or a command; it is not named`));
    return false;
  };
  const claimedMacs = new Set(ethernets.flatMap((d) => (d.match.macaddress === undefined ? [] : [d.match.macaddress.toLowerCase()])));
  const claimedNames = new Set<string>();

  for (const d of ethernets) {
    const mac = d.match.macaddress;
    if (mac === undefined) continue;
    const nic = nicByMac(guest, mac);
    if (nic === undefined) {
      if (options.keepAbsent) notes.push(note(`ethernets.${d.id}`, `no interface with MAC ${mac} on this system now; its configuration matches it by MAC if it appears`));
      else {
        notes.push(note(`ethernets.${d.id}`, `no interface with MAC ${mac} on this system; not configured`));
        absent.add(d.id);
      }
      continue;
    }
    claimedNames.add(nic.name);
    if (usable(d, nic)) names.set(d.id, nic.name);
  }
  for (const d of ethernets) if (d.match.macaddress === undefined && d.match.positional !== true && d.match.name !== undefined && !isGlob(d.match.name)) claimedNames.add(d.match.name);

  // positional NICs: the unclaimed physical ones, in probe order
  const free = guest.filter((g) => g.physical !== false && !claimedMacs.has(permanent(g)) && !claimedNames.has(g.name)).sort(byProbeOrder);
  for (const d of ethernets.filter((x) => x.match.macaddress === undefined && x.match.positional === true)) {
    const nic = free.shift();
    if (nic === undefined) {
      notes.push(note(`ethernets.${d.id}`, `the source names this NIC by position only, and this system has no further physical NIC; configured as ${JSON.stringify(d.match.name ?? d.id)} if that appears`));
      continue;
    }
    if (!usable(d, nic)) continue;
    names.set(d.id, nic.name);
    const match = { macaddress: permanent(nic), positional: true as const };
    anchored.set(d.id, { ...d, match });
  }

  // globs and drivers: the one physical NIC that matches
  for (const d of ethernets) {
    const m = d.match;
    if (m.macaddress !== undefined || m.positional === true || (m.driver === undefined && (m.name === undefined || !isGlob(m.name)))) continue;
    const hits = guest.filter((g) => g.physical !== false && (m.name === undefined || globMatches(m.name, g.name)) && (m.driver === undefined || (g.driver !== undefined && globMatches(m.driver, g.driver))));
    if (hits.length === 1 && hits[0] !== undefined) {
      if (usable(d, hits[0])) names.set(d.id, hits[0].name);
    } else if (hits.length > 1 && !options.matchesByMac) {
      notes.push(note(`ethernets.${d.id}.match`, `matches ${hits.length} NICs here (${hits.map((h) => h.name).slice(0, 8).join(', ')}); a backend that configures interfaces by name needs one`));
    }
  }

  const devices = model.devices.map((d) => anchored.get(d.id) ?? d);
  const kept = withoutDevices({ ...model, devices }, absent);
  // what goes with an absent NIC is named too: a VLAN on it, its place in a bond or bridge
  const left = new Map(kept.devices.map((d) => [d.id, d]));
  for (const d of model.devices) {
    const now = left.get(d.id);
    if (now === undefined && !absent.has(d.id)) notes.push(note(devicePath(d), `${JSON.stringify(d.kind === 'vlan' ? d.link : d.id)}, which this VLAN is on, is not configured here; not configured`));
    if (now !== undefined && (d.kind === 'bond' || d.kind === 'bridge') && (now.kind === 'bond' || now.kind === 'bridge')) {
      for (const m of d.interfaces.filter((x) => !now.interfaces.includes(x))) notes.push(note(`${devicePath(d)}.interfaces`, `the member ${JSON.stringify(m)} is not configured here; ${JSON.stringify(d.id)} is configured without it`));
    }
  }
  return { model: kept, names, notes };
}
