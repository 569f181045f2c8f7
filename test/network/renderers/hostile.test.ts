// Hostile inputs through the backend table: ids and guest names from documents and from the live
// system reach file names, file contents and the bring-up order (argv) — never a path outside the
// backend's own files, never a line of their own, never an option.
import { describe, expect, it } from 'vitest';
import type { NetModel } from '../../../src/network/netmodel.js';
import { BACKENDS } from '../../../src/network/plan.js';
import { RENDERERS, isOwnedPath } from '../../../src/network/renderers/index.js';
import { addr, bond, dns, eth, vlan } from '../netmodel-helpers.js';

const model = (devices: NetModel['devices']): NetModel => ({ devices, routes: [], nameservers: dns([]) });

/** Names a guest could report (the kernel refuses only "/", ":" and whitespace; a planted udev rule, a hostile container). */
const HOSTILE_NAMES = ['../../etc/shadow', 'eth0\n[Match]', 'eth0;reboot', '$(reboot)', '-a', 'a b', 'x'.repeat(40), 'eth0"', '.', '..'];

describe('renderers × hostile input', () => {
  for (const backend of BACKENDS) {
    const r = RENDERERS[backend];
    it(`${backend}: a hostile live name reaches no path, no line and no bring-up argument`, () => {
      for (const bad of HOSTILE_NAMES) {
        const m = model([eth('lan', { macaddress: '52:54:00:00:00:0a' }, { addresses: [addr('10.0.0.5/24')] }), eth('p2', { macaddress: '52:54:00:00:00:0b' }), bond('bond0', ['p2'], {}), vlan('bond0.7', 7, 'bond0', { dhcp4: true })]);
        const names = new Map([['lan', bad], ['p2', bad]]);
        const out = r.render(m, names);
        for (const [path, file] of out.files) {
          expect(isOwnedPath(r, path), `${backend} ${JSON.stringify(bad)} ${path}`).toBe(true);
          // (a short name like "-a" is in "mac-address": those are checked by the order and the path)
          if (bad.length > 2) expect(file.content.includes(bad), `${backend} ${JSON.stringify(bad)} in ${path}`).toBe(false);
        }
        for (const n of r.upOrder(m, names)) {
          expect(n.startsWith('-'), `${backend} ${n}`).toBe(false);
          expect(n, backend).toMatch(/^[A-Za-z0-9_.:@-]+$/u);
          expect(n.includes(bad) && bad.length > 2, `${backend} ${n}`).toBe(false);
        }
      }
    });

    it(`${backend}: only its own files, in its own directories, can be written`, () => {
      const own = [...r.render(model([eth('lan', { macaddress: '52:54:00:00:00:0a' }, { dhcp4: true })]), new Map([['lan', 'ens3']])).files.keys()];
      expect(own.length, backend).toBeGreaterThan(0);
      for (const p of own) expect(isOwnedPath(r, p)).toBe(true);
      for (const p of own) {
        const dir = p.slice(0, p.lastIndexOf('/'));
        const name = p.slice(p.lastIndexOf('/') + 1);
        for (const bad of [`${dir}/../${name}`, `${dir}/./${name}`, `${dir}/sub/${name}`, `${dir}//${name}`, `${dir}/${name}\n`, `/etc/shadow`, `${dir}/${name.slice(0, 3)}`, name]) {
          expect(isOwnedPath(r, bad), `${backend} ${JSON.stringify(bad)}`).toBe(false);
        }
      }
    });
  }

  it('a device id that escapes its directory is refused by the path check even if a renderer put it in a name', () => {
    expect(isOwnedPath(RENDERERS.nm, '/etc/NetworkManager/system-connections/vmctx-../../../etc/shadow.nmconnection')).toBe(false);
    expect(isOwnedPath(RENDERERS.networkd, '/etc/systemd/network/10-vmctx-01-..network')).toBe(true);
    expect(isOwnedPath(RENDERERS.scripts, '/etc/sysconfig/network-scripts/ifcfg-eth0')).toBe(true);
    expect(isOwnedPath(RENDERERS.scripts, '/etc/sysconfig/network-scripts/ifcfg-eth0\u0000')).toBe(false);
  });
});
