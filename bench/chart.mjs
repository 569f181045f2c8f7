// Draws a chart (default bench/results/boot.svg; `node bench/chart.mjs IN.json OUT.svg`) from a
// boot benchmark result (bench/results/boot.json, or the boot part of latest.json): per image, the
// time to multi-user.target, split into the kernel and userspace, with the agent units' time before
// multi-user marked. Plain SVG, no dependencies.
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { median } from './stats.mjs';

const LABELS = { none: 'no agent', vmctx: 'vmctx', 'node-floor': 'bare Node + 1 host key', 'cloud-init': 'cloud-init 22.4' };
const esc = (t) => String(t).replace(/[&<>"]/gu, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

export function bootChart(result) {
  const names = Object.keys(LABELS).filter((n) => result[n] !== undefined);
  const rows = names.map((n) => {
    const r = result[n];
    return { label: LABELS[n], total: r.medianToMultiUserS, kernel: median(r.samples.map((x) => x.kernel)), agent: r.medianUnitsBeforeMultiUserS ?? r.medianUnitsS };
  });
  const max = Math.ceil(Math.max(...rows.map((r) => r.total)) / 5) * 5;
  const left = 190, width = 520, bar = 26, gap = 18, top = 40;
  const x = (s) => left + (s / max) * width;
  const height = top + rows.length * (bar + gap) + 50;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 90}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<text x="10" y="22" font-size="15" font-weight="bold">First boot to multi-user.target, QEMU/TCG, median of ${esc(result.runs)} (s)</text>`];
  rows.forEach((r, i) => {
    const y = top + i * (bar + gap);
    out.push(`<text x="${left - 8}" y="${y + bar / 2 + 5}" text-anchor="end">${esc(r.label)}</text>`,
      `<rect x="${left}" y="${y}" width="${x(r.kernel) - left}" height="${bar}" fill="#b0b7c3"/>`,
      `<rect x="${x(r.kernel)}" y="${y}" width="${x(r.total) - x(r.kernel)}" height="${bar}" fill="#4a78b5"/>`);
    if (r.agent > 0) out.push(`<rect x="${x(r.kernel)}" y="${y + bar - 7}" width="${Math.max(1, x(Math.min(r.total, r.kernel + r.agent)) - x(r.kernel))}" height="7" fill="#e07b39"/>`);
    out.push(`<text x="${x(r.total) + 6}" y="${y + bar / 2 + 5}">${r.total.toFixed(1)}</text>`);
  });
  const ay = top + rows.length * (bar + gap);
  for (let s = 0; s <= max; s += 5) out.push(`<line x1="${x(s)}" y1="${top - 4}" x2="${x(s)}" y2="${ay - gap + 4}" stroke="#ddd"/>`, `<text x="${x(s)}" y="${ay + 4}" text-anchor="middle" fill="#666">${s}</text>`);
  const ly = ay + 24;
  out.push(`<rect x="${left}" y="${ly - 10}" width="12" height="12" fill="#b0b7c3"/><text x="${left + 18}" y="${ly}">kernel</text>`,
    `<rect x="${left + 80}" y="${ly - 10}" width="12" height="12" fill="#4a78b5"/><text x="${left + 98}" y="${ly}">userspace</text>`,
    `<rect x="${left + 185}" y="${ly - 5}" width="12" height="6" fill="#e07b39"/><text x="${left + 203}" y="${ly}">agent units before multi-user (summed)</text>`, '</svg>');
  return `${out.join('\n')}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2] ?? 'bench/results/boot.json';
  const data = JSON.parse(await readFile(file, 'utf8'));
  const out = process.argv[3] ?? 'bench/results/boot.svg';
  await writeFile(out, bootChart(data.boot ?? data));
  console.log(`wrote ${out}`);
}
