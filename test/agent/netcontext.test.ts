// normaliseContext's network: a source's document mapped into ctx.net (else the OpenNebula
// variables), the plan's notes as warnings with file:line (bookkeeping left in the plan), and the
// resolver settings (ctx.dns) from the document's model.
import { describe, expect, it } from 'vitest';
import { normaliseContext, formatWarning, type RawContext } from '../../src/agent/context/context.js';
import type { NetworkDocument } from '../../src/network/plan.js';
import { emptyMedium } from '../helpers/context.js';
import { contextFingerprint } from '../../src/agent/daemonpolicy.js';

function raw(networkDocument: NetworkDocument | undefined, variables: Record<string, string> = {}, lines: Record<string, number> = {}): RawContext {
  return { source: { kind: 'nocloud', path: '/seed', foundBy: 'test', variableFiles: networkDocument === undefined ? ['context.sh'] : [] }, variables, lines, warnings: [], medium: emptyMedium(), networkDocument };
}

const ctxOf = (r: RawContext) => normaliseContext(r, { id: 'x', source: 'metadata' });

describe('the context network from a document', () => {
  it('ctx.net is the mapped document (origin: its file), no ETHn_* variables; its problems are warnings "what: KEY (file:line): message"', async () => {
    const text = 'version: 2\nethernets:\n  eno1:\n    dhcp4: true\n    infiniband-mode: datagram\n    dhcp44: yes\n';
    const ctx = await ctxOf(raw({ format: 'network-config', file: 'network-config', text }));
    expect(ctx.net.origin).toBe('network-config');
    expect(ctx.net.model.devices).toEqual([expect.objectContaining({ id: 'eno1', match: { name: 'eno1' }, dhcp4: true })]);
    expect(Object.keys(ctx.variables).filter((k) => k.startsWith('ETH'))).toEqual([]);
    const net = ctx.warnings.filter((w) => w.network !== undefined);
    expect(net.map((w) => w.message)).toEqual([
      expect.stringMatching(/^not supported: ethernets\.eno1\.infiniband-mode \(network-config:5\): /u),
      expect.stringMatching(/^unknown: ethernets\.eno1\.dhcp44 \(network-config:6\): unknown key "dhcp44" \(did you mean "dhcp4"\?\); not applied$/u),
    ]);
    expect(formatWarning(net[1]!)).toMatch(/^warning: unknown: ethernets\.eno1\.dhcp44 \(network-config:6\)/u);
  });

  it('bookkeeping notes (ids with nothing to apply) stay in the plan, not among the warnings; a document that is not one is an error', async () => {
    const doc = { links: [{ id: 'l', type: 'phy', ethernet_mac_address: '52:54:00:00:00:01', vif_id: 'v' }], networks: [{ id: 'n', link: 'l', type: 'ipv4_dhcp', network_id: 'x', mtuu: 1 }] };
    const ctx = await ctxOf(raw({ format: 'network_data.json', file: 'openstack/latest/network_data.json', text: JSON.stringify(doc, null, 1) }));
    expect(ctx.net.notes.filter((n) => n.what === 'unused').map((n) => n.path).sort()).toEqual(['links[0].vif_id', 'networks[0].id', 'networks[0].network_id']);
    expect(ctx.warnings.map((w) => w.network?.path)).toEqual(['networks[0].mtuu']);
    const bad = await ctxOf(raw({ format: 'network-config', file: 'network-config', text: 'version: [\n' }));
    expect(bad.warnings).toEqual([expect.objectContaining({ severity: 'error', message: expect.stringMatching(/^invalid: \(document\) \(network-config:\d+\): is not YAML or JSON/u) as unknown })]);
  });

  it("ctx.dns from the model: the global servers and domains, then each device's; a bad server in a document is a warning at its line", async () => {
    const v1 = 'version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets:\n      - type: static\n        address: 10.0.0.5/24\n        dns_nameservers: [10.0.0.54, 10.0.0.53]\n        dns_search: [sub.lan]\n  - type: nameserver\n    address: [10.0.0.53, not-an-ip]\n    search: [lan]\n';
    const ctx = await ctxOf(raw({ format: 'network-config', file: 'network-config', text: v1 }));
    expect(ctx.dns).toEqual({ nameservers: ['10.0.0.53', '10.0.0.54'], search: ['lan', 'sub.lan'] });
    expect(ctx.warnings.filter((w) => /not-an-ip/u.test(w.message))).toEqual([expect.objectContaining({ message: expect.stringMatching(/\(network-config:11\)/u) as unknown })]);
  });
});

describe('the context network from OpenNebula variables', () => {
  it('ctx.net from mapOpenNebula (origin: the context file); its notes are warnings with the line, except DNS/SEARCH_DOMAIN (the resolver checks report those once)', async () => {
    const vars = { ETH0_MAC: '52:54:00:00:00:01', ETH0_IP: '10.0.0.5', ETH0_ROUTES: '10.1.0.0/16 via nowhere', ETH0_DNS: 'bad!', DNS: '10.0.0.2 bad?', SEARCH_DOMAIN: '1.2' };
    const ctx = await ctxOf(raw(undefined, vars, { ETH0_ROUTES: 4, DNS: 5 }));
    expect(ctx.net.origin).toBe('context.sh');
    expect(ctx.net.model.devices).toHaveLength(1);
    const net = ctx.warnings.filter((w) => w.network !== undefined);
    expect(net.map((w) => w.message)).toEqual([expect.stringMatching(/^invalid: ETH0_ROUTES \(context\.sh:4\): "10\.1\.0\.0\/16 via nowhere" is not a route/u)]);
    // each DNS problem once, from the resolver checks
    expect(ctx.warnings.filter((w) => w.variable === 'DNS' || w.variable === 'ETH0_DNS' || w.variable === 'SEARCH_DOMAIN')).toHaveLength(3);
    expect(ctx.dns.nameservers).toEqual(['10.0.0.2']);
  });
});

describe("the daemon's fingerprint of a context", () => {
  it('changes when only the network document changes (it is not among the variables)', async () => {
    const doc = (address: string): NetworkDocument => ({ format: 'network-config', file: 'network-config', text: `version: 2\nethernets:\n  eth0:\n    addresses: [${address}]\n` });
    const a = await ctxOf(raw(doc('10.0.0.5/24'), { SET_HOSTNAME: 'h' }));
    const b = await ctxOf(raw(doc('10.0.0.6/24'), { SET_HOSTNAME: 'h' }));
    expect(a.variables).toEqual(b.variables);
    expect(contextFingerprint(a)).not.toBe(contextFingerprint(b));
    expect(contextFingerprint(a)).toBe(contextFingerprint(await ctxOf(raw(doc('10.0.0.5/24'), { SET_HOSTNAME: 'h' }))));
  });
});
