// mapNetworkDocument's dispatch on the format (and on a key of meta-data), NoCloud's precedence of
// network documents, and which notes are bookkeeping rather than problems. Pure.
import { describe, expect, it } from 'vitest';
import { isBookkeepingNote, isDocumentError, mapNetworkDocument, noCloudNetwork } from '../../src/network/fromdocument.js';
import type { NetworkNote } from '../../src/network/docreader.js';

const note = (what: NetworkNote['what'], message: string, path = 'x.y'): NetworkNote => ({ path, file: 'f', line: 1, what, message });

describe('mapNetworkDocument', () => {
  it('network-config v1 and v2, ENI text, network_data.json and the EC2 NIC tree each reach their mapper, notes naming the document', () => {
    const v2 = mapNetworkDocument({ format: 'network-config', file: 'network-config', text: 'version: 2\nethernets:\n  eno1:\n    dhcp4: true\n    wakeonlan: true\n' });
    expect(v2.model.devices).toEqual([expect.objectContaining({ id: 'eno1', dhcp4: true })]);
    expect(v2.notes.every((n) => n.file === 'network-config')).toBe(true);
    const v1 = mapNetworkDocument({ format: 'network-config', file: 'nc', text: 'version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets: [{type: dhcp}]\n' });
    expect(v1.model.devices).toEqual([expect.objectContaining({ dhcp4: true })]);
    const eni = mapNetworkDocument({ format: 'eni', file: 'interfaces', text: 'auto eth0\niface eth0 inet dhcp\n' });
    expect(eni.model.devices).toEqual([expect.objectContaining({ id: 'eth0', dhcp4: true })]);
    const nd = mapNetworkDocument({ format: 'network_data.json', file: 'network_data.json', text: JSON.stringify({ links: [{ id: 'l', type: 'phy', ethernet_mac_address: '52:54:00:00:00:01' }], networks: [{ id: 'n', link: 'l', type: 'ipv4_dhcp', network_id: 'x' }] }) });
    expect(nd.model.devices).toEqual([expect.objectContaining({ match: { macaddress: '52:54:00:00:00:01' }, dhcp4: true })]);
    const ec2 = mapNetworkDocument({ format: 'ec2', file: 'macs', text: JSON.stringify({ interfaces: { macs: { '02:00:00:00:00:01': { 'device-number': '0', 'local-ipv4s': '10.0.0.5' } } } }) });
    expect(ec2.model.devices).toEqual([expect.objectContaining({ match: { macaddress: '02:00:00:00:00:01' }, dhcp4: true })]);
    expect(mapNetworkDocument({ format: 'ec2', file: 'macs', text: '{' }).notes).toEqual([expect.objectContaining({ file: 'macs', what: 'invalid', message: 'is not JSON; nothing configured' })]);
  });

  it("a key of meta-data: network-config mapped in place (lines of meta-data, the other keys not the mapper's business); ENI text in a block scalar at its own lines", () => {
    const text = 'instance-id: i-1\nlocal-hostname: h\nnetwork-config:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n      dhcp44: true\n';
    const nc = mapNetworkDocument({ format: 'network-config', file: 'meta-data', text, key: 'network-config' });
    expect(nc.model.devices).toEqual([expect.objectContaining({ id: 'eth0', dhcp4: true })]);
    expect(nc.notes).toEqual([expect.objectContaining({ path: 'network-config.ethernets.eth0.dhcp44', file: 'meta-data', line: 8, what: 'unknown', message: expect.stringContaining('did you mean "dhcp4"') as unknown })]);
    const eni = mapNetworkDocument({ format: 'eni', file: 'meta-data', text: 'instance-id: i-1\nnetwork-interfaces: |\n  iface eth0 inet dhcp\n  iface eth1 inet static\n    addres 10.0.0.5\n', key: 'network-interfaces' });
    expect(eni.notes.find((n) => n.path === 'network-interfaces: addres')).toMatchObject({ file: 'meta-data', line: 5, what: 'unknown' });
    expect(eni.notes.find((n) => n.path === 'network-interfaces: iface eth1')).toMatchObject({ line: 4 });
    // a quoted string has no lines of its own: its notes get the key's line
    const quoted = mapNetworkDocument({ format: 'eni', file: 'meta-data', text: 'instance-id: i-1\nnetwork-interfaces: "iface eth0 inet dhcp\\n  frob 1\\n"\n', key: 'network-interfaces' });
    expect(quoted.notes.find((n) => n.message.includes('frob'))).toMatchObject({ line: 2 });
    expect(mapNetworkDocument({ format: 'eni', file: 'meta-data', text: 'network-interfaces: [a]\n', key: 'network-interfaces' }).notes).toEqual([
      expect.objectContaining({ path: 'network-interfaces', line: 1, what: 'invalid' }),
    ]);
  });
});

