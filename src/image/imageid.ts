// The /etc/image-id stamp (Eucalyptus key=value format): what image this is, which build, made when and by what.
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { VmctxError } from '../shared/errors.js';
import { VERSION } from '../shared/version.js';

/** Fields the caller may set; the others are derived. */
export type StampRequest = Readonly<Partial<Record<'image_name' | 'image_version' | 'recipe_name' | 'image_arch', string>>>;

const STAMP_VALUE = /^[A-Za-z0-9._+:@-]{1,128}$/u;

function stampId(): string {
  const hex = randomBytes(4).toString('hex');
  return `${hex.slice(0, 4)}-${hex.slice(4)}`;
}

function dateStamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

/**
 * The stamp's fields for an image baked from `input` into `output`, with `arch` as detected (the
 * request's image_arch wins); every value is checked (letters, digits and . _ + : @ - only).
 */
export function makeStamp(request: StampRequest, input: string, output: string, arch: string, now: Date): Record<string, string> {
  const stamp: Record<string, string> = {
    image_name: request.image_name ?? basename(input).replace(/\.(gz|bz2|zip|xz)$/u, '').replace(/\.(img|raw|ext[234])$/u, ''),
    image_version: request.image_version ?? '1',
    image_arch: request.image_arch ?? arch,
    image_file: basename(output),
    image_stamp: stampId(),
    image_date: dateStamp(now),
    recipe_name: request.recipe_name ?? 'vmctx-bake',
    vmctx_version: VERSION,
  };
  for (const [k, v] of Object.entries(stamp)) {
    if (!STAMP_VALUE.test(v)) throw new VmctxError('ERR_USAGE', `${k}=${JSON.stringify(v.slice(0, 40))}: letters, digits and . _ + : @ - only`);
  }
  return stamp;
}

/** /etc/image-id in the Eucalyptus format (key=value lines). */
export function renderImageId(fields: Readonly<Record<string, string>>): string {
  return `${Object.entries(fields).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}
