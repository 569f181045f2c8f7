// Golden files for every backend × OpenNebula scenario (mapOpenNebula, then the backend table of
// renderers/index.ts, on a guest that named each NIC as its id: eth0, eth3…), laid out as a root file system under
// test/network/golden/<scenario>/<backend>/. Regenerate with UPDATE_GOLDEN=1 and review the diff.
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapOpenNebula } from '../../src/network/fromopennebula.js';
import { BACKENDS } from '../../src/network/plan.js';
import { RENDERERS } from '../../src/network/renderers/index.js';

const GOLDEN = join(import.meta.dirname, 'golden');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';

export const SCENARIOS: Record<string, Record<string, string>> = {
  'single-static': {
    ETH0_MAC: '02:00:0A:00:00:05', ETH0_IP: '10.0.0.5', ETH0_MASK: '255.255.255.0', ETH0_GATEWAY: '10.0.0.1',
    ETH0_DNS: '10.0.0.2 10.0.0.3', ETH0_SEARCH_DOMAIN: 'example.com', ETH0_MTU: '1450',
  },
  'two-nics-holes': {
    ETH0_MAC: '52:54:00:00:00:10', ETH0_IP: '192.168.10.5', ETH0_GATEWAY: '192.168.10.1',
    ETH3_MAC: '52:54:00:00:00:13', ETH3_IP: '172.16.3.5', ETH3_MASK: '255.255.0.0',
  },
  dhcp: { ETH0_MAC: '52:54:00:00:00:20', ETH0_METHOD: 'dhcp', ETH0_IP6_METHOD: 'dhcp' },
  'ipv6-static-slaac': {
    ETH0_MAC: '52:54:00:00:00:30', ETH0_IP: '10.0.0.5', ETH0_GATEWAY: '10.0.0.1', ETH0_IP6: '2001:db8:0:1::5', ETH0_IP6_ULA: 'fd00:1::5',
    ETH0_IP6_PREFIX_LENGTH: '64', ETH0_IP6_GATEWAY: '2001:db8:0:1::1',
    ETH1_MAC: '52:54:00:00:00:31', ETH1_METHOD: 'dhcp', ETH1_IP6_METHOD: 'auto',
  },
  aliases: {
    ETH0_MAC: '52:54:00:00:00:40', ETH0_IP: '10.0.0.5', ETH0_GATEWAY: '10.0.0.1',
    ETH0_ALIAS0_IP: '10.0.1.5', ETH0_ALIAS0_MASK: '255.255.0.0', ETH0_ALIAS1_IP: '10.0.2.5', ETH0_ALIAS1_DETACH: 'YES',
    ETH0_ALIAS2_IP: '10.0.3.5', ETH0_ALIAS2_EXTERNAL: 'YES', ETH0_ALIAS3_IP6: '2001:db8::a5', ETH0_ALIAS3_IP6_PREFIX_LENGTH: '96',
  },
  'routes-metric': {
    ETH0_MAC: '52:54:00:00:00:50', ETH0_IP: '10.0.0.5', ETH0_GATEWAY: '10.0.0.1', ETH0_METRIC: '100',
    ETH0_ROUTES: '10.10.0.0/16 via 10.0.0.254, 172.20.0.0/14 via 10.0.0.253 metric 50',
    ETH0_IP6: '2001:db8::5', ETH0_IP6_GATEWAY: '2001:db8::1', ETH0_IP6_METRIC: '200',
  },
  stratuslab: {
    IP_PRIVATE: '10.1.0.5', NETMASK_PRIVATE: ' netmask 255.255.0.0', GLOBAL_NETWORK: '10.0.0.0', GLOBAL_NETMASK: '/8',
    DEFAULT_GATEWAY: '10.1.0.1', IP_PUBLIC: '134.158.75.5', NETMASK_PUBLIC: '24', IP_EXTRA: '192.168.7.5', NETMASK_EXTRA: '255.255.255.128',
  },
};

async function listTree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(join(dir, prefix)).catch(() => [] as string[])) {
    const rel = `${prefix}/${name}`;
    if ((await stat(join(dir, rel))).isDirectory()) out.push(...(await listTree(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

describe('network renderers: golden files', () => {
  for (const [scenario, variables] of Object.entries(SCENARIOS)) {
    const { model, notes } = mapOpenNebula(variables);
    it(`${scenario}: the context maps without invalid values`, () => {
      expect(notes.filter((n) => n.what === 'invalid')).toEqual([]);
    });
    for (const backend of BACKENDS) {
      it(`${scenario} × ${backend}`, async () => {
        const names = new Map(model.devices.filter((d) => d.kind === 'ethernet').map((d) => [d.id, d.id]));
        const { files, notes: rendererNotes } = RENDERERS[backend].render(model, names);
        const merges = RENDERERS[backend].merges(model);
        const dir = join(GOLDEN, scenario, backend);
        const rendered = new Map([...files].map(([path, f]) => [path, { content: f.content, mode: f.mode }]));
        for (const [path, values] of merges) rendered.set(`${path}.merge`, { content: `${Object.entries(values).map(([k, v]) => `${k}=${v}`).join('\n')}\n`, mode: 0o644 });
        // what the backend cannot express
        if (rendererNotes.length > 0) rendered.set('/NOTES', { content: `${rendererNotes.map((n) => `${n.path}: ${n.message}`).join('\n')}\n`, mode: 0o644 });
        if (UPDATE) {
          await rm(dir, { recursive: true, force: true });
          for (const [path, f] of rendered) {
            await mkdir(dirname(join(dir, path)), { recursive: true });
            await writeFile(join(dir, path), f.content);
          }
          await writeFile(join(dir, 'MODES'), [...rendered].map(([p, f]) => `${f.mode.toString(8)} ${p}`).sort().join('\n') + '\n');
        }
        expect([...rendered.keys(), '/MODES'].sort()).toEqual(await listTree(dir));
        for (const [path, f] of rendered) expect(f.content, `${scenario}/${backend}${path}`).toBe(await readFile(join(dir, path), 'utf8'));
        const modes = (await readFile(join(dir, 'MODES'), 'utf8')).trim().split('\n');
        expect([...rendered].map(([p, f]) => `${f.mode.toString(8)} ${p}`).sort()).toEqual(modes);
      });
    }
  }
});
