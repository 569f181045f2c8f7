// Opening an image's ext file system with libext2fs (WebAssembly, in memory: no kernel mount), its failures said plainly.
import { VmctxError, describeError } from '../shared/errors.js';
import type { FileDisk } from './disk.js';
import type { Located } from './extimage.js';
import type { ExtFs } from './imageroot.js';

export interface Ext2fsLib {
  mount(disk: unknown, offset: number): Promise<{ promises: ExtFs }>;
  umount(fs: unknown): Promise<void>;
}

/** The ext2fs library (CommonJS: its functions sit on the module or on its default export). */
export async function loadExt2fs(): Promise<Ext2fsLib> {
  const imported = (await import('ext2fs')) as Partial<Ext2fsLib> & { default?: Ext2fsLib };
  if (typeof imported.mount === 'function' && typeof imported.umount === 'function') return { mount: imported.mount, umount: imported.umount };
  if (imported.default !== undefined) return imported.default;
  throw new VmctxError('ERR_IMAGE', 'the ext2fs library did not load');
}

/** Mounts the file system `located` found on the disk (in memory: no kernel mount). */
export async function mountImage(disk: FileDisk, located: Located): Promise<{ fs: ExtFs; umount(): Promise<void> }> {
  const ext2fs = await loadExt2fs();
  let mounted;
  try {
    mounted = await ext2fs.mount(disk, located.offset);
  } catch (error) {
    throw new VmctxError('ERR_IMAGE', `libext2fs cannot open the file system (${located.where}): ${describeError(error).message.slice(0, 200)}`, { cause: error });
  }
  return { fs: mounted.promises, umount: () => ext2fs.umount(mounted) };
}

