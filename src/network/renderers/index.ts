// The five NetModel renderers behind one table: for each backend, how to render a model, the order
// its devices are brought up in, and the files it owns (so the module removes what it wrote earlier and
// no longer renders — including the file names of the renderer before the NetModel). Pure.
import { checkIfName, dependencyOrder, type NetModel } from '../netmodel.js';
import type { Backend } from '../plan.js';
import { HEADER, deviceName, type GuestNames, type RenderedNetwork } from './common.js';
import { ENI_OWNED, eniIfupOrder, renderEni } from './eni.js';
import { IFCFG_OWNED, ifcfgIfupOrder, ifcfgNetworkMerge, renderIfcfg } from './ifcfg.js';
import { NETPLAN_FILE, renderNetplan } from './netplan.js';
import { NETWORKD_DIR, RESOLVED_DROPIN, renderNetworkd } from './networkd.js';
import { NM_OWNED, nmActivationOrder, renderNetworkManager } from './networkmanager.js';

/**
 * The header of the files the renderer before the NetModel wrote (ifcfg files are recognised as ours
 * by their header, so both are accepted when old ones are removed).
 */
export const OLD_HEADER = 'Managed by vmctx from the VM context; replaced at each contextualization.';

/** Files a backend owns in one directory: those whose name matches; with `headerCheck`, only those starting with our header. */
export interface OwnedFiles {
  readonly dir: string;
  readonly match: RegExp;
  readonly headerCheck: boolean;
}

export interface BackendRenderer {
  readonly backend: Backend;
  /** What the report calls it. */
  readonly label: string;
  /** The backend's own files match NICs by MAC (networkd, netplan, NetworkManager): they need no live name. */
  readonly matchesByMac: boolean;
  render(model: NetModel, names?: GuestNames): RenderedNetwork;
  /** KEY=VALUE settings to merge into existing files (ifcfg's /etc/sysconfig/network). */
  merges(model: NetModel): ReadonlyMap<string, Readonly<Record<string, string>>>;
  /**
   * What to bring up, in order (bond/bridge ports before their controller, a VLAN after its link):
   * kernel interface names (networkd, ifupdown, ifcfg) or connection ids (NetworkManager). netplan
   * applies as a whole: empty.
   */
  upOrder(model: NetModel, names?: GuestNames): string[];
  /** The files this backend's renderer owns, the current names and those of the renderer before. */
  readonly owned: readonly OwnedFiles[];
}

/** Kernel names in dependency order: the devices whose name is known and is a usable interface name. */
function namesInOrder(model: NetModel, names: GuestNames | undefined): string[] {
  const out: string[] = [];
  for (const d of dependencyOrder(model)) {
    const n = deviceName(d, names);
    if (n !== undefined && isSafeIfName(n) && !out.includes(n)) out.push(n);
  }
  return out;
}

/** A name that may reach a file and an argv: a checked kernel name that no program reads as an option. */
export const isSafeIfName = (n: string): boolean => checkIfName(n).ok && !n.startsWith('-');

/** The live names a renderer is given: only safe ones (a hostile name from the guest is as if unknown). */
const safeNames = (names: GuestNames | undefined): GuestNames | undefined => (names === undefined ? undefined : new Map([...names].filter(([, n]) => isSafeIfName(n))));
/** A bring-up order without anything that is not a safe name or connection id. */
const safeOrder = (order: readonly string[]): string[] => order.filter((n) => !n.startsWith('-') && /^[A-Za-z0-9_.:@-]{1,80}$/u.test(n));

const none = (): ReadonlyMap<string, Readonly<Record<string, string>>> => new Map();
const fileName = (path: string): RegExp => new RegExp(`^${(path.split('/').at(-1) ?? '').replace(/[.]/gu, '\\.')}$`, 'u');
const dirOf = (path: string): string => path.slice(0, path.lastIndexOf('/'));
/** The files a renderer declares as its own (its main files and `also`, the udev rename rules), as the table's list. */
const ownedBy = (o: { readonly dir: string; readonly match: RegExp; readonly headerCheck?: boolean; readonly also: readonly OwnedFiles[] }): OwnedFiles[] =>
  [{ dir: o.dir, match: o.match, headerCheck: o.headerCheck ?? false }, ...o.also];

const TABLE: Readonly<Record<Backend, BackendRenderer>> = {
  networkd: {
    backend: 'networkd',
    label: 'systemd-networkd',
    matchesByMac: true,
    render: (model) => renderNetworkd(model),
    merges: none,
    upOrder: namesInOrder,
    owned: [
      // 10-vmctx-NN-ID.{network,netdev,link}; the renderer before wrote 10-vmctx-ethN.network
      { dir: NETWORKD_DIR, match: /^10-vmctx-.+\.(network|netdev|link)$/u, headerCheck: false },
      { dir: dirOf(RESOLVED_DROPIN), match: fileName(RESOLVED_DROPIN), headerCheck: false },
    ],
  },
  netplan: {
    backend: 'netplan',
    label: 'netplan',
    matchesByMac: true,
    render: (model) => renderNetplan(model),
    merges: none,
    upOrder: () => [],
    owned: [{ dir: dirOf(NETPLAN_FILE), match: fileName(NETPLAN_FILE), headerCheck: false }],
  },
  nm: {
    backend: 'nm',
    label: 'NetworkManager',
    matchesByMac: true,
    render: renderNetworkManager,
    merges: none,
    upOrder: nmActivationOrder,
    owned: ownedBy(NM_OWNED),
  },
  interfaces: {
    backend: 'interfaces',
    label: 'ifupdown',
    matchesByMac: false,
    render: renderEni,
    merges: none,
    upOrder: eniIfupOrder,
    owned: ownedBy(ENI_OWNED),
  },
  scripts: {
    backend: 'scripts',
    label: 'network-scripts (ifcfg)',
    matchesByMac: false,
    render: renderIfcfg,
    merges: (model) => {
      const merge = ifcfgNetworkMerge(model);
      return new Map(merge === undefined ? [] : [['/etc/sysconfig/network', merge]]);
    },
    upOrder: ifcfgIfupOrder,
    owned: ownedBy(IFCFG_OWNED),
  },
};

/** The table, each renderer given only safe live names and its order only safe names. */
export const RENDERERS: Readonly<Record<Backend, BackendRenderer>> = Object.fromEntries(
  Object.entries(TABLE).map(([backend, r]) => [backend, {
    ...r,
    render: (model: NetModel, names?: GuestNames) => r.render(model, safeNames(names)),
    upOrder: (model: NetModel, names?: GuestNames) => safeOrder(r.upOrder(model, safeNames(names))),
  }]),
) as Record<Backend, BackendRenderer>;

/** Whether a file's text starts with the header of vmctx's renderers (this one's or the one before). */
export function startsWithHeader(text: string): boolean {
  return text.startsWith(`# ${HEADER}`) || text.startsWith(`# ${OLD_HEADER}`);
}

/**
 * A path the backend's renderer may write: directly in a directory it owns, with a name it owns, no
 * "." or ".." part (ids and names come from documents and from the guest: checked again here).
 */
export function isOwnedPath(renderer: BackendRenderer, path: string): boolean {
  const cut = path.lastIndexOf('/');
  const dir = path.slice(0, cut);
  const name = path.slice(cut + 1);
  if (!path.startsWith('/') || path.split('/').slice(1).some((p) => p === '' || p === '.' || p === '..') || !/^[ -~]+$/u.test(path)) return false;
  return renderer.owned.some((o) => o.dir === dir && o.match.test(name));
}
