// The contract every datasource keeps (the context medium and local seeds, the HTTP metadata
// service): asked with one request, it answers with what it opened, or undefined when it is absent.
import type { Clock } from '../../host/clock.js';
import type { Root } from '../../host/root.js';
import type { AgentConfig } from '../config.js';
import type { RawContext } from '../context/context.js';
import type { Stage } from '../modules/module.js';

export interface SourceAttempt {
  readonly path: string;
  readonly result: string;
  /** Set when what was found can be used only in the network stage (the local stage asks for it). */
  readonly waitsForNetwork?: boolean;
}

export interface OpenedContext {
  readonly raw: RawContext;
  /** What was looked at and why it was not used (for the report). */
  readonly attempts: readonly SourceAttempt[];
  close(): Promise<void>;
}

/** Where the context medium is looked for, and how long to wait for one (see contextmedium.ts). */
export interface Probe {
  readonly devDir: string;
  readonly sysDir: string;
  /** Where /proc/cmdline is read (default: /proc with the system's /sys; none with another sysDir, a test's). */
  readonly procDir?: string | undefined;
  readonly runDir: string;
  /** How long to wait for a medium that the system says is still coming. */
  readonly waitMs: number;
  readonly pollMs: number;
  /** The bytes vmctx takes from one medium, all its files together (default 64 MiB). */
  readonly mediumMaxBytes?: number;
  /** Names of all block devices (sr0, vda, …); defaults to systeminformation's list. */
  readonly listBlockDevices: () => Promise<string[]>;
  /** Time for the wait's deadline and its polls (default: the system clock). */
  readonly clock?: Clock;
}

/** The names DATASOURCES in /etc/vmctx/config chooses from. */
export type DatasourceName = AgentConfig['datasources'][number];

/** What a datasource found: the context, which DATASOURCES name it counts as, and why it is partial. */
export interface FoundContext extends OpenedContext {
  readonly name: DatasourceName;
  /** Set when the metadata budget ran out: a cached or partial context. */
  readonly degraded?: string | undefined;
}

/** Everything a datasource may need to look (each uses its own part). */
export interface DatasourceRequest {
  readonly root: Root;
  readonly config: AgentConfig;
  readonly probe: Probe;
  readonly stage: Stage | 'all' | undefined;
  /** Where the metadata cache lives (none: no cache is read or written). */
  readonly cache?: { readonly root: Root; readonly dir: string; readonly write: boolean } | undefined;
  readonly bootId?: string | undefined;
  /** Overrides the configured metadata URL and budget. */
  readonly metadataUrl?: string | undefined;
  readonly metadataBudgetMs?: number | undefined;
  /** Told before the metadata service is asked (where, and the budget): the CLI's waiting line. */
  readonly onMetadataWait?: ((url: string, budgetMs: number) => void) | undefined;
  /** Time for budgets and waits (default: the system clock). */
  readonly clock?: Clock | undefined;
}

export interface Datasource {
  readonly id: string;
  /** The DATASOURCES names it serves: it is asked when the configuration lists one of them. */
  readonly names: readonly DatasourceName[];
  /** What it looks for, for the "no context found" message. */
  readonly looksFor: readonly string[];
  /** Whether it is asked in this stage, and when not, why (added to "no context found"). */
  inStage(stage: Stage | 'all' | undefined): { readonly asked: true } | { readonly asked: false; readonly why: string };
  /**
   * Looks and reads, within its own time budget. Absent is undefined, not an error; a context that
   * is there but invalid is an error. Appends what it looked at to `attempts`.
   */
  open(request: DatasourceRequest, attempts: SourceAttempt[]): Promise<FoundContext | undefined>;
  /**
   * When it is not asked (another source came first, or DATASOURCES leaves it out): what it would
   * have used, found without waiting or the network, so the report can say it was not used.
   */
  peek?(request: DatasourceRequest): Promise<{ readonly path: string; readonly what: string } | undefined>;
}
