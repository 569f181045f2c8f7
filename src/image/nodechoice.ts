// Which Node runs vmctx in the image: the image's own, one given with --node, or this host's shipped when the image's C library can run it.
import { readFile } from 'node:fs/promises';
import type { Root } from '../host/root.js';
import { VmctxError } from '../shared/errors.js';
import { hostArch } from './elfarch.js';
import { NODE_PATH } from './install.js';

/** What bake was asked for: a binary to ship, "system" for the image's /usr/bin/node, or undefined (decide). */
export type NodeRequest = { readonly binary: Buffer; readonly source: string } | 'system' | undefined;

/** The Node the image runs vmctx with: its own, this host's (shipped), or one given with --node. */
export interface NodeInfo {
  readonly kind: 'image' | 'host' | 'given';
  readonly path: string;
  readonly from?: string;
  readonly version?: string;
  readonly bytes?: number;
}

export type NodeChoice = { binary: Buffer } | { system: string };

/** glibc version of the image ("2.36"), or why it could not be found. */
async function imageLibc(root: Root): Promise<{ version?: string; musl?: boolean }> {
  for (const dir of ['/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib/aarch64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib']) {
    const names = (await root.readdir(dir)) ?? [];
    if (names.some((n) => n.startsWith('ld-musl'))) return { musl: true };
    const legacy = names.map((n) => /^libc-(\d+\.\d+)\.so$/u.exec(n)?.[1]).find((v) => v !== undefined);
    if (legacy !== undefined) return { version: legacy };
    if (names.includes('libc.so.6')) {
      const data = await root.readFile(`${dir}/libc.so.6`, { maxBytes: 16 * 1024 * 1024 }).catch(() => undefined);
      const m = data === undefined ? null : /GNU C Library [^\n]*?version (\d+\.\d+)/u.exec(data.toString('latin1'));
      if (m?.[1] !== undefined) return { version: m[1] };
    }
  }
  return {};
}

/** What the running Node needs: glibc 2.28 for Node 18-22's official builds. */
const NODE_MIN_GLIBC = [2, 28] as const;

/** Decides the Node (warnings say when the image's own is used); throws when none can run there. */
export async function chooseNode(root: Root, request: NodeRequest, warnings: string[], arch: string | undefined): Promise<NodeChoice> {
  if (request === 'system') return { system: '/usr/bin/node' };
  if (request !== undefined) return { binary: request.binary };
  const own = await root.lstat('/usr/bin/node');
  if (own !== undefined) {
    warnings.push('the image has /usr/bin/node; vmctx uses it (vmctx needs Node 18 or later: --node PATH ships another)');
    return { system: '/usr/bin/node' };
  }
  const host = hostArch();
  if (arch !== undefined && arch !== host) throw new VmctxError('ERR_IMAGE', `the image is ${arch} and the running Node is ${host}; give a Node binary for ${arch} with --node PATH (or install nodejs in the image)`);
  const libc = await imageLibc(root);
  if (libc.musl === true) throw new VmctxError('ERR_IMAGE', 'the image uses musl libc and has no /usr/bin/node; give a musl build of Node with --node PATH (or install nodejs in the image)');
  if (libc.version === undefined) throw new VmctxError('ERR_IMAGE', 'cannot tell the image\'s C library version and it has no /usr/bin/node; give a Node binary that runs there with --node PATH');
  const [major = 0, minor = 0] = libc.version.split('.').map(Number);
  if (major < NODE_MIN_GLIBC[0] || (major === NODE_MIN_GLIBC[0] && minor < NODE_MIN_GLIBC[1])) {
    throw new VmctxError('ERR_IMAGE', `the image has glibc ${libc.version}; the running Node (${process.version}) needs glibc ${NODE_MIN_GLIBC.join('.')} or later. Give a Node built for older systems with --node PATH`);
  }
  return { binary: await readFile(process.execPath) };
}

/** Which Node the image gets, for the result and a line of progress. */
export function describeNode(node: NodeChoice, request: NodeRequest): { node: NodeInfo; line: string } {
  if ('system' in node) return { node: { kind: 'image', path: node.system }, line: `using the image's own Node (${node.system})` };
  const mib = (node.binary.length / 1048576).toFixed(1);
  if (request !== undefined && request !== 'system') return { node: { kind: 'given', path: NODE_PATH, from: request.source, bytes: node.binary.length }, line: `shipping the Node binary ${request.source} (${mib} MiB) as ${NODE_PATH}` };
  return { node: { kind: 'host', path: NODE_PATH, from: process.execPath, version: process.version, bytes: node.binary.length }, line: `the image has no /usr/bin/node: shipping this host's Node ${process.version} (${mib} MiB) as ${NODE_PATH}` };
}
