// Key paths of a parsed network document in the notation of keys/*.json, and matching them to the documented keys.
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export type KeyFormat = 'v1' | 'v2' | 'network_data' | 'ec2';

/** Mapping keys below these paths are IDs (interface IDs, MACs, bridge ports), not keywords. */
const ID_MAPS: Record<KeyFormat, RegExp[]> = {
  v1: [],
  v2: [/^(ethernets|bonds|bridges|vlans)$/],
  network_data: [],
  ec2: [/^interfaces\.macs$/],
};
/** Values below these paths are data (maps of port → number, public → private IP), not keys. */
const OPAQUE: Record<KeyFormat, RegExp[]> = {
  v1: [],
  v2: [/^bridges\.\*\.parameters\.(path-cost|port-priority)$/],
  network_data: [],
  ec2: [/^interfaces\.macs\.\*\.ipv4-associations$/],
};

/** Lists whose items are qualified by their "type" (config[type=bond], links[type=vlan]). */
const TYPED_LISTS: Record<KeyFormat, string[]> = { v1: ['config'], v2: [], network_data: ['links'], ec2: [] };

/**
 * Every key path in `doc` (a parsed v1/v2 document with or without its `network` wrapper,
 * a network_data.json, or an EC2 `network` subtree), e.g. `ethernets.*.match.name`,
 * `config[type=bond].params.bond-mode`, `networks[].routes[].gateway`.
 */
export function keyPaths(format: KeyFormat, doc: unknown): string[] {
  const out: string[] = [];
  let root = doc;
  if ((format === 'v1' || format === 'v2') && isObj(doc) && 'network' in doc) {
    out.push('network');
    root = doc['network'];
  }
  const walk = (value: unknown, path: string): void => {
    if (OPAQUE[format].some((re) => re.test(path))) return;
    if (isObj(value)) {
      const ids = ID_MAPS[format].some((re) => re.test(path));
      for (const [k, v] of Object.entries(value)) {
        const p = ids ? `${path}.*` : path === '' ? k : `${path}.${k}`;
        if (!ids) out.push(p);
        walk(v, p);
      }
    } else if (Array.isArray(value) && value.some(isObj)) {
      const typed = TYPED_LISTS[format].includes(path);
      for (const item of value) {
        if (!isObj(item)) continue;
        walk(item, typed && typeof item['type'] === 'string' ? `${path}[type=${item['type']}]` : `${path}[]`);
      }
    }
  };
  walk(root, '');
  return [...new Set(out)];
}

/** v1 bond params are documented bare (mode) but written bond-mode / bond_mode: compare them bare. */
function normalise(format: KeyFormat, segment: string): string {
  if (format === 'v1') return segment.replace(/^bond[-_]/, '').replace(/-/g, '_');
  return segment;
}

function segmentMatches(format: KeyFormat, pattern: string, concrete: string, inBondParams: boolean): boolean {
  if (pattern === '*' || pattern === concrete) return true;
  // config[] in a pattern covers config[type=bond] in a document.
  if (pattern.endsWith('[]') && concrete.startsWith(`${pattern.slice(0, -1)}type=`)) return true;
  return inBondParams && normalise(format, pattern) === normalise(format, concrete);
}

/** The documented key (from keys/FORMAT.json) that `path` is an instance of, or undefined. */
export function documentedKey(format: KeyFormat, path: string, documented: Iterable<string>): string | undefined {
  const concrete = path.split('.');
  for (const key of documented) {
    const pattern = key.split('.');
    if (pattern.length !== concrete.length) continue;
    const bondParams = format === 'v1' && pattern[0] === 'config[type=bond]' && pattern[1] === 'params';
    if (pattern.every((seg, i) => segmentMatches(format, seg, concrete[i]!, bondParams && i === 2))) return key;
  }
  return undefined;
}
