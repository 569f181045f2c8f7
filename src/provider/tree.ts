// The metadata a server hands out, as a tree of paths: built from a JSON/YAML description or
// from a directory laid out like the service (latest/meta-data/instance-id, …). Directories
// answer with their listing, EC2-style (one name a line, sub-directories with a trailing "/").
import { lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VmctxError, describeError } from '../shared/errors.js';

/** Path (no leading or trailing slash) → file body. Directories are implied by their files. */
export type MetadataTree = Map<string, Buffer>;

const MAX_TREE_BYTES = 64 * 1024 * 1024;
const MAX_FILES = 10_000;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:=+-]{0,254}$/u;

/** A description: EC2 meta-data as nested objects, plus user data, password and OpenStack documents. */
export interface MetadataDescription {
  readonly 'meta-data'?: Record<string, unknown>;
  readonly 'user-data'?: string;
  readonly password?: string;
  readonly openstack?: {
    readonly meta_data?: Record<string, unknown>;
    readonly network_data?: Record<string, unknown>;
    readonly user_data?: string;
    readonly password?: string;
  };
}

function scalar(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new VmctxError('ERR_USAGE', `metadata description: ${where} must be a string, number or object`);
}

function addFile(tree: MetadataTree, path: string, body: string | Buffer): void {
  for (const seg of path.split('/')) {
    if (!SEGMENT.test(seg)) throw new VmctxError('ERR_USAGE', `metadata description: "${path}" has an unusable path segment "${seg}"`);
  }
  tree.set(path, typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
}

/** EC2 public-keys: a list (or name → key map) becomes N=name listings and N/openssh-key files. */
function addPublicKeys(tree: MetadataTree, base: string, value: unknown): void {
  const entries: Array<{ name: string; formats: Record<string, string> }> = [];
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      if (typeof item === 'string') entries.push({ name: `key-${i}`, formats: { 'openssh-key': item } });
      else if (typeof item === 'object' && item !== null) {
        const { name, ...formats } = item as Record<string, unknown>;
        entries.push({ name: typeof name === 'string' ? name : `key-${i}`, formats: Object.fromEntries(Object.entries(formats).map(([k, v]) => [k, scalar(v, `public-keys[${i}].${k}`)])) });
      }
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const [name, key] of Object.entries(value)) entries.push({ name, formats: { 'openssh-key': scalar(key, `public-keys.${name}`) } });
  }
  const listing = entries.map((e, i) => `${i}=${e.name}`).join('\n');
  tree.set(`${base}/public-keys`, Buffer.from(listing));
  for (const [i, e] of entries.entries()) for (const [format, key] of Object.entries(e.formats)) addFile(tree, `${base}/public-keys/${i}/${format}`, key);
}

function addObject(tree: MetadataTree, base: string, value: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(value)) {
    const path = `${base}/${key}`;
    if (key === 'public-keys') addPublicKeys(tree, base, v);
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) addObject(tree, path, v as Record<string, unknown>);
    else if (Array.isArray(v)) addFile(tree, path, v.map((x, i) => scalar(x, `${path}[${i}]`)).join('\n'));
    else addFile(tree, path, scalar(v, path));
  }
}

/** Builds the tree from a parsed description. */
export function treeFromDescription(d: MetadataDescription): MetadataTree {
  const tree: MetadataTree = new Map();
  if (typeof (d as unknown) !== 'object' || (d as unknown) === null) throw new VmctxError('ERR_USAGE', 'metadata description: expected a mapping');
  if (d['meta-data'] !== undefined) addObject(tree, 'latest/meta-data', d['meta-data']);
  if (d['user-data'] !== undefined) addFile(tree, 'latest/user-data', scalar(d['user-data'], 'user-data'));
  if (d.password !== undefined) addFile(tree, 'latest/meta-data/password', scalar(d.password, 'password'));
  const os = d.openstack;
  if (os !== undefined) {
    const md = d['meta-data'] ?? {};
    const keys = md['public-keys'];
    const generated: Record<string, unknown> = {
      uuid: md['instance-id'],
      hostname: md['local-hostname'] ?? md['hostname'],
      name: md['local-hostname'] ?? md['hostname'],
      ...(typeof keys === 'object' && keys !== null && !Array.isArray(keys) ? { public_keys: keys } : {}),
      ...(d.password === undefined ? {} : { admin_pass: d.password }),
    };
    addFile(tree, 'openstack/latest/meta_data.json', JSON.stringify(os.meta_data ?? generated));
    if (os.network_data !== undefined) addFile(tree, 'openstack/latest/network_data.json', JSON.stringify(os.network_data));
    const ud = os.user_data ?? d['user-data'];
    if (ud !== undefined) addFile(tree, 'openstack/latest/user_data', scalar(ud, 'openstack.user_data'));
    const pw = os.password ?? d.password;
    if (pw !== undefined) addFile(tree, 'openstack/latest/password', scalar(pw, 'openstack.password'));
  }
  return tree;
}

/** Reads a tree from a directory (files only; symbolic links are refused, sizes bounded). */
export async function treeFromDirectory(dir: string): Promise<MetadataTree> {
  const tree: MetadataTree = new Map();
  let total = 0;
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 16) throw new VmctxError('ERR_USAGE', `${dir}: directories nested too deep`);
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(join(dir, path));
      if (st.isSymbolicLink()) throw new VmctxError('ERR_USAGE', `${join(dir, path)}: symbolic links are not served`);
      if (st.isDirectory()) await walk(path, depth + 1);
      else if (st.isFile()) {
        total += st.size;
        if (total > MAX_TREE_BYTES || tree.size >= MAX_FILES) throw new VmctxError('ERR_USAGE', `${dir}: more than ${MAX_TREE_BYTES} bytes or ${MAX_FILES} files`);
        addFile(tree, path, await readFile(join(dir, path)));
      }
    }
  };
  await walk('', 0);
  return tree;
}

/** Reads a description file (.json, .yaml or .yml) or a directory. */
export async function loadTree(from: string): Promise<MetadataTree> {
  const unreadable = (error: unknown): VmctxError => new VmctxError('ERR_USAGE', `--from ${from}: ${describeError(error).message}`, { cause: error });
  const st = await lstat(from).catch((error: unknown) => {
    throw unreadable(error);
  });
  if (st.isDirectory()) return treeFromDirectory(from);
  const text = await readFile(from, 'utf8').catch((error: unknown) => {
    throw unreadable(error);
  });
  let parsed: unknown;
  try {
    parsed = from.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new VmctxError('ERR_USAGE', `--from ${from}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return treeFromDescription(parsed as MetadataDescription);
}

/** The body for a path: a file, or the listing of a directory; undefined when neither. */
export function lookup(tree: MetadataTree, rawPath: string): Buffer | undefined {
  const path = rawPath.replace(/^\/+|\/+$/gu, '');
  const file = tree.get(path);
  if (file !== undefined) return file;
  const prefix = path === '' ? '' : `${path}/`;
  const children = new Set<string>();
  for (const key of tree.keys()) {
    if (!key.startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    children.add(slash === -1 ? rest : `${rest.slice(0, slash)}/`);
  }
  for (const c of children) if (!c.endsWith('/') && children.has(`${c}/`)) children.delete(c);
  if (children.size === 0) return undefined;
  return Buffer.from([...children].sort().join('\n'));
}
