// Choosing the datasource: an explicit --source, or the registered datasources asked in order
// (context medium and seeds, then a NoCloud seed named by the SMBIOS serial or the kernel command
// line, then the metadata service) as DATASOURCES and the stage allow; what one returns is
// normalised into the Context with its instance identity. The attempts say which source was used
// and why each other one was not.
import { createHash } from 'node:crypto';
import type { Clock } from '../../host/clock.js';
import type { Root } from '../../host/root.js';
import { VmctxError } from '../../shared/errors.js';
import { CONFIG_PATH, DEFAULT_CONFIG, type AgentConfig } from '../config.js';
import { normaliseContext, type Context } from '../context/context.js';
import { instanceIdentity } from '../identity.js';
import type { Stage } from '../modules/module.js';
import { defaultProbe, localMedia, openExplicitSource } from './contextmedium.js';
import type { Datasource, DatasourceRequest, OpenedContext, Probe, SourceAttempt } from './datasource.js';
import { metadataService } from './metadatasource.js';
import { noCloudNet } from './nocloudnet.js';
import { systemClock } from '../../host/clock.js';
import { fetchUrl } from '../../host/urlfetch.js';
import { MAX_INCLUDE_BYTES, type IncludeFetcher } from '../context/scripts.js';

/** The datasources of `--source auto`, in the order they are asked. */
export const DATASOURCES: readonly Datasource[] = [localMedia, noCloudNet, metadataService];

export interface LoadedContext {
  readonly context: Context;
  readonly attempts: readonly SourceAttempt[];
  /** Set when the metadata budget ran out: a cached or partial context, or none at all. */
  readonly degraded?: string | undefined;
  close(): Promise<void>;
}

export interface LoadOptions extends Omit<DatasourceRequest, 'probe' | 'config' | 'stage'> {
  /** "auto", "metadata", or a path (ISO file, block device, directory). */
  readonly source: string;
  readonly probe?: Probe | undefined;
  readonly config?: AgentConfig | undefined;
  /** The local stage never waits for the network: it reads the medium and seeds only. */
  readonly stage?: Stage | 'all' | undefined;
  readonly clock?: Clock | undefined;
}

/** This boot's answers to #include URLs (tmpfs: gone at the next boot), so the stages fetch each URL once per boot. */
export const INCLUDE_CACHE_DIR = '/run/vmctx/includes';

/** Under the state dir: the answers to #include-once URLs, per instance (a directory named by the instance id's hash). */
export const INCLUDE_ONCE_DIR = 'include-once';

/**
 * The user data's #include fetcher: none in the local stage (which does not wait for the network:
 * the user data counts as incomplete and its modules wait), else one GET per URL within one
 * metadata budget (config.metadataBudgetMs from now), with the metadata's connect and request
 * timeouts. An answer is kept in INCLUDE_CACHE_DIR (0700, files 0600: user data can hold secrets)
 * and read from there by the later stages and the daemon of the same boot, as cloud-init fetches
 * an #include once per boot.
 */
function includeFetcher(options: LoadOptions, config: AgentConfig): ((instanceId: string) => IncludeFetcher) | undefined {
  if (options.stage === 'local') return undefined;
  const clock = options.clock ?? systemClock;
  const root = options.root;
  const write = options.cache?.write === true;
  const state = options.cache;
  let deadline: number | undefined;
  return (instanceId) => async (url, once) => {
    const digest = createHash('sha256').update(url).digest('hex');
    // #include-once: the first answer is the instance's (a one-time-token URL answers once), kept
    // in the state dir (0700, files 0600) and read from there on every later boot of the instance
    const onceDir = state === undefined ? undefined : `${state.dir}/${INCLUDE_ONCE_DIR}/${createHash('sha256').update(instanceId).digest('hex')}`;
    if (once === true && state !== undefined && onceDir !== undefined) {
      const kept = await state.root.readFile(`${onceDir}/${digest}`, { maxBytes: MAX_INCLUDE_BYTES }).catch(() => undefined);
      if (kept !== undefined) return { ok: true, body: kept };
    }
    const file = `${INCLUDE_CACHE_DIR}/${digest}`;
    const kept = await root.readFile(file, { maxBytes: MAX_INCLUDE_BYTES }).catch(() => undefined);
    if (kept !== undefined) return { ok: true, body: kept };
    deadline ??= clock.now() + config.metadataBudgetMs;
    const got = await fetchUrl(url, { deadline, clock, connectMs: config.metadataConnectMs, requestMs: config.metadataRequestMs, maxBytes: MAX_INCLUDE_BYTES });
    if (got.ok && write) {
      // a cache that cannot be written costs only a second fetch in a later stage
      await root.ensureDir(INCLUDE_CACHE_DIR, { mode: 0o700 }).then(() => root.writeFile(file, got.body, { mode: 0o600 })).catch(() => undefined);
      if (once === true && state !== undefined && onceDir !== undefined) {
        // not kept: the next boot asks again (and a one-time URL may refuse): said, not fatal
        await state.root.ensureDir(state.dir, { mode: 0o700 })
          .then(() => state.root.ensureDir(`${state.dir}/${INCLUDE_ONCE_DIR}`, { mode: 0o700 }))
          .then(() => state.root.ensureDir(onceDir, { mode: 0o700 }))
          .then(() => state.root.writeFile(`${onceDir}/${digest}`, got.body, { mode: 0o600 }))
          .catch(() => undefined);
      }
    }
    return got;
  };
}

