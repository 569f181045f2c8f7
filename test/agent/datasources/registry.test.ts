// Choosing the datasource: the registry's order, DATASOURCES filtering what a scan found, the stage
// keeping the local stage off the network, and the metadata datasource's budget policy.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../../src/agent/config.js';
import type { Probe } from '../../../src/agent/datasources/datasource.js';
import type { MetadataCache } from '../../../src/agent/datasources/metadata.js';
import { metadataBudgetMs } from '../../../src/agent/datasources/metadatasource.js';
import { DATASOURCES, loadContext } from '../../../src/agent/datasources/registry.js';
import { writeIso } from '../../../src/formats/iso9660/writer.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { TestClock } from '../../helpers/clock.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

/** A fake /dev holding one NoCloud seed labelled cidata; no context medium. */
async function seedOnly(): Promise<Probe> {
  const base = await tempDir();
  for (const d of ['dev/disk/by-label', 'sys/class/block', 'run']) await mkdir(join(base, d), { recursive: true });
  const iso = writeIso([{ path: 'meta-data', data: Buffer.from('instance-id: iid-reg-1\n') }, { path: 'user-data', data: Buffer.from('#cloud-config\n') }], { volumeId: 'cidata' });
  await writeFile(join(base, 'dev/vdb'), iso);
  await symlink('../../vdb', join(base, 'dev/disk/by-label/cidata'));
  return { devDir: join(base, 'dev'), sysDir: join(base, 'sys'), runDir: join(base, 'run'), waitMs: 0, pollMs: 20, listBlockDevices: () => Promise.resolve([]), clock: new TestClock() };
}

describe('datasource registry', () => {
  it('asks the context medium and seeds first, then a NoCloud seed URL, then the metadata service', () => {
    expect(DATASOURCES.map((d) => d.id)).toEqual(['local-media', 'nocloud-net', 'metadata']);
    expect(DATASOURCES.flatMap((d) => d.names)).toEqual(['medium', 'seeds', 'nocloud-net', 'metadata']);
  });

  it('a seed is used when DATASOURCES lists seeds', async () => {
    const root = new DirectoryRoot(await scratchRoot());
    const loaded = await loadContext({ source: 'auto', root, probe: await seedOnly(), config: { ...DEFAULT_CONFIG, datasources: ['seeds'] }, stage: 'local' });
    expect(loaded.context.source.kind).toBe('nocloud');
    expect(loaded.context.instanceId).toBe('iid-reg-1');
    await loaded.close();
  });

  it('a seed DATASOURCES leaves out is not used, and the local stage does not ask the metadata service', async () => {
    const root = new DirectoryRoot(await scratchRoot());
    const error: unknown = await loadContext({ source: 'auto', root, probe: await seedOnly(), config: { ...DEFAULT_CONFIG, datasources: ['medium', 'metadata'] }, stage: 'local' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_NO_CONTEXT' });
    const { message, details } = error as { message: string; details: { attempts: Array<{ path: string; result: string }> } };
    expect(message).toMatch(/^no context found: looked for context medium .* and seeds \(labels cidata, config-2\) and a NoCloud seed URL \(ds=nocloud;s=… in the SMBIOS serial or on the kernel command line\); the HTTP metadata is for the network stage$/u);
    expect(details.attempts.map((a) => a.result)).toContain('not used: DATASOURCES in /etc/vmctx/config leaves out seeds');
  });

  it('the metadata budget: the first-boot one while nothing is cached, the later-boot one after, an override always', () => {
    const cache: MetadataCache = { version: 1, fetchedAt: '2026-01-01T00:00:00.000Z', bootId: 'b', url: 'http://169.254.169.254', foundBy: 'x', instanceId: 'i-1', variables: {} };
    const config = { ...DEFAULT_CONFIG, metadataBudgetFirstMs: 10_000, metadataBudgetMs: 3000 };
    expect(metadataBudgetMs(config, undefined)).toBe(10_000);
    expect(metadataBudgetMs(config, cache)).toBe(3000);
    expect(metadataBudgetMs(config, cache, 500)).toBe(500);
    expect(metadataBudgetMs(config, undefined, 500)).toBe(500);
  });
});
