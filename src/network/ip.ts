// Address arithmetic and validation for the network model (pure).
import { isIPv4, isIPv6 } from 'node:net';

export function isIPv4Address(value: string): boolean {
  return isIPv4(value) && !/(^|\.)0\d/u.test(value);
}

export function isIPv6Address(value: string): boolean {
  return isIPv6(value) && !value.includes('%');
}

function ipv4ToInt(value: string): number {
  return value.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/**
 * A netmask in any form the old scripts produced: "/24", "24", "255.255.255.0",
 * " netmask 255.255.255.0". Undefined when invalid (including non-contiguous masks).
 */
export function parseMask(raw: string): number | undefined {
  const value = raw.trim().replace(/^netmask\s+/iu, '').replace(/^\//u, '');
  if (/^\d{1,2}$/u.test(value)) {
    const prefix = Number(value);
    return prefix <= 32 ? prefix : undefined;
  }
  if (!isIPv4Address(value)) return undefined;
  const bits = ipv4ToInt(value).toString(2).padStart(32, '0');
  if (!/^1*0*$/u.test(bits)) return undefined;
  return bits.indexOf('0') < 0 ? 32 : bits.indexOf('0');
}

export function prefixToMask(prefix: number): string {
  return intToIpv4(prefix === 0 ? 0 : (0xffffffff - (2 ** (32 - prefix) - 1)));
}

/** The network address of an IPv4 address and prefix: 10.0.0.5/24 → 10.0.0.0. */
export function networkOf(address: string, prefix: number): string {
  const size = 2 ** (32 - prefix);
  return intToIpv4(Math.floor(ipv4ToInt(address) / size) * size);
}

/** A destination in CIDR form ("10.0.0.0/8" or "2001:db8::/32"), normalised; undefined when invalid. */
export function parseCidr(raw: string): { address: string; prefix: number; family: 4 | 6 } | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/u.exec(raw.trim());
  if (m === null) return undefined;
  const address = m[1] ?? '';
  const prefix = Number(m[2]);
  if (isIPv4Address(address) && prefix <= 32) return { address, prefix, family: 4 };
  if (isIPv6Address(address) && prefix <= 128) return { address: address.toLowerCase(), prefix, family: 6 };
  return undefined;
}

/** A MAC address as lower-case colon-separated hex; undefined when invalid. */
export function normaliseMac(raw: string): string | undefined {
  const hex = raw.trim().toLowerCase().replace(/[-:.]/gu, '');
  if (!/^[0-9a-f]{12}$/u.test(hex) || /^0{12}$/u.test(hex)) return undefined;
  return hex.match(/../gu)?.join(':');
}

/** OpenNebula's legacy scheme: MAC 02:00:a:b:c:d carries IPv4 a.b.c.d. */
export function ipFromLegacyMac(mac: string): string | undefined {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts[0] !== '02' || parts[1] !== '00') return undefined;
  return parts.slice(2).map((p) => parseInt(p, 16)).join('.');
}
