// make-iso's own code, called directly: the medium written in place of an existing output by a
// temp file and a rename (0600, old or new, never a part), and nothing left behind when it fails.
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IsoImage } from '../../src/formats/iso9660/reader.js';
import { bufferSource } from '../../src/formats/iso9660/source.js';
import { makeIso } from '../../src/provider/contextcd.js';
import { VmctxError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/tmp.js';

const base = { vars: [], files: [], stratuslab: false };

describe('makeIso', () => {
  it('replaces an existing output through a new file renamed into place (0600): readers meanwhile see the old image or the new', async () => {
    const dir = await tempDir();
    const output = join(dir, 'context.iso');
    await makeIso({ ...base, output, vars: ['HOSTNAME=old'] });
    const old = await readFile(output);
    const inode = (await stat(output)).ino;
    const big = join(dir, 'big.bin');
    await writeFile(big, Buffer.alloc(8 * 1024 * 1024, 5));
    let done = false;
    const making = makeIso({ ...base, output, vars: ['HOSTNAME=new'], files: [`${big}:big.bin`] }).finally(() => { done = true; });
    const seen: Buffer[] = [];
    while (!done) seen.push(await readFile(output));
    const made = await making;
    const now = await readFile(output);
    expect(made).toMatchObject({ bytes: now.length, label: 'CONTEXT', what: '2 file(s)' });
    expect(seen.filter((b) => !b.equals(old) && !b.equals(now)).map((b) => b.length)).toEqual([]);
    const st = await stat(output);
    expect(st.ino).not.toBe(inode);
    expect(st.mode & 0o777).toBe(0o600);
    const image = await IsoImage.open(bufferSource(now));
    expect((await image.readFile('/context.sh', { maxBytes: 4096 })).toString()).toContain("HOSTNAME='new'");
    expect((await readdir(dir)).sort()).toEqual(['big.bin', 'context.iso']);
  });

  it('an output that cannot be written is a usage error naming it, and leaves no temp file behind', async () => {
    const dir = await tempDir();
    const output = join(dir, 'out');
    await mkdir(output);
    const error = await makeIso({ ...base, output, vars: ['A=1'] }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(VmctxError);
    expect(error).toMatchObject({ code: 'ERR_USAGE', message: `-o ${output}: cannot write it: is a directory` });
    expect(await readdir(dir)).toEqual(['out']);
    expect(await readdir(output)).toEqual([]);
  });
});