async function finishLoad(opened: OpenedContext, root: Root, config: AgentConfig, degraded?: string, include?: (instanceId: string) => IncludeFetcher): Promise<LoadedContext> {
  try {
    const identity = await instanceIdentity(opened.raw.variables, root, opened.raw.instanceId);
    const context = await normaliseContext(opened.raw, identity, { initScriptsFrequency: config.initScriptsFrequency, include: include?.(identity.id) });
    return { context, attempts: opened.attempts, ...(degraded === undefined ? {} : { degraded }), close: () => opened.close() };
  } catch (error) {
    await opened.close();
    throw error;
  }
}

/** Finds and reads the context (explicit source, or discovery in the configured order) and normalises it. */
export async function loadContext(options: LoadOptions): Promise<LoadedContext> {
  const config = options.config ?? DEFAULT_CONFIG;
  const given = options.probe ?? { ...defaultProbe, waitMs: config.mediumWaitMs };
  const probe: Probe = { ...given, mediumMaxBytes: config.mediumMaxBytes, ...(given.clock === undefined && options.clock !== undefined ? { clock: options.clock } : {}) };
  const request: DatasourceRequest = { ...options, probe, config, stage: options.stage };
  const attempts: SourceAttempt[] = [];
  if (options.source === 'metadata') {
    const found = await metadataService.open(request, attempts);
    if (found === undefined) throw new VmctxError('ERR_NO_CONTEXT', 'no context found: the metadata service gave nothing', { details: { attempts } });
    return finishLoad(found, options.root, config, found.degraded, includeFetcher(options, config));
  }
  if (options.source !== 'auto') return finishLoad(await openExplicitSource(options.source, probe.sysDir, { mediumMaxBytes: config.mediumMaxBytes }), options.root, config, undefined, includeFetcher(options, config));
  const notAsked: string[] = [];
  const listed = (d: Datasource): boolean => d.names.some((name) => config.datasources.includes(name));
  /** What a source not asked would have used, said as not used and why. */
  const notUsed = async (d: Datasource, why: string): Promise<void> => {
    const seen = await d.peek?.(request).catch(() => undefined);
    if (seen !== undefined) attempts.push({ path: seen.path, result: `not used: ${seen.what}; ${why}` });
  };
  for (const [index, datasource] of DATASOURCES.entries()) {
    if (!listed(datasource)) {
      await notUsed(datasource, `DATASOURCES in ${CONFIG_PATH} leaves out ${datasource.names.join(' and ')}`);
      continue;
    }
    const inStage = datasource.inStage(options.stage);
    if (!inStage.asked) {
      notAsked.push(inStage.why);
      continue;
    }
    const found = await datasource.open(request, attempts);
    if (found === undefined) continue;
    if (config.datasources.includes(found.name)) {
      // the sources after it are not asked: what they would have given is said as not used
      for (const later of DATASOURCES.slice(index + 1)) if (listed(later)) await notUsed(later, `${found.raw.source.path} (${found.name}) comes first`);
      // (the registry's list: a source may hand back a copy taken before these lines)
      return finishLoad({ ...found, attempts }, options.root, config, found.degraded, includeFetcher(options, config));
    }
    attempts.push({ path: found.raw.source.path, result: `not used: DATASOURCES in ${CONFIG_PATH} leaves out ${found.name}` });
    await found.close();
  }
  const tried = DATASOURCES.flatMap((d) => d.looksFor);
  const waits = attempts.filter((a) => a.waitsForNetwork === true).map((a) => `; ${a.path} ${a.result}`);
  const why = [...notAsked.map((w) => `; ${w}`), ...waits].join('');
  throw new VmctxError('ERR_NO_CONTEXT', `no context found: looked for ${tried.join(' and ')}${why}`, { details: { attempts, ...(waits.length > 0 ? { waitsForNetwork: true } : {}) } });
}
