// Rewrites the "Every example" table of docs/network-corpus.md from the expect files: node test/network/corpus/table.mjs
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const corpus = import.meta.dirname;
const mdPath = join(corpus, '..', '..', '..', 'docs', 'network-corpus.md');
const esc = (s) => s.replace(/\|/g, '\\|');
const rows = [];
for (const source of ['v1', 'v2', 'eni', 'openstack', 'ec2']) {
  const files = readdirSync(join(corpus, source));
  for (const f of files.filter((x) => x.endsWith('.expect.json')).sort()) {
    const e = JSON.parse(readFileSync(join(corpus, source, f), 'utf8'));
    const name = f.replace(/\.expect\.json$/, '');
    const doc = files.find((d) => d !== f && d.replace(/\.(yaml|json|txt)$/, '') === name);
    const kinds = ['ethernets', 'bonds', 'bridges', 'vlans'].filter((k) => e[k]).map((k) => `${Object.keys(e[k]).length} ${k}`).join(', ');
    rows.push(`| \`${source}/${doc}\` | ${e.features.join(', ')} | ${kinds} | ${esc(e.cloudInit)} | ${esc(e.quirks[0] ?? '')} | ${esc(e.from)} |`);
  }
}
const lines = readFileSync(mdPath, 'utf8').split('\n');
const start = lines.findIndex((l) => l.startsWith('| Document | Features')) + 2;
let end = start;
while (lines[end]?.startsWith('| `')) end++;
lines.splice(start, end - start, ...rows);
writeFileSync(mdPath, lines.join('\n'));
console.log(`${rows.length} rows`);
