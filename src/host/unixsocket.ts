// A local control channel on a Unix-domain socket: a root-only listener that answers one short
// line per connection, a probe for a live listener, and the client that sends one line.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';

export interface LineListenerOptions {
  /** Longest request line; a longer one is answered "error: too long" and dropped. */
  readonly maxLine: number;
  /** A connection silent this long is closed. */
  readonly idleMs: number;
  readonly maxConnections: number;
  /** A socket error after listening started (the listener stays up). */
  readonly onError: (error: Error) => void;
}

export interface LineListener {
  /** Stops listening and removes the socket file. */
  close(): Promise<void>;
}

/**
 * Listens on `path` (created 0600: only root, which owns the directory, can connect). Each
 * connection sends one line; `answer` gets it trimmed and returns the reply line (no newline).
 * A stale socket file must have been removed first (see `socketAnswers`, `removeSocket`).
 */
export async function listenForLines(path: string, answer: (line: string) => string, options: LineListenerOptions): Promise<LineListener> {
  const server = createServer((socket) => { serveOneLine(socket, answer, options); });
  server.maxConnections = options.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const old = process.umask(0o177);
    try {
      server.listen(path, () => { resolve(); });
    } finally {
      process.umask(old);
    }
  });
  server.on('error', options.onError);
  return {
    async close() {
      await closeServer(server);
      await removeSocket(path);
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => { resolve(); }));
}

function serveOneLine(socket: Socket, answer: (line: string) => string, options: LineListenerOptions): void {
  let buffer = '';
  socket.setTimeout(options.idleMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    if (buffer.length > options.maxLine) {
      socket.end('error: too long\n');
      return;
    }
    const nl = buffer.indexOf('\n');
    if (nl < 0) return;
    socket.end(`${answer(buffer.slice(0, nl).trim())}\n`);
  });
}

/** Removes a socket file; one that is not there is fine. */
export async function removeSocket(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

/** True when something listens on the socket (it accepts a connection within `timeoutMs`). */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => { done(false); });
    socket.once('connect', () => { done(true); });
    socket.once('error', () => { done(false); });
  });
}

/**
 * Sends one line and resolves to the reply up to its first newline (or all of it, when the
 * listener closes first); undefined when nothing listens or no reply comes within `timeoutMs`.
 */
export function sendLine(path: string, line: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    let reply = '';
    const done = (result: string | undefined): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => { done(undefined); });
    socket.once('connect', () => socket.write(`${line}\n`));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
      if (reply.includes('\n')) done(reply);
    });
    socket.once('error', () => { done(undefined); });
    socket.once('end', () => { done(reply); });
  });
}
