// Dry run: a Root that reads through to the real one and records every change instead of making
// it, and an Exec that records the commands it would run. Used by `vmctx run --dry-run`.
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { createTwoFilesPatch } from 'diff';
import type { Exec, ExecResult } from './exec.js';
import type { DirOptions, EntryInfo, ReadOptions, Root, UserTree, WriteOptions, WriteResult } from './root.js';

export interface PlannedChange {
  readonly path: string;
  readonly kind: 'write' | 'mkdir' | 'remove' | 'symlink';
  readonly before: Buffer | undefined;
  readonly after: Buffer | undefined;
  readonly mode?: number;
  readonly secret?: boolean;
}

function key(path: string): string {
  return posix.normalize(path);
}

export class DryRunRoot implements Root {
  readonly #inner: Root;
  readonly #files = new Map<string, { data: Buffer | undefined; mode: number }>();
  readonly #dirs = new Set<string>();
  readonly changes: PlannedChange[] = [];

  constructor(inner: Root) {
    this.#inner = inner;
  }

  get path(): string {
    return this.#inner.path;
  }

  get isLive(): boolean {
    return this.#inner.isLive;
  }

  async readFile(guestPath: string, options?: ReadOptions): Promise<Buffer | undefined> {
    const planned = this.#files.get(key(guestPath));
    if (planned !== undefined) return planned.data;
    return this.#inner.readFile(guestPath, options);
  }

  async readText(guestPath: string, options?: ReadOptions): Promise<string | undefined> {
    return (await this.readFile(guestPath, options))?.toString('utf8');
  }

  async lstat(guestPath: string): Promise<EntryInfo | undefined> {
    const planned = this.#files.get(key(guestPath));
    if (planned !== undefined) return planned.data === undefined ? undefined : { type: 'file', mode: planned.mode, uid: 0, gid: 0, size: planned.data.length, nlink: 1 };
    if (this.#dirs.has(key(guestPath))) return { type: 'directory', mode: 0o755, uid: 0, gid: 0, size: 0, nlink: 1 };
    return this.#inner.lstat(guestPath);
  }

  readdir(guestPath: string): Promise<string[] | undefined> {
    return this.#inner.readdir(guestPath);
  }

  async writeFile(guestPath: string, data: string | Uint8Array, options: WriteOptions): Promise<WriteResult> {
    const after = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    const before = await this.readFile(guestPath, { userTree: options.userTree }).catch(() => undefined);
    const current = await this.lstat(guestPath);
    if (before?.equals(after) === true && current?.mode === options.mode) return { changed: false, replacedSymlink: false };
    this.#files.set(key(guestPath), { data: after, mode: options.mode });
    this.changes.push({ path: guestPath, kind: 'write', before, after, mode: options.mode, secret: options.secret === true });
    return { changed: true, replacedSymlink: false };
  }

  async ensureDir(guestPath: string, options: DirOptions): Promise<boolean> {
    const current = await this.lstat(guestPath);
    if (current?.type === 'directory' && current.mode === options.mode) return false;
    this.#dirs.add(key(guestPath));
    this.changes.push({ path: guestPath, kind: 'mkdir', before: undefined, after: undefined, mode: options.mode });
    return true;
  }

  async remove(guestPath: string, options?: { userTree?: UserTree | undefined }): Promise<boolean> {
    const before = await this.readFile(guestPath, { userTree: options?.userTree }).catch(() => undefined);
    if (before === undefined) return false;
    this.#files.set(key(guestPath), { data: undefined, mode: 0 });
    this.changes.push({ path: guestPath, kind: 'remove', before, after: undefined });
    return true;
  }

  async symlink(target: string, guestPath: string): Promise<boolean> {
    const current = await this.lstat(guestPath);
    if (current?.type === 'symlink' && current.linkTarget === target) return false;
    this.changes.push({ path: guestPath, kind: 'symlink', before: undefined, after: Buffer.from(target) });
    return true;
  }

  /** Log lines of a dry run go nowhere. */
  openAppend(): Promise<FileHandle> {
    return open('/dev/null', 'a');
  }

  /** A dry run takes no lock and writes nothing. */
  createExclusive(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

/** A unified diff of one planned change (text files), or a one-line summary. */
export function renderChange(change: PlannedChange): string {
  const mode = change.mode === undefined ? '' : ` (mode ${change.mode.toString(8).padStart(4, '0')})`;
  switch (change.kind) {
    case 'mkdir':
      return `mkdir ${change.path}${mode}\n`;
    case 'symlink':
      return `symlink ${change.path} -> ${change.after?.toString('utf8') ?? ''}\n`;
    case 'remove':
      return `remove ${change.path}\n`;
    case 'write': {
      const before = change.before?.toString('utf8') ?? '';
      const after = change.after?.toString('utf8') ?? '';
      const header = `${change.before === undefined ? 'create' : 'modify'} ${change.path}${mode}\n`;
      if (change.secret === true) return `${header}  (secret content not shown)\n`;
      // big or binary content (a bundle, a runtime) is summarised, not diffed
      const big = (b: Buffer | undefined): boolean => b !== undefined && (b.length > 64 * 1024 || b.subarray(0, 8192).includes(0));
      if (big(change.before) || big(change.after)) return `${header}  (${change.after?.length ?? 0} bytes${change.before === undefined ? '' : `, was ${change.before.length}`}; not shown)\n`;
      return header + createTwoFilesPatch(`a${change.path}`, `b${change.path}`, before, after, '', '', { context: 3 }).split('\n').slice(1).join('\n');
    }
  }
}

export class RecordingExec implements Exec {
  readonly #inner: Exec;
  readonly commands: string[][] = [];

  constructor(inner: Exec) {
    this.#inner = inner;
  }

  which(name: string): Promise<string | undefined> {
    return this.#inner.which(name);
  }

  run(file: string, args: readonly string[]): Promise<ExecResult> {
    this.commands.push([file, ...args]);
    return Promise.resolve({ code: 0, signal: null, stdout: '', stderr: '' });
  }
}
