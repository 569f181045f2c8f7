// One medium must not exhaust memory or /run (issue 17 item 4): a genisoimage medium whose 300
// names are hard links of one 1 MiB file (1.4 MB on disk) is run through the bundled agent with the
// real script runner; its peak RSS, the bytes its work directory holds and the ERR_MEDIUM_BUDGET
// report are measured. Also (item 9): a symlinked context.sh is refused by name, not "absent".
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/agent/config.js';
import { openExplicitSource } from '../../src/agent/datasources/contextmedium.js';
import { renderContextSh } from '../../src/formats/contextsh.js';
import { HostScriptRunner, type StreamedFile } from '../../src/host/scripts.js';
import { describeError, VmctxError } from '../../src/shared/errors.js';
import { buildScriptDriver } from '../helpers/driver.js';
import { scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';
import { run } from '../helpers/tools.js';

const MiB = 1024 * 1024;
const LINKS = 300;
/** The script on the medium measures its own work directory: bytes on disk (du counts a hard-linked file once) and names. */
const MEASURE = '#!/bin/sh\necho "work-bytes=$(du -sb . | cut -f1) names=$(ls | wc -l)"\n';

interface Measured {
  readonly maxRssKb: number;
  readonly report: { modules: Array<{ id: string; status: string; warnings: string[]; details?: unknown }>; [key: string]: unknown };
  readonly log: string;
  readonly root: string;
}

let driver: string;
let wrapper: string;

beforeAll(async () => {
  driver = await buildScriptDriver();
  // runs the bundled driver, then says the peak RSS of the process that ran it
  wrapper = join(await tempDir(), 'measure.mjs');
  await writeFile(wrapper, `await import(${JSON.stringify(driver)});\nprocess.stderr.write(\`MAXRSS_KB \${process.resourceUsage().maxRSS}\\n\`);\n`);
}, 60_000);

/** A tree: context.sh, init.sh, `links` hard-linked names of one 1 MiB file, and `distinct` other 1 MiB files. */
async function tree(vars: Record<string, string>, options: { links: number; distinct: number }): Promise<string> {
  const src = join(await tempDir(), 'src');
  await mkdir(src);
  await writeFile(join(src, 'context.sh'), renderContextSh(vars));
  await writeFile(join(src, 'init.sh'), MEASURE);
  await writeFile(join(src, 'big.bin'), randomBytes(MiB));
  for (let i = 1; i < options.links; i++) await link(join(src, 'big.bin'), join(src, `link${String(i).padStart(3, '0')}.bin`));
  for (let i = 1; i <= options.distinct; i++) await writeFile(join(src, `other${i}.bin`), randomBytes(MiB));
  return src;
}

/** genisoimage with -cache-inodes: hard-linked names share one extent (as the 1.4 MB image). */
async function iso(src: string): Promise<string> {
  const out = join(await tempDir(), 'context.iso');
  run('genisoimage', ['-quiet', '-R', '-J', '-cache-inodes', '-V', 'CONTEXT', '-o', out, src]);
  return out;
}

/** Runs the bundled agent (final stage, or all) with the real script runner; the root's /etc/vmctx/config is `config`. */
async function measure(source: string, config?: string, stage: 'final' | 'all' = 'final'): Promise<Measured> {
  const root = await scratchRoot();
  const work = await tempDir();
  if (config !== undefined) {
    await mkdir(join(root, 'etc/vmctx'), { recursive: true });
    await writeFile(join(root, 'etc/vmctx/config'), config);
  }
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [wrapper, root, source, work, stage], { maxBuffer: 64 * MiB });
  const rss = /MAXRSS_KB (\d+)/u.exec(stderr);
  const line = stdout.trim().split('\n').at(-1) ?? '{}';
  const log = await readFile(join(root, 'var/log/vmctx/scripts/init.sh.log'), 'utf8').catch(() => '');
  return { maxRssKb: Number(rss?.[1] ?? NaN), report: JSON.parse(line) as Measured['report'], log, root };
}

function workBytes(log: string): { bytes: number; names: number } {
  const m = /work-bytes=(\d+) names=\s*(\d+)/u.exec(log);
  expect(m, `the measuring script ran: ${log}`).not.toBeNull();
  return { bytes: Number(m?.[1]), names: Number(m?.[2]) };
}

const scriptsModule = (m: Measured): Measured['report']['modules'][number] | undefined => m.report.modules.find((x) => x.id === 'scripts');

