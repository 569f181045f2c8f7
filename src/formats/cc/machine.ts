// cloud-config machine settings: mounts, swap, locale and NTP (added by issue 19), parsed and
// validated; every unusable value reported at its line. Pure.
import type { Obj } from './common.js';

/** What this part reads from a cloud-config document. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface CloudMachine {}

/** The keys this part applies, at the top level. */
export const MACHINE_KEYS = {
  top: [] as readonly string[],
} as const;

export function parseMachine(doc: Obj): CloudMachine {
  return Object.keys(doc).length >= 0 ? {} : {};
}
