// The network corpus is well-formed: every document parses, has an expect file that follows the schema, key lists are valid.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SOURCES, expectErrors } from './corpus/expect.js';
import { type KeyFormat, documentedKey, keyPaths } from './corpus/keypaths.js';

const CORPUS = join(import.meta.dirname, 'corpus');
const DOC_EXT = /\.(yaml|json|txt)$/;

interface CorpusDoc { source: string; name: string; file: string; path: string }

function documents(source: string): CorpusDoc[] {
  return readdirSync(join(CORPUS, source))
    .filter((f) => DOC_EXT.test(f) && !f.endsWith('.expect.json'))
    .sort()
    .map((file) => ({ source, file, name: file.replace(DOC_EXT, ''), path: join(CORPUS, source, file) }));
}

const read = (path: string): string => readFileSync(path, 'utf8');
const asRecord = (v: unknown): Record<string, unknown> => {
  expect(v, 'a mapping').toBeTypeOf('object');
  expect(v).not.toBeNull();
  expect(Array.isArray(v)).toBe(false);
  return v as Record<string, unknown>;
};

/** cloud-init reads YAML with PyYAML: YAML 1.1 (yes/no are booleans) and duplicate keys allowed (last wins). */
function parseYaml(text: string, duplicateKeys: boolean): unknown {
  return parse(text, { version: '1.1', uniqueKeys: !duplicateKeys });
}

function expectFor(doc: CorpusDoc): Record<string, unknown> {
  return asRecord(JSON.parse(read(join(CORPUS, doc.source, `${doc.name}.expect.json`))));
}

const ENI_KEYWORDS = new Set(Object.keys(asRecord(JSON.parse(read(join(CORPUS, 'keys', 'eni.json'))))));

function checkEniText(text: string): void {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(ENI_KEYWORDS, `ENI keyword of "${line}"`).toContain(line.split(/\s+/)[0]);
  expect(lines.some((l) => l.startsWith('iface '))).toBe(true);
}

/** Parse a document the way its format is read and check its top-level shape. */
function parseDocument(doc: CorpusDoc, duplicateKeys: boolean): unknown {
  const text = read(doc.path);
  switch (doc.source) {
    case 'v1':
    case 'v2': {
      expect(doc.file).toMatch(/\.yaml$/);
      const top = asRecord(parseYaml(text, duplicateKeys));
      const net = asRecord('network' in top ? top['network'] : top);
      expect(net['version']).toBe(doc.source === 'v1' ? 1 : 2);
      if (doc.source === 'v1') {
        expect(Array.isArray(net['config'])).toBe(true);
        for (const entry of net['config'] as unknown[]) {
          expect(['physical', 'bond', 'bridge', 'vlan', 'nameserver', 'route']).toContain(asRecord(entry)['type']);
        }
      } else {
        for (const k of Object.keys(net)) expect(['version', 'renderer', 'ethernets', 'bonds', 'bridges', 'vlans']).toContain(k);
      }
      return top;
    }
    case 'eni': {
      if (doc.file.endsWith('.yaml')) {
        const md = asRecord(parseYaml(text, duplicateKeys));
        expect(md['network-interfaces']).toBeTypeOf('string');
        checkEniText(md['network-interfaces'] as string);
        return md;
      }
      expect(doc.file).toMatch(/\.txt$/);
      checkEniText(text);
      return text;
    }
    case 'openstack': {
      expect(doc.file).toMatch(/\.json$/);
      const nd = asRecord(JSON.parse(text));
      for (const k of ['links', 'networks', 'services']) expect(Array.isArray(nd[k]), k).toBe(true);
      const ids = new Set((nd['links'] as unknown[]).map((l) => asRecord(l)['id']));
      for (const n of nd['networks'] as unknown[]) expect(ids, 'network.link names a link').toContain(asRecord(n)['link']);
      return nd;
    }
    case 'ec2': {
      expect(doc.file).toMatch(/\.json$/);
      const md = asRecord(JSON.parse(text));
      const macs = asRecord(asRecord(md['interfaces'])['macs']);
      for (const [mac, nic] of Object.entries(macs)) {
        expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        expect(asRecord(nic)['mac']).toBe(mac);
      }
      return md;
    }
    default:
      throw new Error(`unknown source ${doc.source}`);
  }
}

