// Golden files of the NetModel renderers (networkd, netplan) for every corpus document of
// network-config v1, v2 and network_data.json, laid out like a root file system under
// golden/<format>/<name>/<backend>/ with MODES and NOTES; and the mechanical check that every
// interface, address, route, DNS entry, bond/bridge/VLAN of the document's expect file is rendered
// or named in a note. Regenerate with UPDATE_GOLDEN=1 and review the diff.
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatNote, type NetworkNote } from '../../../src/network/docreader.js';
import type { NetModel } from '../../../src/network/netmodel.js';
import { ethernetName, isGlob, type RenderedNetwork } from '../../../src/network/renderers/common.js';
import { renderIfcfg } from '../../../src/network/renderers/ifcfg.js';
import { renderNetplan } from '../../../src/network/renderers/netplan.js';
import { renderNetworkd } from '../../../src/network/renderers/networkd.js';
import { renderNetworkManager } from '../../../src/network/renderers/networkmanager.js';
import { renderEni } from '../../../src/network/renderers/eni.js';
import { corpusDocs } from './corpus-render.js';
import { eniView, ifcfgView, missing, netplanView, networkdView, nmView, type View } from './views.js';

const GOLDEN = join(import.meta.dirname, 'golden');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
/**
 * Expect-file entries the mapper does not put in the model, each with the source path of the mapper's
 * note about it: the renderer cannot render them, and the check below asserts that note exists.
 * (None today: the mapper reads every corpus document as cloud-init does.)
 */
const MAPPER_NOTED: Record<string, Record<string, string>> = {};
const BACKENDS: Record<'networkd' | 'netplan' | 'nm' | 'ifcfg', { render: (m: NetModel) => RenderedNetwork; view: (r: RenderedNetwork) => View }> = {
  networkd: { render: renderNetworkd, view: networkdView }, netplan: { render: renderNetplan, view: netplanView },
  nm: { render: (m) => renderNetworkManager(m), view: nmView },
  // ifcfg golden files without live names: a NIC found only by MAC or driver is noted, not written (see the names check below)
  ifcfg: { render: (m) => renderIfcfg(m), view: ifcfgView },
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

/** The files a rendering is compared by: the guest files, MODES, and NOTES (its notes, one a line). */
function asTree(r: RenderedNetwork): Map<string, string> {
  const tree = new Map([...r.files].map(([p, f]) => [p, f.content]));
  tree.set('/MODES', [...r.files].map(([p, f]) => `${f.mode.toString(8)} ${p}`).sort().join('\n') + '\n');
  tree.set('/NOTES', r.notes.map((n) => `${formatNote(n)}\n`).join(''));
  return tree;
}

/** Compares a rendering with its golden directory (rewriting it first with UPDATE_GOLDEN=1). */
async function expectGolden(tree: Map<string, string>, dir: string, label: string): Promise<void> {
  if (UPDATE) {
    await rm(dir, { recursive: true, force: true });
    for (const [path, content] of tree) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
  }
  expect([...tree.keys()].sort()).toEqual(await listTree(dir));
  for (const [path, content] of tree) expect(content, `${label}${path}`).toBe(await readFile(join(dir, path), 'utf8'));
}

/** Whether an expect-file path is covered: a known mapper deviation, or a note on the key itself or anything under it. */
const notedBy = (notes: readonly NetworkNote[], known: Record<string, string>) => (path: string): boolean =>
  path in known || notes.some((n) => n.path === path || n.path.startsWith(`${path}.`) || n.path.startsWith(`${path}[`) || `network.${path}` === n.path);

describe('NetModel renderers: corpus golden files', () => {
  for (const doc of corpusDocs()) {
    const label = `${doc.format}/${doc.name}`;
    it(`${label}: the mapper accepts it (at least one device)`, () => {
      expect(doc.mapped.model.devices.length).toBeGreaterThan(0);
    });
    for (const backend of ['networkd', 'netplan', 'nm', 'ifcfg'] as const) {
      const { render, view } = BACKENDS[backend];
      it(`${label} × ${backend}: golden files`, async () => {
        const tree = asTree(render(doc.mapped.model));
        const dir = join(GOLDEN, doc.format, doc.name, backend);
        await expectGolden(tree, dir, `${label}/${backend}`);
      });
      it(`${label} × ${backend}: everything the expect file lists is rendered or noted`, () => {
        const rendered = render(doc.mapped.model);
        const notes = [...doc.mapped.notes, ...rendered.notes];
        // a note on a key covers it: "ethernets.lan0.addresses" by itself or anything under it
        const known = MAPPER_NOTED[label] ?? {};
        for (const source of Object.values(known)) expect(doc.mapped.notes.map((n) => n.path)).toContain(source);
        const noted = notedBy(notes, known);
        expect(missing(doc.expect, view(rendered), noted, backend)).toEqual([]);
      });
    }
  }
});

/**
 * ifcfg with the live names the module resolves: every ethernet the golden run could not name gets
 * one (nicN), and then everything of the expect file is rendered or noted with no device-wide note.
 */
describe('NetModel renderers: ifcfg with live names', () => {
  for (const doc of corpusDocs()) {
    const label = `${doc.format}/${doc.name}`;
    it(`${label} × ifcfg (named): everything the expect file lists is rendered or noted`, () => {
      const names = new Map(doc.mapped.model.devices.filter((d) => d.kind === 'ethernet' && ethernetName(d, undefined) === undefined).map((d, i) => [d.id, `nic${i}`]));
      const rendered = renderIfcfg(doc.mapped.model, names);
      expect(rendered.notes.filter((n) => n.message.includes('is not known')).map((n) => n.path)).toEqual([]);
      const notes = [...doc.mapped.notes, ...rendered.notes];
      const known = MAPPER_NOTED[label] ?? {};
      const noted = notedBy(notes, known);
      expect(missing(doc.expect, ifcfgView(rendered), noted, 'ifcfg')).toEqual([]);
    });
  }
});


/**
 * ifupdown (ENI): golden files rendered with no live names (the renderer alone: MAC-only NICs are
 * noted, not written), and the expect check both without names and with a synthetic live naming —
 * each NIC named as its match.name when that is a plain name, else as its id — which is what the
 * module gives the renderer once it has resolved every NIC on the guest.
 */
describe('ENI renderer: corpus golden files', () => {
  const liveNames = (m: NetModel): Map<string, string> =>
    new Map(m.devices.flatMap((d) => (d.kind === 'ethernet' ? [[d.id, d.match.name !== undefined && !isGlob(d.match.name) ? d.match.name : d.id] as const] : [])));
  for (const doc of corpusDocs()) {
    const label = `${doc.format}/${doc.name}`;
    it(`${label} × eni: golden files`, async () => {
      const tree = asTree(renderEni(doc.mapped.model));
      const dir = join(GOLDEN, doc.format, doc.name, 'eni');
      await expectGolden(tree, dir, `${label}/eni`);
    });
    for (const named of [false, true]) {
      it(`${label} × eni${named ? ' (live names)' : ''}: everything the expect file lists is rendered or noted`, () => {
        const rendered = renderEni(doc.mapped.model, named ? liveNames(doc.mapped.model) : undefined);
        const notes = [...doc.mapped.notes, ...rendered.notes];
        const known = MAPPER_NOTED[label] ?? {};
        const noted = notedBy(notes, known);
        // like netplan, ifupdown has no global resolver: the global DNS is on each interface carrying IP configuration
        expect(missing(doc.expect, eniView(rendered), noted, 'netplan')).toEqual([]);
      });
    }
  }
});
