// describeError: one line per failure, its code said once (never "ENOENT: ENOENT: …").
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { VmctxError, describeError } from '../../src/shared/errors.js';

describe('describeError', () => {
  it('a Node system error: the code once, the message without it', async () => {
    const error = await readFile('/nonexistent/vmctx-test').catch((e: unknown) => e);
    const d = describeError(error);
    expect(d.code).toBe('ENOENT');
    expect(d.message).toBe("no such file or directory, open '/nonexistent/vmctx-test'");
    expect(`${d.code}: ${d.message}`).not.toMatch(/ENOENT.*ENOENT/u);
  });

  it('a system call error ("listen EADDRINUSE: …"): the call kept, the code not repeated', async () => {
    const first = createServer();
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve));
    const { port } = first.address() as { port: number };
    const second = createServer();
    const error = await new Promise<unknown>((resolve) => {
      second.once('error', resolve);
      second.listen(port, '127.0.0.1');
    });
    await new Promise<void>((resolve) => first.close(() => { resolve(); }));
    const d = describeError(error);
    expect(d.code).toBe('EADDRINUSE');
    expect(d.message).toBe(`address already in use 127.0.0.1:${port} (listen)`);
  });

  it('our own errors and other values are as they were', () => {
    expect(describeError(new VmctxError('ERR_USAGE', 'ENOENT: said by us'))).toEqual({ code: 'ERR_USAGE', message: 'ENOENT: said by us' });
    expect(describeError(new Error('plain'))).toEqual({ code: 'ERR_INTERNAL', message: 'plain' });
    expect(describeError('text')).toEqual({ code: 'ERR_INTERNAL', message: 'text' });
  });
});
