// What the NetModel renderers share: their output shape, notes, and the model questions each asks. Pure.
import type { NetworkNote } from '../docreader.js';
import { checkGlob, checkIfName, checkMac, masterOf, sameNetwork, type Device, type EthernetDevice, type IpSettings, type NetModel, type RouteSpec } from '../netmodel.js';

export const HEADER = 'Managed by vmctx; replaced at each contextualization.';

export interface RenderedFile {
  readonly content: string;
  readonly mode: number;
}

/** A renderer's whole output: guest path → file, and a note for everything it could not express. */
export interface RenderedNetwork {
  readonly files: Map<string, RenderedFile>;
  readonly notes: NetworkNote[];
}

/** The netplan-style path of a device ("ethernets.lan0"), the key space every renderer note uses. */
export function devicePath(d: Device): string {
  const group = { ethernet: 'ethernets', bond: 'bonds', bridge: 'bridges', vlan: 'vlans' }[d.kind];
  return /^[A-Za-z0-9_-]+$/u.test(d.id) ? `${group}.${d.id}` : `${group}[${JSON.stringify(d.id)}]`;
}

/** Collects a renderer's notes; `file` names the renderer ("systemd-networkd", "netplan"). */
export class Notes {
  readonly list: NetworkNote[] = [];
  constructor(private readonly backend: string) {}
  add(path: string, message: string): void {
    this.list.push({ path, file: this.backend, line: undefined, what: 'not supported', message });
  }
}

export const cidr = (a: { address: string; prefix: number }): string => `${a.address}/${a.prefix}`;

/** True when the device is a bond or bridge member (the kernel gives a member no addresses of its own). */
export const isMember = (model: NetModel, d: Device): boolean => masterOf(model, d.id) !== undefined;

/**
 * The IP settings a bond/bridge member carries that cannot apply to an enslaved port: each named in a
 * note, and the settings returned without them (what the renderer writes).
 */
export function stripMemberIp(model: NetModel, d: Device, notes: Notes): IpSettings {
  const master = masterOf(model, d.id);
  if (master === undefined) return d;
  const path = devicePath(d);
  const why = `${JSON.stringify(d.id)} is a member of the ${master.kind} ${JSON.stringify(master.id)}; an enslaved port has no IP configuration of its own (set it on ${JSON.stringify(master.id)})`;
  const dropped: string[] = [];
  if (d.dhcp4) dropped.push('dhcp4');
  if (d.dhcp6) dropped.push('dhcp6');
  if (d.acceptRa === true) dropped.push('accept-ra');
  if (d.dhcp4Overrides !== undefined) dropped.push('dhcp4-overrides');
  if (d.dhcp6Overrides !== undefined) dropped.push('dhcp6-overrides');
  if (d.addresses.length > 0) dropped.push('addresses');
  if (d.routes.length > 0) dropped.push('routes');
  if (d.nameservers.addresses.length > 0 || d.nameservers.search.length > 0) dropped.push('nameservers');
  for (const key of dropped) notes.add(`${path}.${key}`, why);
  return {
    dhcp4: false,
    dhcp6: false,
    addresses: [],
    routes: [],
    nameservers: { addresses: [], search: [] },
    ...(d.acceptRa === false ? { acceptRa: false } : {}),
    ...(d.mtu === undefined ? {} : { mtu: d.mtu }),
    ...(d.macaddress === undefined ? {} : { macaddress: d.macaddress }),
    ...(d.optional === undefined ? {} : { optional: d.optional }),
    ...(d.linkLocal === undefined ? {} : { linkLocal: d.linkLocal }),
  };
}

/**
 * Where each global route goes: the device whose static address reaches its gateway and that is not
 * an enslaved member. Routes without a gateway, or whose gateway no device reaches, are noted.
 */
