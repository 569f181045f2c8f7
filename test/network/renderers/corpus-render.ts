// Helpers for the NetModel renderer tests: the corpus documents the mappers accept, rendered output
// read back (INI and YAML) into a form the corpus expect files can be checked against.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { NetworkNote } from '../../../src/network/docreader.js';
import { mapNetworkConfig } from '../../../src/network/fromnetworkconfig.js';
import { mapNetworkData } from '../../../src/network/fromnetworkdata.js';
import type { MappedNetwork } from '../../../src/network/netmodel.js';
import type { CorpusExpect } from '../corpus/expect.js';

export const CORPUS = join(import.meta.dirname, '..', 'corpus');
export const FORMATS = ['v1', 'v2', 'openstack'] as const;

export interface CorpusDoc {
  readonly format: (typeof FORMATS)[number];
  readonly name: string;
  readonly file: string;
  readonly mapped: MappedNetwork;
  readonly expect: CorpusExpect;
}

export function corpusDocs(): CorpusDoc[] {
  const out: CorpusDoc[] = [];
  for (const format of FORMATS) {
    for (const file of readdirSync(join(CORPUS, format)).filter((f) => !f.endsWith('.expect.json')).sort()) {
      const name = file.replace(/\.(ya?ml|json)$/u, '');
      const text = readFileSync(join(CORPUS, format, file), 'utf8');
      const mapped = format === 'openstack' ? mapNetworkData(text, file) : mapNetworkConfig(text, file);
      const expect = JSON.parse(readFileSync(join(CORPUS, format, `${name}.expect.json`), 'utf8')) as CorpusExpect;
      out.push({ format, name, file, mapped, expect });
    }
  }
  return out;
}

/** An IP address or ADDRESS/PREFIX in canonical form (IPv6 lower case, compressed). */
export function canon(ip: string): string {
  const [a = '', p] = ip.split('/');
  const c = a.includes(':') ? new URL(`http://[${a}]/`).hostname.slice(1, -1) : a;
  return p === undefined ? c : `${c}/${p}`;
}

/** An INI file as its sections, in order, each a list of [key, value]. */
export function parseIni(text: string): { name: string; entries: [string, string][] }[] {
  const out: { name: string; entries: [string, string][] }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const head = /^\[(.+)\]$/u.exec(line);
    if (head !== null) out.push({ name: head[1] ?? '', entries: [] });
    else {
      const eq = line.indexOf('=');
      out.at(-1)?.entries.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}

export const YAML_PARSE = (text: string): unknown => parse(text);

export type { NetworkNote };
