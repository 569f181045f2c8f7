// Which OpenNebula NICs and aliases a context names (ETHx_…, ETHx_ALIASy_…): the indexes the
// OpenNebula mapper (fromopennebula.ts) and the DNS settings walk. Pure.

type Vars = Readonly<Record<string, string>>;

const MAX_NICS = 64;
const MAX_ALIASES = 64;

/** NIC indexes present in the context (ETH0_…, ETH3_…), sorted numerically. */
export function nicIndexes(v: Vars): number[] {
  const found = new Set<number>();
  for (const key of Object.keys(v)) {
    const m = /^ETH(\d{1,4})_/u.exec(key);
    if (m !== null) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b).slice(0, MAX_NICS);
}

/** ALIAS indexes of one NIC (ETH0_ALIAS0_…), sorted numerically. */
export function aliasIndexes(v: Vars, nic: number): number[] {
  const found = new Set<number>();
  for (const key of Object.keys(v)) {
    const m = new RegExp(`^ETH${nic}_ALIAS(\\d{1,4})_`, 'u').exec(key);
    if (m !== null) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b).slice(0, MAX_ALIASES);
}