/** Which key list a source's documents are walked against (ENI lines are checked by keyword). */
const KEY_FORMAT: Partial<Record<string, KeyFormat>> = { v1: 'v1', v2: 'v2', openstack: 'network_data', ec2: 'ec2' };

describe('network corpus', () => {
  for (const source of SOURCES) {
    describe(source, () => {
      const docs = documents(source);

      it('has documents', () => {
        expect(docs.length).toBeGreaterThan(0);
      });

      for (const doc of docs) {
        it(`${doc.file} parses and has an expect file that follows the schema`, () => {
          const exp = expectFor(doc);
          expect(expectErrors(exp)).toEqual([]);
          expect(exp['source']).toBe(source);
          const duplicateKeys = exp['duplicateKeys'] === true;
          if (duplicateKeys) expect(() => parseYaml(read(doc.path), false), 'a document marked duplicateKeys has one').toThrow();
          const parsed = parseDocument(doc, duplicateKeys);
          const format = KEY_FORMAT[source];
          if (format !== undefined) {
            const documented = Object.keys(asRecord(JSON.parse(read(join(CORPUS, 'keys', `${format}.json`)))));
            const undocumented = keyPaths(format, parsed).filter((p) => documentedKey(format, p, documented) === undefined);
            expect(undocumented, `keys of ${doc.file} missing from keys/${format}.json`).toEqual([]);
          }
        });
      }

      it('has no expect file without its document', () => {
        const names = new Set(docs.map((d) => d.name));
        const orphans = readdirSync(join(CORPUS, source))
          .filter((f) => f.endsWith('.expect.json'))
          .map((f) => f.replace(/\.expect\.json$/, ''))
          .filter((n) => !names.has(n));
        expect(orphans).toEqual([]);
      });
    });
  }

  it('docs/network-corpus.md lists every document and counts them right', () => {
    const md = read(join(import.meta.dirname, '..', '..', 'docs', 'network-corpus.md'));
    for (const source of SOURCES) {
      const docs = documents(source);
      for (const doc of docs) expect(md, `${source}/${doc.file} in the table`).toContain(`| \`${source}/${doc.file}\` |`);
      expect(md).toMatch(new RegExp(`^\\| \`${source}/\` \\|.*\\| ${docs.length} \\|$`, 'm'));
    }
  });

  it('reads yes as a boolean, as cloud-init (PyYAML, YAML 1.1) does', () => {
    const v2 = asRecord(asRecord(parseYaml(read(join(CORPUS, 'v2', 'vlans.yaml')), false))['network']);
    expect(asRecord(asRecord(v2['vlans'])['office'])['dhcp4']).toBe(true);
    const yaml12 = asRecord(asRecord(parse(read(join(CORPUS, 'v2', 'vlans.yaml'))))['network']);
    expect(asRecord(asRecord(yaml12['vlans'])['office'])['dhcp4']).toBe('yes');
  });

  it('uses every documented key in at least one document', () => {
    for (const [source, format] of Object.entries(KEY_FORMAT)) {
      if (format === undefined) continue;
      const documented = Object.keys(asRecord(JSON.parse(read(join(CORPUS, 'keys', `${format}.json`)))));
      const used = new Set<string>();
      for (const doc of documents(source)) {
        const parsed = parseDocument(doc, expectFor(doc)['duplicateKeys'] === true);
        for (const p of keyPaths(format, parsed)) used.add(documentedKey(format, p, documented) ?? '');
      }
      expect(documented.filter((k) => !used.has(k)), `keys/${format}.json keys no document uses`).toEqual([]);
    }
    const eniWords = new Set<string>();
    for (const doc of documents('eni')) {
      const text = doc.file.endsWith('.yaml') ? String(asRecord(parseYaml(read(doc.path), false))['network-interfaces']) : read(doc.path);
      for (const line of text.split('\n')) eniWords.add(line.trim().split(/\s+/)[0] ?? '');
    }
    expect([...ENI_KEYWORDS].filter((k) => !eniWords.has(k)), 'ENI keywords no document uses').toEqual([]);
  });

  describe('key lists', () => {
    for (const name of ['v1', 'v2', 'network_data', 'eni', 'ec2']) {
      it(`${name}.json maps every key path to a meaning`, () => {
        const keys = asRecord(JSON.parse(read(join(CORPUS, 'keys', `${name}.json`))));
        expect(Object.keys(keys).length).toBeGreaterThan(10);
        for (const [key, meaning] of Object.entries(keys)) {
          expect(key).toMatch(/^\S+$/);
          expect(meaning, key).toBeTypeOf('string');
          expect((meaning as string).length, key).toBeGreaterThan(3);
        }
      });
    }
  });

  describe('key paths', () => {
    it('walks documents into documented key paths', () => {
      const v1 = { network: { version: 1, config: [{ type: 'bond', name: 'b', bond_interfaces: [], params: { 'bond-mode': 'x' }, subnets: [{ type: 'dhcp', routes: [{ gateway: '1.2.3.4' }] }] }] } };
      expect(keyPaths('v1', v1)).toEqual([
        'network', 'version', 'config', 'config[type=bond].type', 'config[type=bond].name', 'config[type=bond].bond_interfaces',
        'config[type=bond].params', 'config[type=bond].params.bond-mode', 'config[type=bond].subnets',
        'config[type=bond].subnets[].type', 'config[type=bond].subnets[].routes', 'config[type=bond].subnets[].routes[].gateway',
      ]);
      expect(keyPaths('v2', { version: 2, ethernets: { eth0: { match: { name: 'e*' } } }, bridges: { br: { parameters: { 'path-cost': { eth0: 5 } } } } }))
        .toEqual(['version', 'ethernets', 'ethernets.*.match', 'ethernets.*.match.name', 'bridges', 'bridges.*.parameters', 'bridges.*.parameters.path-cost']);
    });

    it('matches documented keys, and only those', () => {
      expect(documentedKey('v1', 'config[type=bond].params.bond-lacp_rate', ['config[type=bond].params.lacp_rate'])).toBe('config[type=bond].params.lacp_rate');
      expect(documentedKey('v1', 'config[type=vlan].subnets[].gateway', ['config[].subnets[].gateway'])).toBe('config[].subnets[].gateway');
      expect(documentedKey('v2', 'vlans.*.dhcp4', ['*.*.dhcp4'])).toBe('*.*.dhcp4');
      expect(documentedKey('v2', 'ethernets.*.routes[].on-link', ['*.*.routes[].to'])).toBeUndefined();
      expect(documentedKey('v1', 'config[type=physical].params.bond-mode', ['config[type=bond].params.mode'])).toBeUndefined();
    });
  });

  describe('schema validator', () => {
    const good = {
      source: 'v2', from: 'https://example.invalid/doc', features: ['dhcp4'], cloudInit: 'renders', quirks: [],
      ethernets: { eth0: { match: { name: 'eth0' }, dhcp4: true } },
    };

    it('accepts a minimal expect file', () => {
      expect(expectErrors(good)).toEqual([]);
    });

    it('names each deviation', () => {
      const bad = {
        ...good,
        cloudInit: 'fine',
        extra: 1,
        ethernets: { eth0: { match: {}, addresses: ['10.0.0.1'], routes: [{ to: 'default' }], mtu: 'big' } },
        vlans: { v: { id: 5000, link: 'nowhere' } },
      };
      expect(expectErrors(bad)).toEqual([
        'extra: unknown key',
        'cloudInit: not "renders", "partial: …" or "rejects: …"',
        'ethernets.eth0.mtu: not an MTU',
        'ethernets.eth0.addresses: not a list of ADDRESS/PREFIX',
        'ethernets.eth0.routes[0]: default route without via',
        'ethernets.eth0.match: missing or empty',
        'vlans.v.id: not a VLAN id 0-4094',
        'vlans.v.link: nowhere is not an ID of this file',
      ]);
    });
  });
});
