import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootIdentity, givenInstanceId, instanceIdentity } from '../../src/agent/identity.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { scratchRoot } from '../helpers/scratch.js';

describe('instance identity', () => {
  it('VMID first, then the DMI product UUID of the root, then a hash of the context', async () => {
    const root = await scratchRoot();
    const r = new DirectoryRoot(root);
    expect(await instanceIdentity({ VMID: '17' }, r)).toEqual({ id: 'vmid-17', source: 'VMID' });
    const hashed = await instanceIdentity({ A: '1' }, r);
    expect(hashed.source).toBe('context-hash');
    expect(await instanceIdentity({ A: '1' }, r)).toEqual(hashed);
    expect((await instanceIdentity({ A: '2' }, r)).id).not.toBe(hashed.id);
    await mkdir(join(root, 'sys/class/dmi/id'), { recursive: true });
    await writeFile(join(root, 'sys/class/dmi/id/product_uuid'), '4C4C4544-0042-3510-8044-B4C04F4E4E32\n');
    expect(await instanceIdentity({ A: '1' }, r)).toEqual({ id: 'dmi-4c4c4544-0042-3510-8044-b4c04f4e4e32', source: 'dmi' });
    expect((await instanceIdentity({ VMID: '$(x)' }, r)).source).toBe('dmi');
    // sysfs says every attribute is 4096 bytes long: a file that size must still be read
    await writeFile(join(root, 'sys/class/dmi/id/product_uuid'), '4C4C4544-0042-3510-8044-B4C04F4E4E32\n'.padEnd(4096, ' '));
    expect((await instanceIdentity({ A: '1' }, r)).source).toBe('dmi');
    expect(await instanceIdentity({ A: '1' }, r, 'i-abc')).toEqual({ id: 'iid-i-abc', source: 'metadata' });
    await writeFile(join(root, 'sys/class/dmi/id/product_uuid'), '00000000-0000-0000-0000-000000000000\n');
    expect((await instanceIdentity({ A: '1' }, r)).source).toBe('context-hash');
  });

  it('an id a source gives is namespaced once: iid-1 stays iid-1, i-abc keeps its iid-i-abc (state of deployed instances)', async () => {
    const r = new DirectoryRoot(await scratchRoot());
    expect(await instanceIdentity({ A: '1' }, r, 'iid-1')).toEqual({ id: 'iid-1', source: 'metadata' });
    expect(await instanceIdentity({ A: '1' }, r, 'iid-local01')).toEqual({ id: 'iid-local01', source: 'metadata' });
    // ids without the prefix keep the exact form earlier versions recorded in the state
    expect(await instanceIdentity({ A: '1' }, r, 'i-0123456789abcdef0')).toEqual({ id: 'iid-i-0123456789abcdef0', source: 'metadata' });
    expect(givenInstanceId('3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toBe('iid-3f2504e0-4f89-11d3-9a0c-0305e82c3301');
    expect(givenInstanceId('web-1')).toBe('iid-web-1');
    // the bare prefix is not an id of its own
    expect(givenInstanceId('iid-')).toBe('iid-iid-');
    // two different given ids never become the same instance id, except iid-X and X (one instance by name)
    expect(givenInstanceId('iid-iid-1')).toBe('iid-iid-1');
    expect(givenInstanceId('IID-1')).toBe('iid-IID-1');
  });

  it('a scratch root gets a new boot id each run; the live system its kernel boot id', async () => {
    const r = new DirectoryRoot(await scratchRoot());
    expect(await bootIdentity(r)).not.toBe(await bootIdentity(r));
    const live = new DirectoryRoot('/');
    expect(await bootIdentity(live)).toBe(await bootIdentity(live));
  });
});
