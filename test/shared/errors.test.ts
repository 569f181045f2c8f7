// describeError: one line per failure, its code said once (never "ENOENT: ENOENT: …").
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { VmctxError, describeError, errnoCode } from '../../src/shared/errors.js';

describe('describeError', () => {
  it('a Node system error: the code once, the message without it', async () => {
    const error = await readFile('/nonexistent/vmctx-test').catch((e: unknown) => e);
    const d = describeError(error);
    expect(d.code).toBe('ENOENT');
    expect(d.message).toBe("no such file or directory, open '/nonexistent/vmctx-test'");
    expect(`${d.code}: ${d.message}`).not.toMatch(/ENOENT.*ENOENT/u);
  });

  it('an errno libuv has no name for (an empty CD drive: ENOMEDIUM) gets its name and words, not "Unknown system error -123"', () => {
    // the shape Node gives for open('/dev/sr0') on a drive with no disc (seen in the e2e guests)
    const error = Object.assign(new Error("Unknown system error -123: Unknown system error -123, open '/dev/sr0'"), { errno: -123, code: 'Unknown system error -123', syscall: 'open', path: '/dev/sr0' });
    expect(describeError(error)).toEqual({ code: 'ENOMEDIUM', message: "no medium found, open '/dev/sr0'" });
    expect(errnoCode(error)).toBe('ENOMEDIUM');
    // an unknown one stays as Node says it
    const other = Object.assign(new Error('Unknown system error -999: Unknown system error -999, open \'/x\''), { errno: -999, code: 'Unknown system error -999' });
    expect(errnoCode(other)).toBe('Unknown system error -999');
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
