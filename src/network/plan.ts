// What the agent applies for the network: a source's document (or variables) mapped into the
// NetModel, the notes on everything not applied as written, and the backend the context forces. Pure.
import type { NetworkNote } from './docreader.js';
import type { NetModel } from './netmodel.js';

/** The network backends vmctx renders for: systemd-networkd, netplan, ifupdown (interfaces), RHEL network-scripts, NetworkManager. */
export type Backend = 'networkd' | 'netplan' | 'interfaces' | 'scripts' | 'nm';
export const BACKENDS: readonly Backend[] = ['networkd', 'netplan', 'interfaces', 'scripts', 'nm'];

/** A network document as a datasource received it, mapped later (pure) so notes keep file and line. */
export interface NetworkDocument {
  /**
   * network-config: cloud-init network-config v1 or v2 (YAML or JSON; NoCloud, or the metadata's
   * network-config key); eni: /etc/network/interfaces text (NoCloud meta-data network-interfaces);
   * network_data.json: OpenStack; ec2: the EC2 per-MAC NIC tree as JSON (fromec2.ts's shape).
   */
  readonly format: 'network-config' | 'eni' | 'network_data.json' | 'ec2';
  /** The name notes refer to: the seed's file name or the metadata path. */
  readonly file: string;
  readonly text: string;
  /**
   * The document is the value of this top-level key of `text` (NoCloud meta-data's `network-config`
   * mapping or `network-interfaces` ENI text): notes name `file` and lines of `text`.
   */
  readonly key?: string;
}

/** The context's network: the model, the notes, and the backend NETCFG_TYPE forces (OpenNebula only). */
export interface NetworkPlan {
  readonly model: NetModel;
  readonly notes: readonly NetworkNote[];
  readonly backend?: Backend;
  /** Where the model came from, for logs and `show`: "context.sh", "network-config", "network_data.json"… */
  readonly origin: string;
}
