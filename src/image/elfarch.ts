// The image's CPU architecture, read from the ELF header of its /bin/sh, and Node's names for the same architectures.
import type { Root } from '../host/root.js';

const ELF_MACHINES: Readonly<Record<number, string>> = { 0x03: 'i386', 0x28: 'armhf', 0x3e: 'x86_64', 0xb7: 'aarch64', 0xf3: 'riscv64' };
const NODE_ARCH: Readonly<Record<string, string>> = { x64: 'x86_64', arm64: 'aarch64', ia32: 'i386', arm: 'armhf', riscv64: 'riscv64' };

/** This host's architecture (the running Node's) in the images' naming. */
export function hostArch(): string {
  return NODE_ARCH[process.arch] ?? process.arch;
}

/** The image's architecture, from the ELF header of its /bin/sh (links followed inside the image). */
export async function imageArch(root: Root): Promise<string | undefined> {
  const elf = await root.readFile('/bin/sh', { head: 64 }).catch(() => undefined);
  if (elf === undefined || elf.length < 20 || elf.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const machine = elf[5] === 2 ? elf.readUInt16BE(18) : elf.readUInt16LE(18);
  return ELF_MACHINES[machine];
}
