// Instance identity (stable across reboots of one VM, different on a clone) and boot identity.
import { createHash, randomUUID } from 'node:crypto';
import type { Root } from '../host/root.js';
import type { Context } from './context/context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/u;
/** Values firmware uses when it has no real UUID. */
const PLACEHOLDER_UUIDS = new Set(['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '03000200-0400-0500-0006-000700080009']);

export interface InstanceIdentity {
  readonly id: string;
  readonly source: Context['instanceIdSource'];
}

/** The namespace of ids a source gives (HTTP metadata, NoCloud, config drive). */
const GIVEN_PREFIX = 'iid-';

/**
 * The instance id for an id a source gives: `iid-<id>`, or the id as given when it already
 * carries that prefix (NoCloud's customary `iid-local01` stays `iid-local01`, as cloud-init uses
 * it, instead of `iid-iid-local01`). Every id without the prefix (EC2 `i-…`, OpenStack UUIDs,
 * NoCloud ids like `web-1`) keeps the form earlier versions gave it, so the state of deployed
 * instances, which is keyed on this id, still matches.
 */
export function givenInstanceId(given: string): string {
  return given.startsWith(GIVEN_PREFIX) && given.length > GIVEN_PREFIX.length ? given : `${GIVEN_PREFIX}${given}`;
}

/**
 * The id a source gave (see givenInstanceId); else VMID from the context when it has one; else the DMI/SMBIOS product UUID of the machine the root
 * belongs to (read through the root, so a scratch or image root never borrows the host's); else
 * a hash of the context's variables.
 */
export async function instanceIdentity(variables: Readonly<Record<string, string>>, root: Root, given?: string): Promise<InstanceIdentity> {
  if (given !== undefined && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/u.test(given)) return { id: givenInstanceId(given), source: 'metadata' };
  const vmid = variables['VMID']?.trim();
  if (vmid !== undefined && /^[A-Za-z0-9._-]{1,64}$/u.test(vmid)) return { id: `vmid-${vmid}`, source: 'VMID' };
  const dmi = (await root.readText('/sys/class/dmi/id/product_uuid', { maxBytes: 4096 }).catch(() => undefined))?.trim().toLowerCase();
  if (dmi !== undefined && UUID.test(dmi) && !PLACEHOLDER_UUIDS.has(dmi)) return { id: `dmi-${dmi}`, source: 'dmi' };
  const hash = createHash('sha256');
  for (const key of Object.keys(variables).sort()) hash.update(`${key}\0${variables[key] ?? ''}\0`);
  return { id: `ctx-${hash.digest('hex').slice(0, 24)}`, source: 'context-hash' };
}

/** The kernel's boot id when the root is the running system; otherwise a fresh one per run. */
export async function bootIdentity(root: Root): Promise<string> {
  const id = (await root.readText('/proc/sys/kernel/random/boot_id', { maxBytes: 64 }).catch(() => undefined))?.trim();
  return id !== undefined && UUID.test(id) ? id : randomUUID();
}
