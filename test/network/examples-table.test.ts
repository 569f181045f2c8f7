// The table of every documented example (test/network/corpus/) and what each of the five renderers
// makes of it: docs/network-examples.md is generated here from the mappers' and renderers' notes and
// must match the committed file. Regenerate with UPDATE_TABLE=1 and review the diff.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { NetworkNote } from '../../src/network/docreader.js';
import { mapEc2Network } from '../../src/network/fromec2.js';
import { mapEni } from '../../src/network/fromeni.js';
import { mapNetworkConfig } from '../../src/network/fromnetworkconfig.js';
import { mapNetworkData } from '../../src/network/fromnetworkdata.js';
import type { MappedNetwork, NetModel } from '../../src/network/netmodel.js';
import { ethernetName, type GuestNames, type RenderedNetwork } from '../../src/network/renderers/common.js';
import { renderEni } from '../../src/network/renderers/eni.js';
import { renderIfcfg } from '../../src/network/renderers/ifcfg.js';
import { renderNetplan } from '../../src/network/renderers/netplan.js';
import { renderNetworkd } from '../../src/network/renderers/networkd.js';
import { renderNetworkManager } from '../../src/network/renderers/networkmanager.js';
import type { CorpusExpect } from './corpus/expect.js';

const CORPUS = join(import.meta.dirname, 'corpus');
const TABLE = join(import.meta.dirname, '..', '..', 'docs', 'network-examples.md');
const UPDATE = process.env['UPDATE_TABLE'] === '1';

const SOURCES = {
  v1: 'network-config v1',
  v2: 'network-config v2',
  eni: 'ENI text',
  openstack: 'network_data.json',
  ec2: 'EC2 metadata',
} as const;
type Source = keyof typeof SOURCES;

type Backend = 'networkd' | 'netplan' | 'nm' | 'eni' | 'ifcfg';
const BACKENDS: readonly { id: Backend; title: string; render: (m: NetModel, names: GuestNames) => RenderedNetwork }[] = [
  { id: 'networkd', title: 'networkd', render: (m) => renderNetworkd(m) },
  { id: 'netplan', title: 'netplan', render: (m) => renderNetplan(m) },
  { id: 'nm', title: 'NM', render: (m, names) => renderNetworkManager(m, names) },
  { id: 'eni', title: 'ENI', render: (m, names) => renderEni(m, names) },
  { id: 'ifcfg', title: 'ifcfg', render: (m, names) => renderIfcfg(m, names) },
];

interface Example {
  readonly source: Source;
  readonly file: string;
  readonly name: string;
  readonly cloudInit: string;
  readonly mapped: MappedNetwork;
  /** Renderer notes per backend. */
  readonly rendered: ReadonlyMap<Backend, readonly NetworkNote[]>;
}

/** A corpus document through its own mapper (ENI in NoCloud meta-data: the network-interfaces value). */
function mapDocument(source: Source, file: string, text: string): MappedNetwork {
  switch (source) {
    case 'v1':
    case 'v2':
      return mapNetworkConfig(text, file);
    case 'openstack':
      return mapNetworkData(text, file);
    case 'ec2':
      return mapEc2Network(JSON.parse(text), file);
    case 'eni':
      return file.endsWith('.yaml') ? mapEni(String((parse(text) as Record<string, unknown>)['network-interfaces']), 'network-interfaces') : mapEni(text, file);
  }
}

/**
 * The names a guest gives the NICs the document finds only by MAC, driver or a name glob: nic0,
 * nic1… in model order. The module resolves them on the live system before rendering; the renderers
 * that configure interfaces by name (NM for a bond's primary, ENI, ifcfg) need them.
 */
function liveNames(m: NetModel): GuestNames {
  const unnamed = m.devices.filter((d) => d.kind === 'ethernet' && ethernetName(d, undefined) === undefined);
  return new Map(unnamed.map((d, i) => [d.id, `nic${i}`]));
}