describe('a medium of 300 hard-linked 1 MiB names (issue 17 item 4)', () => {
  it('the image really shares one extent (1.4 MB on disk for 300 MiB of names)', async () => {
    const image = await iso(await tree({ VMID: '1' }, { links: LINKS, distinct: 0 }));
    expect((await stat(image)).size).toBeLessThan(2 * MiB);
  });

  it('peak RSS stays bounded, the work directory holds the file once (hard links), and every name is there', { timeout: 120_000 }, async () => {
    const image = await iso(await tree({ VMID: '1', SET_HOSTNAME: 'budget-host' }, { links: LINKS, distinct: 0 }));
    const m = await measure(image);
    // before: 378 MB RSS and 314 585 161 bytes in the work directory (every name read whole and copied)
    expect(m.maxRssKb).toBeLessThan(150 * 1024);
    const work = workBytes(m.log);
    expect(work.bytes).toBeLessThan(2 * MiB);
    // 300 names + context.sh + init.sh (ls leaves out the hidden script file)
    expect(work.names).toBe(LINKS + 2);
    expect(scriptsModule(m)).toMatchObject({ status: 'applied', warnings: [] });
  });

  it('a medium over its budget (MEDIUM_MAX_BYTES=3M): the context is applied, the script runs, the work directory stays within the budget and the files past it are reported with ERR_MEDIUM_BUDGET', { timeout: 120_000 }, async () => {
    const image = await iso(await tree({ VMID: '1', SET_HOSTNAME: 'budget-host' }, { links: LINKS, distinct: 4 }));
    const m = await measure(image, 'MEDIUM_MAX_BYTES=3M\n', 'all');
    expect(m.maxRssKb).toBeLessThan(150 * 1024);
    // the context's variables were applied although the medium is over budget
    expect((await readFile(join(m.root, 'etc/hostname'), 'utf8')).trim()).toBe('budget-host');
    expect(m.report.modules.find((x) => x.id === 'hostname')?.status).toBe('applied');
    const work = workBytes(m.log);
    expect(work.bytes).toBeLessThanOrEqual(3 * MiB);
    const mod = scriptsModule(m);
    expect(mod?.status).toBe('applied');
    const warning = mod?.warnings.find((w) => w.startsWith('ERR_MEDIUM_BUDGET'));
    // names the budget and the file at which it was passed (ISO order: big.bin, the links, other1…)
    expect(warning).toMatch(/\/other2\.bin on .*context\.iso \(1048576 bytes\) would pass the medium's budget of 3145728 bytes \(MEDIUM_MAX_BYTES/u);
    expect(warning).toMatch(/; not read, nor were 2 more file\(s\) past it: other3\.bin, other4\.bin$/u);
    expect(mod?.details).toMatchObject({ mediumBudget: { code: 'ERR_MEDIUM_BUDGET', limit: 3 * MiB, notCopied: ['other2.bin', 'other3.bin', 'other4.bin'], notCopiedCount: 3 } });
  });

  it('a directory source follows the same rule: hard links of one file counted once, files past the budget reported', { timeout: 120_000 }, async () => {
    const src = await tree({ VMID: '1' }, { links: LINKS, distinct: 4 });
    const m = await measure(src, 'MEDIUM_MAX_BYTES=3M\n');
    expect(m.maxRssKb).toBeLessThan(150 * 1024);
    const work = workBytes(m.log);
    expect(work.bytes).toBeLessThanOrEqual(3 * MiB);
    expect(work.names).toBeGreaterThanOrEqual(LINKS);
    const warning = scriptsModule(m)?.warnings.find((w) => w.startsWith('ERR_MEDIUM_BUDGET'));
    expect(warning).toMatch(/would pass the medium's budget of 3145728 bytes/u);
  });

  it('a context.sh that alone passes the budget is refused as too large, naming the budget', async () => {
    const src = join(await tempDir(), 'src');
    await mkdir(src);
    await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '1', BLOB: 'x'.repeat(100 * 1024) }));
    const image = await iso(src);
    const error = await openExplicitSource(image, '/sys', { mediumMaxBytes: 64 * 1024 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VmctxError);
    expect(describeError(error)).toMatchObject({ code: 'ERR_CONTEXT_TOO_LARGE', message: expect.stringMatching(/\/context\.sh on .* would pass the medium's budget of 65536 bytes/u) as unknown });
    expect(((error as VmctxError).cause as VmctxError).code).toBe('ERR_MEDIUM_BUDGET');
  });
});

describe('the budget\'s other edges', () => {
  it('MEDIUM_MAX_BYTES in /etc/vmctx/config: bytes or K/M/G, 64 MiB by default, a bad value warned about', () => {
    expect(parseConfig('').config.mediumMaxBytes).toBe(64 * MiB);
    expect(parseConfig('MEDIUM_MAX_BYTES=3M\n').config.mediumMaxBytes).toBe(3 * MiB);
    expect(parseConfig('MEDIUM_MAX_BYTES=200000\n').config.mediumMaxBytes).toBe(200_000);
    const bad = parseConfig('MEDIUM_MAX_BYTES=lots\n');
    expect(bad.config.mediumMaxBytes).toBe(64 * MiB);
    expect(bad.warnings).toEqual([expect.stringContaining('MEDIUM_MAX_BYTES="lots" is not a size from 64K to 16G')]);
  });

  it('INIT_SCRIPTS naming one 8 MiB script 25 times holds it once (it ran 25 times within bounded memory)', { timeout: 180_000 }, async () => {
    const src = join(await tempDir(), 'src');
    await mkdir(src);
    // a valid script that is mostly one long comment line
    await writeFile(join(src, 'init.sh'), Buffer.concat([Buffer.from('#!/bin/sh\n#'), Buffer.alloc(8 * MiB, 0x61), Buffer.from('\necho ran\n')]));
    await writeFile(join(src, 'context.sh'), renderContextSh({ VMID: '1', INIT_SCRIPTS: Array.from({ length: 25 }, () => 'init.sh').join(' ') }));
    const m = await measure(await iso(src));
    // before: every name read whole again, 25 × 8 MiB kept at once (≈ 290 MB RSS)
    expect(m.maxRssKb).toBeLessThan(150 * 1024);
    const scripts = (scriptsModule(m)?.details as { scripts: Array<{ exitCode: number }> }).scripts;
    expect(scripts.map((x) => x.exitCode)).toEqual(Array.from({ length: 25 }, () => 0));
  });

  it('a medium of 10 000 names: every name is found (lookups go through a per-directory index; their speed is not asserted: no wall clock in tests)', { timeout: 120_000 }, async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'context.sh'), renderContextSh({ VMID: '1' }));
    await writeFile(join(dir, 'empty'), '');
    // 10 000 names grafted from one empty file (creating 10 000 files is slow on a busy disk)
    const names = Array.from({ length: 10_000 }, (_, i) => `f${String(i).padStart(5, '0')}=empty`);
    await writeFile(join(dir, 'list'), ['context.sh=context.sh', ...names].join('\n'));
    const image = join(dir, 'many.iso');
    run('genisoimage', ['-quiet', '-R', '-graft-points', '-path-list', 'list', '-V', 'CONTEXT', '-o', image], { cwd: dir });
    const opened = await openExplicitSource(image);
    try {
      const medium = opened.raw.medium;
      expect(medium.names).toHaveLength(10_001);
      let found = 0;
      for (const name of medium.names) if ((await medium.read(name, 1024 * 1024)) !== undefined) found++;
      expect(found).toBe(10_001);
    } finally {
      await opened.close();
    }
  });

  it('the script runner: a medium file failing while it is copied is removed and reported; the other files are placed and the script runs', async () => {
    const work = await tempDir();
    function* halfThenError(): Generator<Buffer> {
      yield Buffer.alloc(MiB, 1);
      throw new VmctxError('ERR_ISO_TRUNCATED', 'image ends at byte 1048576');
    }
    const failing: StreamedFile = { size: 2 * MiB, key: 'broken', chunks: () => Readable.from(halfThenError()) };
    const fine: StreamedFile = { size: 3, key: 'fine', chunks: () => Readable.from([Buffer.from('abc')]) };
    const result = await new HostScriptRunner(work).run({
      name: 'probe', body: Buffer.from('ls; cat fine.txt same.txt\n'), env: { PATH: '/usr/bin:/bin' }, timeoutMs: 20_000,
      files: new Map<string, Buffer | StreamedFile>([['broken.bin', failing], ['fine.txt', fine], ['same.txt', fine], ['bad name', Buffer.from('x')]]),
    });
    expect(result.exitCode).toBe(0);
    expect(result.output.toString()).toBe('fine.txt\nsame.txt\nabcabc');
    expect(result.fileProblems).toEqual(['broken.bin: not placed next to the script (image ends at byte 1048576)', '"bad name": not a plain file name; not placed next to the script']);
  });
});