export function placeGlobalRoutes(model: NetModel, notes: Notes): Map<string, RouteSpec[]> {
  const out = new Map<string, RouteSpec[]>();
  model.routes.forEach((r, i) => {
    const d = r.via === undefined ? undefined : model.devices.find((x) => !isMember(model, x) && x.addresses.some((a) => a.family === r.to.family && sameNetwork(a, r.via ?? '')));
    if (d === undefined) {
      notes.add(`routes[${i}]`, `the route to ${cidr(r.to)}${r.via === undefined ? ' has no gateway' : ` via ${r.via}: no configured interface has an address on the gateway's network`}, so it is bound to no interface; not written`);
      return;
    }
    out.set(d.id, [...(out.get(d.id) ?? []), r]);
  });
  return out;
}

/** Whether the device asks for any layer-3 configuration (a resolver's DNS is worth attaching to it). */
export const hasL3 = (ip: IpSettings): boolean => ip.dhcp4 || ip.dhcp6 || ip.acceptRa === true || ip.addresses.length > 0;

/** Kernel names of ethernet devices by device id, as the live system told the resolver. */
export type GuestNames = ReadonlyMap<string, string>;

/**
 * The kernel name an ethernet device will have, for formats that configure interfaces by name
 * (ifupdown, ifcfg): its set-name, the name the live system gave it, or a match.name that is not a
 * glob; undefined when only a MAC or driver finds it and the system did not say (the renderer notes it).
 */
export function ethernetName(d: EthernetDevice, names: GuestNames | undefined): string | undefined {
  if (d.setName !== undefined) return d.setName;
  const live = names?.get(d.id);
  if (live !== undefined) return live;
  const n = d.match.name;
  return n !== undefined && !isGlob(n) ? n : undefined;
}

/** A name pattern with glob characters (`enp2*`, `eth[01]`), not a plain interface name. */
export const isGlob = (s: string): boolean => /[*?[\]]/u.test(s);

/** The kernel name of any device: created devices (bond, bridge, VLAN) are named by their id. */
export const deviceName = (d: Device, names: GuestNames | undefined): string | undefined => (d.kind === 'ethernet' ? ethernetName(d, names) : d.id);

// ---------------------------------------------------------------- set-name for backends that rename nothing
//
// ifupdown, initscripts (ifcfg) and NetworkManager configure a NIC under the name it has; none renames
// one (networkd does, with its own .link file). Their set-name becomes a line of our udev rules file,
// as cloud-init's ENI and sysconfig renderers write 70-persistent-net.rules and netplan writes a
// rules file for every backend:
//   SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="MAC", NAME="NEW"
// A rules file, not a systemd .link file: NAME= in /etc/udev/rules.d is read by every udev these
// backends run on — systemd-udevd (Debian and Ubuntu with systemd or sysvinit: Debian's udev package
// is systemd-udevd either way; RHEL, CentOS, Fedora, SUSE), and eudev where that is still used
// (older Devuan) — while .link files are read only by systemd-udevd's net_setup_link (netplan
// writes a rule beside its .link even there, to rename reliably: its comment cites systemd issue
// 9006). A rule's NAME= also wins where the NIC has
// other naming: systemd's 80-net-setup-link.rules names a NIC (by a .link file's Name= or the
// predictable-name policy) only when no rule did, initscripts' rename_device (60-net.rules, by an
// ifcfg HWADDR=) runs before ours and gives the same name, and 70-vmctx-net.rules sorts after a
// 70-persistent-net.rules (cloud-init's, an old Debian generator's), so for the same NIC ours is the
// last NAME= and the one that applies.
//
// The rule finds the NIC by what stays the same from boot to boot: its MAC (ATTR{address}: as the NIC
// is added this is its own MAC; a bond or VLAN takes it only later, and DRIVERS=="?*" — some device
// under a driver — leaves those out) and/or its driver (DRIVERS: the NIC's or a parent's driver, a
// glob as in netplan). Never by name: when udev runs the rule, the NIC still has the kernel's name
// (eth0, eth1… in probe order), not the one the system names it later (ens3), so a name match would
// not find it, or find another NIC the next boot; a set-name found by name only is noted. udev does
// not swap names: a rename to a name another NIC still has at that moment (the kernel's own eth0,
// eth1…, as cloud-init's v1 names often are) fails for that NIC, as it does with cloud-init's rules.
//
// When it applies: udev renames a NIC as it is added (ACTION=="add"), at the next boot or when the
// NIC is hot-plugged. The renderers only return the file; on the live run the NIC keeps its old
// name until then, and renaming it now (link down, `ip link set dev OLD name NEW`) before the
// backend brings it up, or saying that it applies from the next boot, is the network module's part:
// `nicRenames` lists what the file renames.

export const UDEV_RULES_DIR = '/etc/udev/rules.d';
/** Our udev rules file: one rename rule per NIC with a set-name (ENI, ifcfg and NetworkManager). */
export const RENAME_RULES_FILE = `${UDEV_RULES_DIR}/70-vmctx-net.rules`;
/** The rules file as an owned-file entry (the module removes it when a rendering has no rename). */
export const RENAME_OWNED = { dir: UDEV_RULES_DIR, match: /^70-vmctx-net\.rules$/u, headerCheck: false } as const;

/** A rename the rules file carries: the NIC found by MAC and/or driver is named `name` as it is added. */
export interface NicRename {
  readonly id: string;
  readonly name: string;
  readonly macaddress?: string;
  readonly driver?: string;
}

/**
 * Every set-name of the model as a rename (by device id), or why it cannot be one. Each value is
 * checked again here, so a model built by hand cannot put a quote, a newline or a udev substitution
 * ($, %) into the rules file: a MAC as xx:xx:xx:xx:xx:xx (lower case, as sysfs shows it), a name as
 * the kernel takes it (1–15 letters, digits, "_", ".", "-"), a driver as a name or glob.
 */
export function planRenames(model: NetModel): { renames: Map<string, NicRename>; refused: Map<string, string> } {
  const renames = new Map<string, NicRename>();
  const refused = new Map<string, string>();
  const created = new Set(model.devices.filter((d) => d.kind !== 'ethernet').map((d) => d.id));
  for (const d of model.devices) {
    if (d.kind !== 'ethernet' || d.setName === undefined) continue;
    const r = renameOf(d, d.setName, renames, created);
    if (typeof r === 'string') refused.set(d.id, r);
    else renames.set(d.id, r);
  }
  return { renames, refused };
}

/** One NIC's rename, or why it cannot be one. */
function renameOf(d: EthernetDevice, setName: string, done: ReadonlyMap<string, NicRename>, created: ReadonlySet<string>): NicRename | string {
  const m = d.match;
  const name = checkIfName(setName);
  if (!name.ok) return `${JSON.stringify(setName.slice(0, 40))} ${name.reason}`;
  const mac = m.macaddress === undefined ? undefined : checkMac(m.macaddress);
  if (mac !== undefined && !mac.ok) return `the MAC ${JSON.stringify(m.macaddress?.slice(0, 40))} ${mac.reason}`;
  const driver = m.driver === undefined ? undefined : checkGlob(m.driver);
  if (driver !== undefined && !driver.ok) return `the driver ${JSON.stringify(m.driver?.slice(0, 40))} ${driver.reason}`;
  if (mac === undefined && driver === undefined) {
    if (m.name === undefined) return 'the NIC has no match, so no rule can say which NIC to rename';
    return `udev finds a NIC to rename by its MAC or driver only: when its rules run, the NIC has the kernel's name (eth0, eth1… in probe order), so a rule for ${isGlob(m.name) ? 'the glob' : 'the name'} ${JSON.stringify(m.name)} could miss it or rename another NIC`;
  }
  const taken = [...done.values()].find((x) => x.name === name.value);
  if (taken !== undefined) return `${JSON.stringify(taken.id)} is already renamed ${name.value}, and two NICs cannot have one name`;
  if (created.has(name.value)) return `${name.value} is the name of a device the document creates`;
  return { id: d.id, name: name.value, ...(mac === undefined ? {} : { macaddress: mac.value }), ...(driver === undefined ? {} : { driver: driver.value }) };
}

/** The renames the rules file of a model carries, for the module (to rename the NICs now, or say when it applies). */
export const nicRenames = (model: NetModel): NicRename[] => [...planRenames(model).renames.values()];

/** The udev rules file for the renames; undefined when there is none. */
export function renameRulesFile(model: NetModel, renames: ReadonlyMap<string, NicRename>): RenderedFile | undefined {
  if (renames.size === 0) return undefined;
  const lines = [`# ${HEADER}`, '# set-name: udev names each NIC as it is added (at boot, or when it is hot-plugged)'];
  for (const d of model.devices) {
    const r = renames.get(d.id);
    if (r === undefined) continue;
    lines.push('', `# ${devicePath(d)}`, [
      'SUBSYSTEM=="net"', 'ACTION=="add"', `DRIVERS=="${r.driver ?? '?*'}"`,
      ...(r.macaddress === undefined ? [] : [`ATTR{address}=="${r.macaddress}"`]), `NAME="${r.name}"`,
    ].join(', '));
  }
  return { content: `${lines.join('\n')}\n`, mode: 0o644 };
}