describe("NoCloud's network documents", () => {
  const md = (networkInterfaces: boolean, networkConfig: boolean) => ({ text: 'm', networkInterfaces, networkConfig });
  it('the network-config file, then meta-data network-interfaces, then meta-data network-config; the losers named', () => {
    expect(noCloudNetwork({ networkConfig: 'n', metaData: md(true, true) })).toEqual({
      document: { format: 'network-config', file: 'network-config', text: 'n' },
      notApplied: ["meta-data network-interfaces not applied: network-config wins (cloud-init's precedence)", "meta-data network-config not applied: network-config wins (cloud-init's precedence)"],
    });
    expect(noCloudNetwork({ metaData: md(true, true) })).toEqual({
      document: { format: 'eni', file: 'meta-data', text: 'm', key: 'network-interfaces' },
      notApplied: ["meta-data network-config not applied: meta-data network-interfaces wins (cloud-init's precedence)"],
    });
    expect(noCloudNetwork({ metaData: md(false, true) })).toEqual({ document: { format: 'network-config', file: 'meta-data', text: 'm', key: 'network-config' }, notApplied: [] });
    expect(noCloudNetwork({ metaData: md(false, false) })).toEqual({ document: undefined, notApplied: [] });
    // an empty network-config file (blank, or comments only) is none, as cloud-init reads it: the next one applies
    expect(noCloudNetwork({ networkConfig: '# nothing here\n\n', metaData: md(true, false) })).toEqual({
      document: { format: 'eni', file: 'meta-data', text: 'm', key: 'network-interfaces' },
      notApplied: ['network-config is empty (no network configuration in it); not used'],
    });
  });
});

describe('which notes are problems', () => {
  it("bookkeeping: informational ids with nothing to apply, an auto line with nothing to configure, EC2's informational keys — not the other 'unused' notes", () => {
    expect(isBookkeepingNote(note('unused', "the Neutron network's id; nothing to apply"))).toBe(true);
    expect(isBookkeepingNote(note('unused', 'eth1 is brought up by an auto line but has no iface stanza; nothing to configure'))).toBe(true);
    expect(isBookkeepingNote(note('unused', 'vpc-id is informational (not network configuration of the guest); not used'))).toBe(true);
    // a value the user wrote that does nothing is a problem to show
    expect(isBookkeepingNote(note('unused', 'gateway has no meaning on a dhcp stanza (the DHCP server or router gives it); not used'))).toBe(false);
    expect(isBookkeepingNote(note('not supported', 'x; nothing to apply'))).toBe(false);
  });

  it('the real notes of the mappers: network_data.json ids and EC2 informational keys are bookkeeping, an unknown key is not', () => {
    const nd = mapNetworkDocument({ format: 'network_data.json', file: 'n', text: JSON.stringify({ links: [{ id: 'l', type: 'phy', ethernet_mac_address: '52:54:00:00:00:01', vif_id: 'v' }], networks: [{ id: 'n', link: 'l', type: 'ipv4_dhcp', network_id: 'x', frob: 1 }] }) });
    expect(nd.notes.filter((n) => !isBookkeepingNote(n)).map((n) => n.path)).toEqual(['networks[0].frob']);
    const ec2 = mapNetworkDocument({ format: 'ec2', file: 'm', text: JSON.stringify({ interfaces: { macs: { '02:00:00:00:00:01': { 'local-ipv4s': '10.0.0.5', 'owner-id': '1', 'vpc-id': 'v', frob: 'x' } } } }) });
    expect(ec2.notes.filter((n) => !isBookkeepingNote(n)).map((n) => n.path)).toEqual(['interfaces.macs.02:00:00:00:00:01.frob']);
  });

  it('a whole document not used is an error; a bad value inside one is not', () => {
    expect(mapNetworkDocument({ format: 'network-config', file: 'nc', text: 'version: [\n' }).notes.map(isDocumentError)).toEqual([true]);
    expect(mapNetworkDocument({ format: 'network-config', file: 'nc', text: 'ethernets: {}\n' }).notes.filter(isDocumentError)).toHaveLength(1);
    expect(mapNetworkDocument({ format: 'network_data.json', file: 'n', text: '"text"' }).notes.map(isDocumentError)).toEqual([true]);
    expect(isDocumentError(note('invalid', '"x" is not a MAC address; skipped', 'ethernets.eth0.match.macaddress'))).toBe(false);
  });
});