describe('a symlinked context.sh (issue 17 item 9)', () => {
  it('on a Rock Ridge medium (genisoimage -R) it is named as a link and refused, not reported as absent', async () => {
    const src = join(await tempDir(), 'src');
    await mkdir(src);
    await writeFile(join(src, 'real.sh'), renderContextSh({ VMID: '1' }));
    await symlink('real.sh', join(src, 'context.sh'));
    const image = join(await tempDir(), 'link.iso');
    run('genisoimage', ['-quiet', '-R', '-V', 'CONTEXT', '-o', image, src]);
    const error = await openExplicitSource(image).catch((e: unknown) => e);
    expect(describeError(error).code).toBe('ERR_CONTEXT_INVALID');
    expect(describeError(error).message).toBe(`/context.sh on ${image} is a symbolic link (to "real.sh"); vmctx reads only plain files from a medium, so it is refused`);
    expect(((error as VmctxError).cause as VmctxError).code).toBe('ERR_PATH_SYMLINK');
  });

  it('in a directory source too', async () => {
    const src = await tempDir();
    await writeFile(join(src, 'real.sh'), renderContextSh({ VMID: '1' }));
    await symlink(join(src, 'real.sh'), join(src, 'context.sh'));
    const error = await openExplicitSource(src).catch((e: unknown) => e);
    expect(describeError(error)).toMatchObject({ code: 'ERR_CONTEXT_INVALID', message: `/context.sh on ${src} is a symbolic link (to ${JSON.stringify(join(src, 'real.sh'))}); vmctx reads only plain files from a medium, so it is refused` });
  });
});
