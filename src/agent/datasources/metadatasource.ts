// The HTTP metadata service as a datasource, with its time policy: a first boot (no cached copy)
// waits the longer first-boot budget, a later boot the shorter one and falls back to the copy
// cached by the last complete fetch; the final stage reuses what this boot's network stage fetched.
import { systemClock } from '../../host/clock.js';
import { VmctxError, describeError, isVmctxError } from '../../shared/errors.js';
import type { AgentConfig } from '../config.js';
import type { Datasource, DatasourceRequest, FoundContext, SourceAttempt } from './datasource.js';
import { fetchMetadata, rawFromCache, readCache, writeCache, type MetadataCache } from './metadata.js';

const noClose = (): Promise<void> => Promise.resolve();

/** The budget of one fetch: the override, else the first-boot one while nothing is cached, else the later-boot one. */
export function metadataBudgetMs(config: AgentConfig, cache: MetadataCache | undefined, override?: number): number {
  return override ?? (cache === undefined ? config.metadataBudgetFirstMs : config.metadataBudgetMs);
}

/** The metadata service, bounded by the budget; the cache when it does not answer in time. */
async function openMetadata(request: DatasourceRequest, attempts: SourceAttempt[]): Promise<FoundContext> {
  const { config } = request;
  const cache = request.cache === undefined ? undefined : await readCache(request.cache.root, request.cache.dir);
  const url = request.metadataUrl ?? config.metadataUrl;
  const urls = typeof url === 'string' ? [url] : url;
  // the final stage uses what the network stage of this same boot fetched
  if (cache !== undefined && request.stage === 'final' && request.bootId !== undefined && cache.bootId === request.bootId && urls.includes(cache.url)) {
    return { raw: rawFromCache(cache, 'fetched earlier in this boot'), attempts, close: noClose, name: 'metadata' };
  }
  const budget = metadataBudgetMs(config, cache, request.metadataBudgetMs);
  const clock = request.clock ?? systemClock;
  let fetched;
  try {
    fetched = await fetchMetadata({ url, deadline: clock.now() + budget, clock, connectMs: config.metadataConnectMs, requestMs: config.metadataRequestMs, allowImdsv1: config.allowImdsv1, onWaiting: request.onMetadataWait });
  } catch (error) {
    const timedOut = isVmctxError(error, 'ERR_METADATA_TIMEOUT') || isVmctxError(error, 'ERR_METADATA_UNREACHABLE');
    attempts.push({ path: urls.join(' '), result: describeError(error).message });
    if (timedOut && cache !== undefined) {
      return {
        raw: rawFromCache(cache, `the metadata service did not answer within ${budget} ms`),
        attempts,
        close: noClose,
        name: 'metadata',
        degraded: `the metadata service did not answer within ${budget} ms; used the copy cached ${cache.fetchedAt}`,
      };
    }
    if (timedOut) throw new VmctxError('ERR_METADATA_TIMEOUT', `no context medium or seed, and the metadata service at ${urls.join(' or ')} did not answer within ${budget} ms (${describeError(error).message})`, { cause: error });
    throw error;
  }
  for (const line of fetched.trace) attempts.push({ path: fetched.raw.source.path, result: line });
  if (fetched.missing.length === 0 && request.cache?.write === true && request.bootId !== undefined) await writeCache(request.cache.root, request.cache.dir, fetched.raw, request.bootId);
  const degraded = fetched.missing.length === 0 ? undefined : `the metadata budget (${budget} ms) ran out before ${fetched.missing.join(', ')} arrived; the modules that need them wait for the next run`;
  return { raw: fetched.raw, attempts, close: noClose, name: 'metadata', degraded };
}

/** The HTTP metadata service (EC2 / OpenStack layouts): never in the local stage, which does not wait for the network. */
export const metadataService: Datasource = {
  id: 'metadata',
  names: ['metadata'],
  looksFor: [],
  inStage: (stage) => (stage === 'local' ? { asked: false, why: 'the HTTP metadata is for the network stage' } : { asked: true }),
  open: openMetadata,
  peek: (request) => {
    const url = request.metadataUrl ?? request.config.metadataUrl;
    return Promise.resolve({ path: typeof url === 'string' ? url : url.join(' '), what: 'the HTTP metadata service (not asked)' });
  },
};
