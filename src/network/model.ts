// The typed network model: what the context asks of each interface, independent of any backend.

export type Ipv4Method = 'static' | 'dhcp' | 'skip';
export type Ipv6Method = 'static' | 'auto' | 'dhcp' | 'disable' | 'skip';
export type Backend = 'networkd' | 'netplan' | 'interfaces' | 'scripts' | 'nm';
export const BACKENDS: readonly Backend[] = ['networkd', 'netplan', 'interfaces', 'scripts', 'nm'];

export interface Address {
  readonly address: string;
  readonly prefix: number;
}

export interface Route {
  readonly to: string;
  readonly prefix: number;
  readonly via: string;
  readonly metric?: number;
}

export interface InterfaceConfig {
  /** Provider's NIC index (ETHx's x): not the guest's ethX. */
  readonly index: number;
  /** Lower-case MAC, the only reliable way to find the guest interface. */
  readonly mac: string | undefined;
  /** A guest interface name: resolved by MAC on a live system, or the legacy ethN guess. */
  readonly name: string;
  /** True when `name` was resolved from the guest's own NICs, not guessed. */
  readonly nameResolved: boolean;
  readonly ipv4: {
    readonly method: Ipv4Method;
    readonly addresses: readonly Address[];
    readonly gateway?: string;
    readonly metric?: number;
  };
  readonly ipv6: {
    readonly method: Ipv6Method;
    readonly addresses: readonly Address[];
    readonly gateway?: string;
    readonly metric?: number;
  };
  readonly mtu?: number;
  readonly routes: readonly Route[];
  readonly dns: readonly string[];
  readonly search: readonly string[];
  readonly vlan?: number;
}

export interface NetworkIssue {
  readonly variable: string;
  readonly message: string;
}

export interface NetworkModel {
  readonly interfaces: readonly InterfaceConfig[];
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
  /** NETCFG_TYPE, when the context forces a backend. */
  readonly backend?: Backend;
  /** Values that were invalid and skipped (the rest still applies). */
  readonly issues: readonly NetworkIssue[];
}

export interface RenderedFile {
  readonly content: string;
  readonly mode: number;
}

/** Guest path → file. Pure output of a renderer. */
export type RenderedFiles = ReadonlyMap<string, RenderedFile>;

/** Characters a value may carry into any rendered file: no newline, quote or control character. */
export function safeToken(value: string): boolean {
  return /^[A-Za-z0-9._:/-]+$/u.test(value);
}