function examples(): Example[] {
  const out: Example[] = [];
  for (const source of Object.keys(SOURCES) as Source[]) {
    for (const file of readdirSync(join(CORPUS, source)).filter((f) => !f.endsWith('.expect.json')).sort()) {
      const name = file.replace(/\.(ya?ml|json|txt)$/u, '');
      const expectFile = JSON.parse(readFileSync(join(CORPUS, source, `${name}.expect.json`), 'utf8')) as CorpusExpect;
      const mapped = mapDocument(source, file, readFileSync(join(CORPUS, source, file), 'utf8'));
      const names = liveNames(mapped.model);
      const rendered = new Map(BACKENDS.map((b) => [b.id, b.render(mapped.model, names).notes] as const));
      out.push({ source, file, name, cloudInit: expectFile.cloudInit, mapped, rendered });
    }
  }
  return out;
}

/** A note names something not applied unless it is an informational key with nothing to apply ('unused'). */
const isGap = (n: NetworkNote): boolean => n.what !== 'unused';

/**
 * A short label for a note: for the renderers' model paths the part after the device
 * (`ethernets.lan0.set-name` → `set-name`, `bonds.bond2.parameters.primary` → `parameters.primary`;
 * a whole device keeps its path), for document paths the last key (`network.config[4].params.bond-queue_id`
 * → `bond-queue_id`, `networks[1].ip_address` → `ip_address`).
 */
