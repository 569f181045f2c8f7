// What an image author adds with bake besides the agent: boot hooks (--scripts DIR), templated
// files (--template SRC:GUESTPATH) and the sd* aliases for xvd* and vd* disks (--udev-aliases). All
// through the Root interface: into an image without mounting it, or into a directory.
import { lstat, readFile, readdir } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { HOOKS_DIR, HOOK_FREQUENCIES, HOOK_NAME, TEMPLATE_DIR } from '../shared/layout.js';
import type { Root } from '../host/root.js';
import { VmctxError } from '../shared/errors.js';

const ROOT_OWNER = { uid: 0, gid: 0 };

export interface HookFile {
  readonly path: string;
  readonly data: Buffer;
}

/** Reads and checks DIR/{per-boot,per-instance,once}/NAME before anything is written. */
export async function readHooksDir(dir: string): Promise<HookFile[]> {
  const files: HookFile[] = [];
  const subdirs = await readdir(dir).catch((error: unknown) => {
    throw new VmctxError('ERR_USAGE', `--scripts ${dir}: ${(error as Error).message}`);
  });
  for (const sub of subdirs.sort()) {
    if (!(HOOK_FREQUENCIES as readonly string[]).includes(sub)) throw new VmctxError('ERR_USAGE', `--scripts ${dir}: "${sub}" is not one of ${HOOK_FREQUENCIES.join(', ')}`);
    for (const name of (await readdir(join(dir, sub))).sort()) {
      if (!HOOK_NAME.test(name)) throw new VmctxError('ERR_USAGE', `--scripts ${dir}/${sub}/${name}: hook names are letters, digits and . _ + - (not starting with . or -)`);
      const st = await lstat(join(dir, sub, name));
      if (!st.isFile()) throw new VmctxError('ERR_USAGE', `--scripts ${dir}/${sub}/${name}: not a regular file`);
      files.push({ path: `${HOOKS_DIR}/${sub}/${name}`, data: await readFile(join(dir, sub, name)) });
    }
  }
  return files;
}

/** Puts checked hooks into scripts.d, 0755 root:root. */
export async function addHooks(root: Root, hooks: readonly HookFile[]): Promise<string[]> {
  const changed: string[] = [];
  for (const hook of hooks) {
    await root.ensureDir(posix.dirname(hook.path), { mode: 0o755 });
    if ((await root.writeFile(hook.path, hook.data, { mode: 0o755, owner: ROOT_OWNER })).changed) changed.push(hook.path);
  }
  return changed;
}

/** Reads and checks SRC:GUESTPATH before anything is written; the file it becomes in the image. */
export async function readTemplateSpec(spec: string): Promise<HookFile> {
  const at = spec.lastIndexOf(':');
  const src = spec.slice(0, at);
  const guest = spec.slice(at + 1);
  if (at <= 0 || !guest.startsWith('/') || guest.endsWith('/') || posix.normalize(guest) !== guest || guest.split('/').includes('..')) {
    throw new VmctxError('ERR_USAGE', `--template ${spec}: expected SRC:/absolute/guest/path`);
  }
  const data = await readFile(src).catch((error: unknown) => {
    throw new VmctxError('ERR_USAGE', `--template ${spec}: ${(error as Error).message}`);
  });
  return { path: `${TEMPLATE_DIR}${guest}.tmpl`, data };
}

/** Puts a checked template into /etc/vmctx/templates, 0644 root:root. */
export async function addTemplate(root: Root, template: HookFile): Promise<string> {
  await root.writeFile(template.path, template.data, { mode: 0o644, owner: ROOT_OWNER });
  return template.path;
}

export const DISK_ALIAS_RULE = '/usr/lib/udev/rules.d/61-vmctx-disk-aliases.rules';
export const DISK_ALIAS_HELPER = '/usr/lib/vmctx/disk-alias';

/** The udev rule: xvd* and vd* disks and partitions also get /dev/sd* links (from the helper's answer). */
export const DISK_ALIAS_RULE_TEXT = `# vmctx --udev-aliases: xvd* and vd* disks also answer to sd* names, as the Eucalyptus images
# arranged, for software that hard-codes /dev/sdX. A real sd* device of the same name wins.
ACTION=="add|change", SUBSYSTEM=="block", KERNEL=="xvd[a-z]*|vd[a-z]*", PROGRAM="${DISK_ALIAS_HELPER} %k", SYMLINK+="%c"
`;

/** The helper: prints the sd* name for an xvd* and vd* kernel name; nothing (exit 1) otherwise. */
export const DISK_ALIAS_HELPER_TEXT = `#!/bin/sh
# vmctx: the sd* alias of a xvd* and vd* block device (xvda1 -> sda1, vdb -> sdb), for the udev rule
# ${DISK_ALIAS_RULE}. Prints nothing and fails for any other name, and when a real
# /dev/sd* device of that name exists.
case "$1" in
	xvd[a-z]*) rest=\${1#xvd} ;;
	vd[a-z]*) rest=\${1#vd} ;;
	*) exit 1 ;;
esac
case "$rest" in
	*[!a-z0-9]*|'') exit 1 ;;
esac
dev=\${VMCTX_DEV_DIR:-/dev}
if [ -e "$dev/sd$rest" ] && [ ! -L "$dev/sd$rest" ]; then exit 1; fi
echo "sd$rest"
`;

export async function addDiskAliases(root: Root): Promise<string[]> {
  const changed: string[] = [];
  if ((await root.writeFile(DISK_ALIAS_HELPER, DISK_ALIAS_HELPER_TEXT, { mode: 0o755, owner: ROOT_OWNER })).changed) changed.push(DISK_ALIAS_HELPER);
  if ((await root.writeFile(DISK_ALIAS_RULE, DISK_ALIAS_RULE_TEXT, { mode: 0o644, owner: ROOT_OWNER })).changed) changed.push(DISK_ALIAS_RULE);
  return changed;
}
