// Bounds-checked little/big-endian field reads over a Uint8Array; every out-of-range read throws
// the caller's coded error instead of returning garbage.
import { VmctxError, type ErrorCode } from '../../shared/errors.js';

export function need(buf: Uint8Array, offset: number, length: number, code: ErrorCode, what: string): void {
  if (!Number.isInteger(offset) || offset < 0 || length < 0 || offset + length > buf.length) {
    throw new VmctxError(code, `${what}: needs bytes ${offset}..${offset + length} but only ${buf.length} are there`);
  }
}

export function u8(buf: Uint8Array, offset: number, code: ErrorCode, what: string): number {
  need(buf, offset, 1, code, what);
  return buf[offset] ?? 0;
}

export function u16le(buf: Uint8Array, offset: number, code: ErrorCode, what: string): number {
  need(buf, offset, 2, code, what);
  return (buf[offset] ?? 0) | ((buf[offset + 1] ?? 0) << 8);
}

export function u32le(buf: Uint8Array, offset: number, code: ErrorCode, what: string): number {
  need(buf, offset, 4, code, what);
  return ((buf[offset] ?? 0) | ((buf[offset + 1] ?? 0) << 8) | ((buf[offset + 2] ?? 0) << 16)) + (buf[offset + 3] ?? 0) * 0x1000000;
}

export function ascii(buf: Uint8Array, offset: number, length: number, code: ErrorCode, what: string): string {
  need(buf, offset, length, code, what);
  let out = '';
  for (let i = offset; i < offset + length; i++) out += String.fromCharCode(buf[i] ?? 0);
  return out;
}

export function ucs2be(buf: Uint8Array, offset: number, length: number, code: ErrorCode, what: string): string {
  need(buf, offset, length, code, what);
  let out = '';
  for (let i = offset; i + 1 < offset + length; i += 2) out += String.fromCharCode(((buf[i] ?? 0) << 8) | (buf[i + 1] ?? 0));
  return out;
}