function gapLabel(path: string): string {
  const model = /^(ethernets|bonds|bridges|vlans)(?:\.[^.[\]]+|\["[^"]*"\])(?:\.(.+))?$/u.exec(path);
  if (model !== null) return model[2] ?? path;
  const last = path.split('.').at(-1) ?? path;
  return last.replace(/\[\d+\]$/u, '') || path;
}

/** "applied", or "partial: " and the distinct labels of the gaps (×count), at most `max` of them. */
function cell(notes: readonly NetworkNote[], max = 4): string {
  const counts = new Map<string, number>();
  for (const n of notes.filter(isGap)) counts.set(gapLabel(n.path), (counts.get(gapLabel(n.path)) ?? 0) + 1);
  if (counts.size === 0) return 'applied';
  const shown = [...counts].slice(0, max).map(([l, c]) => (c > 1 ? `${l} ×${c}` : l));
  const more = counts.size > max ? `, +${counts.size - max} more` : '';
  return `partial: ${shown.join(', ')}${more}`;
}

const esc = (s: string): string => s.replace(/\|/gu, '\\|').replace(/\n/gu, ' ');
const where = (n: NetworkNote): string => `${n.file}${n.line === undefined ? '' : `:${n.line}`}`;
const docLink = (e: Example): string => `[${e.source}/${e.name}](../test/network/corpus/${e.source}/${e.file})`;
const backendNotes = (e: Example, b: Backend): NetworkNote[] => [...e.mapped.notes, ...(e.rendered.get(b) ?? [])];

function renderTable(all: readonly Example[]): string {
  const lines: string[] = [];
  const push = (...l: string[]): void => {
    lines.push(...l);
  };
  push(
    '# Documented network examples: what each renderer applies',
    '',
    '<!-- Generated by test/network/examples-table.test.ts from test/network/corpus/: do not edit.',
    '     Regenerate: UPDATE_TABLE=1 npx vitest run test/network/examples-table.test.ts -->',
    '',
    `Every document of \`test/network/corpus/\` (our own equivalent of each documented example of cloud-init's`,
    'network-config v1 and v2, NoCloud ENI text, OpenStack `network_data.json` and EC2 metadata; see',
    '[network-corpus.md](network-corpus.md) for where each comes from and what cloud-init does with it), mapped',
    'into the network model by its mapper and rendered by each of the five renderers.',
    '',
    '- **applied**: neither the mapper nor the renderer named anything as not applied.',
    '- **partial: …**: what the mapper and the renderer named (`not supported`, `invalid`, `unknown` notes),',
    '  as short key labels (×count); the full notes are listed per example below. Notes of the mapper count',
    '  for every backend.',
    '- Keys the mappers report as `unused` (informational, nothing to apply: OpenStack `network_id`, EC2',
    '  `interface-id`, a members list given twice) are listed below but do not make an example partial.',
    '- NICs found only by MAC, driver or a name glob are given the names `nic0`, `nic1`… as the live system',
    '  would (the module resolves them before rendering); the renderers that configure interfaces by name',
    '  (ENI, ifcfg, NetworkManager for a bond primary) are rendered with those names. The golden files',
    '  (`test/network/renderers/golden/`) are rendered without them.',
    '- That nothing else is lost is checked separately: `test/network/renderers/golden.test.ts` asserts that',
    '  every interface, address, route, DNS entry and bond/bridge/VLAN of each v1, v2 and OpenStack expect',
    '  file is rendered or named in a note; the `from*.test.ts` corpus tests check the mappers for every source.',
    '- The last column is what cloud-init does with the same document (from the expect file).',
    '',
    '## Table',
    '',
    `| Example | Source format | ${BACKENDS.map((b) => b.title).join(' | ')} | cloud-init |`,
    `|---|---|${BACKENDS.map(() => '---|').join('')}---|`,
  );
  for (const e of all) {
    const cells = BACKENDS.map((b) => esc(cell(backendNotes(e, b.id))));
    push(`| ${docLink(e)} | ${SOURCES[e.source]} | ${cells.join(' | ')} | ${esc(e.cloudInit.split(':')[0] ?? '')} |`);
  }

  // summary: fully applied per backend, and the most common gaps
  push('', '## Summary', '', `${all.length} examples.`, '', '| Backend | Fully applied | Partial |', '|---|---|---|');
  for (const b of BACKENDS) {
    const applied = all.filter((e) => !backendNotes(e, b.id).some(isGap)).length;
    push(`| ${b.title} | ${applied} of ${all.length} | ${all.length - applied} |`);
  }
  const mapperOnly = all.filter((e) => e.mapped.notes.some(isGap)).length;
  push('', `${mapperOnly} examples are partial on every backend because the mapper names something (see below).`);
  const common = new Map<string, Map<Backend, number>>();
  for (const e of all) {
    for (const b of BACKENDS) {
      for (const label of new Set(backendNotes(e, b.id).filter(isGap).map((n) => gapLabel(n.path)))) {
        const per = common.get(label) ?? new Map<Backend, number>();
        per.set(b.id, (per.get(b.id) ?? 0) + 1);
        common.set(label, per);
      }
    }
  }
  const total = (per: Map<Backend, number>): number => [...per.values()].reduce((a, c) => a + c, 0);
  const top = [...common].sort(([la, a], [lb, b]) => total(b) - total(a) || la.localeCompare(lb)).slice(0, 12);
  push(
    '',
    'Most common gaps (examples where the label occurs, per backend):',
    '',
    `| Gap | ${BACKENDS.map((b) => b.title).join(' | ')} |`,
    `|---|${BACKENDS.map(() => '---|').join('')}`,
  );
  for (const [label, per] of top) push(`| \`${esc(label)}\` | ${BACKENDS.map((b) => String(per.get(b.id) ?? 0)).join(' | ')} |`);

  // per example: every note, the renderers' grouped by identical note across backends
  push('', '## Named gaps, per example', '');
  for (const e of all) {
    const informational = e.mapped.notes.filter((n) => !isGap(n));
    const mapperGaps = e.mapped.notes.filter(isGap);
    const grouped = new Map<string, { note: NetworkNote; backends: string[] }>();
    for (const b of BACKENDS) {
      for (const n of (e.rendered.get(b.id) ?? []).filter(isGap)) {
        const key = `${n.what}\u0000${n.path}\u0000${n.message}`;
        const g = grouped.get(key) ?? { note: n, backends: [] };
        g.backends.push(b.title);
        grouped.set(key, g);
      }
    }
    const rendererUnused = BACKENDS.flatMap((b) => (e.rendered.get(b.id) ?? []).filter((n) => !isGap(n)).map((n) => ({ n, b: b.title })));
    push(`### ${e.source}/${e.name}`, '');
    if (mapperGaps.length === 0 && grouped.size === 0 && informational.length === 0 && rendererUnused.length === 0) {
      push('Applied by every backend; nothing named.', '');
      continue;
    }
    for (const n of mapperGaps) push(`- mapper (every backend): \`${n.path}\` (${where(n)}) ${n.what}: ${n.message}`);
    for (const { note: n, backends } of grouped.values()) push(`- ${backends.join(', ')}: \`${n.path}\` ${n.what}: ${n.message}`);
    for (const { n, b } of rendererUnused) push(`- ${b} (unused, not a gap): \`${n.path}\`: ${n.message}`);
    if (informational.length > 0) push(`- informational, nothing to apply: ${informational.map((n) => `\`${n.path}\``).join(', ')}`);
    push('');
  }
  return `${lines.join('\n').replace(/\n+$/u, '')}\n`;
}

describe('docs/network-examples.md: every documented example and its result per renderer', () => {
  it('the committed table is what the mappers and renderers give now (UPDATE_TABLE=1 rewrites it)', () => {
    const text = renderTable(examples());
    if (UPDATE) writeFileSync(TABLE, text);
    expect(text, 'docs/network-examples.md is out of date: UPDATE_TABLE=1 npx vitest run test/network/examples-table.test.ts').toBe(readFileSync(TABLE, 'utf8'));
  });

  it('lists every corpus document of every source once', () => {
    const text = readFileSync(TABLE, 'utf8');
    for (const source of Object.keys(SOURCES)) {
      for (const file of readdirSync(join(CORPUS, source)).filter((f) => !f.endsWith('.expect.json'))) {
        expect(text.split('\n').filter((l) => l.startsWith(`| [${source}/${file.replace(/\.(ya?ml|json|txt)$/u, '')}]`)), `${source}/${file}`).toHaveLength(1);
      }
    }
  });

  it('labels: the part after the device for model paths, the last key for document paths', () => {
    expect(gapLabel('ethernets.lan0.set-name')).toBe('set-name');
    expect(gapLabel('ethernets["0e:41:7a:10:50:02"].dhcp6-overrides.use-routes')).toBe('dhcp6-overrides.use-routes');
    expect(gapLabel('bonds.bond2.parameters.primary')).toBe('parameters.primary');
    expect(gapLabel('vlans.vl-office')).toBe('vlans.vl-office');
    expect(gapLabel('network.config[4].params.bond-queue_id')).toBe('bond-queue_id');
    expect(gapLabel('networks[1].ip_address')).toBe('ip_address');
    expect(gapLabel('services[0]')).toBe('services');
    expect(gapLabel('iface lan2')).toBe('iface lan2');
  });

  it('a cell: applied without gaps (unused notes are not gaps), else the labels with counts, at most four', () => {
    const note = (path: string, what: NetworkNote['what'] = 'not supported'): NetworkNote => ({ path, file: 'f', line: 1, what, message: 'm' });
    expect(cell([])).toBe('applied');
    expect(cell([note('networks[0].network_id', 'unused')])).toBe('applied');
    expect(cell([note('ethernets.a.set-name'), note('ethernets.b.set-name'), note('x.mtu', 'invalid')])).toBe('partial: set-name ×2, mtu');
    expect(cell(['a', 'b', 'c', 'd', 'e', 'f'].map((k) => note(`p.${k}`)))).toBe('partial: a, b, c, d, +2 more');
  });
});
