// The udev rename rules (common.ts) that ENI, ifcfg and NetworkManager write for a set-name: which
// set-names become a rule, why the others do not, and that no value from a document can add a key,
// a rule or a udev substitution to the rules file.
import { describe, expect, it } from 'vitest';
import type { NetModel } from '../../../src/network/netmodel.js';
import { RENAME_OWNED, RENAME_RULES_FILE, nicRenames, planRenames, type RenderedNetwork } from '../../../src/network/renderers/common.js';
import { renderEni } from '../../../src/network/renderers/eni.js';
import { renderIfcfg } from '../../../src/network/renderers/ifcfg.js';
import { renderNetworkManager } from '../../../src/network/renderers/networkmanager.js';
import { bond, dns, eth, type Device } from '../netmodel-helpers.js';

const model = (devices: Device[]): NetModel => ({ devices, routes: [], nameservers: dns([]) });
const RENDERERS: [string, (m: NetModel) => RenderedNetwork][] = [['eni', (m) => renderEni(m)], ['ifcfg', (m) => renderIfcfg(m)], ['nm', (m) => renderNetworkManager(m)]];
/** The rule lines of a rendering's rules file (comments and blank lines left out). */
const rules = (r: RenderedNetwork): string[] => (r.files.get(RENAME_RULES_FILE)?.content ?? '').split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('set-name as a udev rename rule', () => {
  it('renames by MAC (lower case, as sysfs shows it), by driver, by both; never by name; keeps the file name ours', () => {
    const m = model([
      eth('a', { macaddress: '52:54:00:00:00:01' }, { setName: 'lan0' }),
      eth('b', { driver: 'virtio_net' }, { setName: 'lan1' }),
      eth('c', { macaddress: '52:54:00:00:00:03', driver: 'e1000*', name: 'eth*' }, { setName: 'lan2' }),
      eth('d', { name: 'eth3' }, { setName: 'lan3' }),
      eth('e', { macaddress: '52:54:00:00:00:05' }),
    ]);
    expect(nicRenames(m)).toEqual([
      { id: 'a', name: 'lan0', macaddress: '52:54:00:00:00:01' },
      { id: 'b', name: 'lan1', driver: 'virtio_net' },
      { id: 'c', name: 'lan2', macaddress: '52:54:00:00:00:03', driver: 'e1000*' },
    ]);
    expect([...planRenames(m).refused.keys()]).toEqual(['d']);
    expect(RENAME_RULES_FILE.startsWith(`${RENAME_OWNED.dir}/`)).toBe(true);
    expect(RENAME_RULES_FILE.split('/').at(-1)).toMatch(RENAME_OWNED.match);
    for (const [, render] of RENDERERS) {
      expect(rules(render(m))).toEqual([
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:00:00:01", NAME="lan0"',
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="virtio_net", NAME="lan1"',
        'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="e1000*", ATTR{address}=="52:54:00:00:00:03", NAME="lan2"',
      ]);
    }
  });

  it('two NICs renamed to one name, a name a created device has, and a NIC with no match are not renamed, each with its reason', () => {
    const m = model([
      eth('a', { macaddress: '52:54:00:00:00:01' }, { setName: 'lan0' }),
      eth('b', { macaddress: '52:54:00:00:00:02' }, { setName: 'lan0' }),
      eth('c', { macaddress: '52:54:00:00:00:03' }, { setName: 'bond0' }),
      eth('d', {}, { setName: 'lan9' }),
      bond('bond0', [], {}),
    ]);
    expect(Object.fromEntries(planRenames(m).refused)).toEqual({
      b: '"a" is already renamed lan0, and two NICs cannot have one name',
      c: 'bond0 is the name of a device the document creates',
      d: 'the NIC has no match, so no rule can say which NIC to rename',
    });
    for (const [, render] of RENDERERS) expect(rules(render(m))).toEqual(['SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:00:00:01", NAME="lan0"']);
  });

  it('hostile values never reach the rules file: quotes, newlines, udev substitutions in the name, MAC or driver', () => {
    const hostile = [
      'x", RUN+="/bin/sh -c reboot',
      'a\nSUBSYSTEM=="net", RUN+="/bin/sh"',
      'e$kernel',
      'e%k',
      'much-too-long-name0',
      'with space',
      '..',
    ];
    const m = model([
      ...hostile.map((name, i) => eth(`n${i}`, { macaddress: `52:54:00:00:01:0${i}` }, { setName: name })),
      eth('badmac', { macaddress: '52:54:00:00:00:01", NAME="evil' }, { setName: 'ok0' }),
      eth('upper', { macaddress: '52:54:00:AB:CD:EF' }, { setName: 'ok1' }),
      eth('baddrv', { driver: 'e1000", RUN+="/bin/sh' }, { setName: 'ok2' }),
      eth('pipe', { driver: 'e1000|virtio_net' }, { setName: 'ok3' }),
    ]);
    const { renames, refused } = planRenames(m);
    // checkMac normalises case: an upper-case MAC is the same NIC
    expect([...renames.values()]).toEqual([{ id: 'upper', name: 'ok1', macaddress: '52:54:00:ab:cd:ef' }]);
    expect([...refused.keys()]).toEqual([...hostile.map((_, i) => `n${i}`), 'badmac', 'baddrv', 'pipe']);
    for (const [backend, render] of RENDERERS) {
      const r = render(m);
      const text = r.files.get(RENAME_RULES_FILE)?.content ?? '';
      expect(rules(r), backend).toEqual(['SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", ATTR{address}=="52:54:00:ab:cd:ef", NAME="ok1"']);
      for (const bad of ['RUN', 'evil', '$kernel', '%k', 'reboot']) expect(text, `${backend}: ${bad}`).not.toContain(bad);
      // every refused set-name is named (ENI and ifcfg refuse an unusable name as a whole device)
      for (const id of ['badmac', 'baddrv', 'pipe']) expect(r.notes.some((n) => n.path.startsWith(`ethernets.${id}`)), `${backend}: ${id}`).toBe(true);
      for (let i = 0; i < hostile.length; i++) expect(r.notes.some((n) => n.path.startsWith(`ethernets.n${i}`)), `${backend}: n${i}`).toBe(true);
    }
  });
});
