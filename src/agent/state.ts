// Run state: per-module records of what ran, when, for which instance and boot, with which input
// hash and result. Kept in one JSON file (0600) in a 0700 directory, rewritten atomically, so a
// crash between "started" and "done" is visible on the next run.
import { createHash } from 'node:crypto';
import { crashPoint } from '../shared/crashpoint.js';
import { VmctxError } from '../shared/errors.js';
import type { Root } from '../host/root.js';
import { ensureOwnDir } from '../host/owndir.js';

export type ModuleStatus = 'started' | 'done' | 'failed' | 'interrupted';

export interface ModuleRecord {
  readonly status: ModuleStatus;
  readonly instanceId: string;
  readonly bootId: string;
  readonly inputHash: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly durationMs?: number;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface RunMarker {
  readonly startedAt: string;
  readonly instanceId: string;
  readonly bootId: string;
  readonly stage: string;
}

export interface StateData {
  readonly version: 1;
  instanceId?: string;
  bootId?: string;
  /** Set while a run is in progress; still set on the next run means that run was interrupted. */
  run?: RunMarker;
  modules: Record<string, ModuleRecord>;
}

export function hashInputs(inputs: unknown): string {
  return createHash('sha256').update(JSON.stringify(inputs === undefined ? null : inputs)).digest('hex');
}

export class StateStore {
  readonly #root: Root;
  readonly #dir: string;
  #data: StateData = { version: 1, modules: {} };
  #problem: string | undefined;
  readonly #repairs: string[] = [];

  constructor(root: Root, dir: string) {
    this.#root = root;
    this.#dir = dir.replace(/\/+$/u, '') || '';
  }

  get file(): string {
    return `${this.#dir}/state.json`;
  }

  get data(): Readonly<StateData> {
    return this.#data;
  }

  /** Why the stored state was unusable (it is then treated as empty), if it was. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** What saving had to repair in the state directory (another user's owner or write access). */
  get repairs(): readonly string[] {
    return this.#repairs;
  }

  async load(): Promise<void> {
    let text: string | undefined;
    try {
      text = await this.#root.readText(this.file, { maxBytes: 4 * 1024 * 1024 });
    } catch (error) {
      this.#problem = `state file unreadable: ${(error as Error).message}`;
      return;
    }
    if (text === undefined) return;
    try {
      const parsed = JSON.parse(text) as { version?: unknown; modules?: unknown; instanceId?: unknown; bootId?: unknown; run?: unknown };
      if (parsed.version !== 1 || typeof parsed.modules !== 'object' || parsed.modules === null || Array.isArray(parsed.modules)) throw new Error('unknown layout');
      this.#data = {
        version: 1,
        modules: parsed.modules as Record<string, ModuleRecord>,
        ...(typeof parsed.instanceId === 'string' ? { instanceId: parsed.instanceId } : {}),
        ...(typeof parsed.bootId === 'string' ? { bootId: parsed.bootId } : {}),
        ...(typeof parsed.run === 'object' && parsed.run !== null ? { run: parsed.run as RunMarker } : {}),
      };
    } catch (error) {
      this.#problem = `state file is damaged (${(error as Error).message}); starting from empty state`;
    }
  }

  record(moduleId: string): ModuleRecord | undefined {
    return this.#data.modules[moduleId];
  }

  /** Records a module's state; saved at once when `durable`, else with the next save. */
  async setModule(moduleId: string, record: ModuleRecord, durable: boolean): Promise<void> {
    this.#data.modules[moduleId] = record;
    if (durable) await this.save();
  }

  /** Marks a run as in progress (saved); returns the marker of an earlier run that never finished. */
  async beginRun(marker: RunMarker): Promise<RunMarker | undefined> {
    const interrupted = this.#data.run;
    this.#data.run = marker;
    await this.save();
    return interrupted;
  }

  /** Clears the in-progress marker and saves every record of the run. */
  async endRun(instanceId: string, bootId: string): Promise<void> {
    this.#data.instanceId = instanceId;
    this.#data.bootId = bootId;
    delete this.#data.run;
    await this.save();
  }

  async save(): Promise<void> {
    crashPoint('state:save', this.file);
    try {
      // vmctx's own directory (repaired if someone else owns it); the file is never a link followed
      if (this.#dir !== '') this.#repairs.push(...(await ensureOwnDir(this.#root, this.#dir, 0o700)));
      await this.#root.writeFile(this.file, `${JSON.stringify(this.#data, null, 2)}\n`, { mode: 0o600, noFollow: true });
    } catch (error) {
      throw new VmctxError('ERR_STATE', `cannot save run state to ${this.file}: ${(error as Error).message}`, { cause: error });
    }
  }
}
