// make-iso and serve-metadata: a missing input file, an output that cannot be written, a port in
// use are usage errors (exit 2) with a message naming the option and the file, never a temporary
// file and never the errno code twice.
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLE, vmctx } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('make-iso: input and output problems', () => {
  it('a missing --vars-file is exit 2 naming the option and the file, the code said once', async () => {
    const dir = await tempDir();
    const r = vmctx(['make-iso', '-o', join(dir, 'x.iso'), '--vars-file', join(dir, 'nope.sh')]);
    expect(r.stderr).toBe(`vmctx: ERR_USAGE: --vars-file ${join(dir, 'nope.sh')}: no such file or directory\n`);
    expect(r.code).toBe(2);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a --vars-file a shell would run commands from is exit 2 with its line', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'v.sh'), "A='1'\nB=$(reboot)\n");
    const r = vmctx(['make-iso', '-o', join(dir, 'x.iso'), '--vars-file', join(dir, 'v.sh')]);
    expect(r.stderr).toMatch(new RegExp(`^vmctx: ERR_USAGE: --vars-file ${join(dir, 'v.sh')}: .*line 2`, 'u'));
    expect(r.code).toBe(2);
  });

  it('a missing --file is exit 2', async () => {
    const dir = await tempDir();
    const r = vmctx(['make-iso', '-o', join(dir, 'x.iso'), '--file', join(dir, 'init.sh')]);
    expect(r.stderr).toBe(`vmctx: ERR_USAGE: --file ${join(dir, 'init.sh')}: no such file or directory\n`);
    expect(r.code).toBe(2);
  });

  it('an output disk that is full: exit 2, "no space left" naming the directory, nothing left behind', async () => {
    const dir = await tempDir();
    const small = join(dir, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    try {
      const big = join(dir, 'big.bin');
      await writeFile(big, Buffer.alloc(256 * 1024, 7));
      const r = vmctx(['make-iso', '-o', join(small, 'x.iso'), '--var', 'A=1', '--file', big]);
      expect(r.stderr).toBe(`vmctx: ERR_USAGE: -o ${join(small, 'x.iso')}: cannot write it: no space left on the disk holding ${small}; nothing was written\n`);
      expect(r.code).toBe(2);
      expect(await readdir(small)).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('an output in a directory that does not exist: exit 2, the output named, no temporary file named or left', async () => {
    const dir = await tempDir();
    const out = join(dir, 'missing', 'x.iso');
    const r = vmctx(['make-iso', '-o', out, '--var', 'A=1']);
    expect(r.stderr).toBe(`vmctx: ERR_USAGE: -o ${out}: cannot write it: the directory ${join(dir, 'missing')} does not exist\n`);
    expect(r.stderr).not.toMatch(/\.tmp-\d|\.vmctx-[0-9a-f]{12}/u);
    expect(r.code).toBe(2);
    // a directory where the output should go
    const r2 = vmctx(['make-iso', '-o', dir, '--var', 'A=1']);
    expect(r2.stderr).toBe(`vmctx: ERR_USAGE: -o ${dir}: cannot write it: is a directory\n`);
    expect(r2.code).toBe(2);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('serve-metadata: a port in use', () => {
  it('is exit 2 with the address and what to do, not exit 1 with the errno twice', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'md.json'), JSON.stringify({ 'meta-data': { 'instance-id': 'i-1' } }));
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const child = spawn(process.execPath, [BUNDLE, 'serve-metadata', '--from', join(dir, 'md.json'), '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(stderr).toBe(`vmctx: ERR_USAGE: --listen 127.0.0.1:${port}: cannot listen there: the port is in use (another process listens there); choose another port, or port 0 for any free one\n`);
      expect(code).toBe(2);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => { resolve(); }));
    }
  });
});

describe('serve-metadata: a missing --from', () => {
  it('is exit 2 naming the option and the file, the errno code not in the message', () => {
    const r = vmctx(['serve-metadata', '--from', '/nonexistent/md.json', '--listen', '127.0.0.1:0']);
    expect(r.stderr).toBe("vmctx: ERR_USAGE: --from /nonexistent/md.json: no such file or directory, lstat '/nonexistent/md.json'\n");
    expect(r.code).toBe(2);
  });
});
