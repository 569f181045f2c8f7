// DNS server addresses: the one parser (DNS, ETHn_DNS, metadata) and the per-format spellings
// (resolv.conf, resolved.conf, NetworkManager). Pure.
import { isIPv4, isIPv6 } from 'node:net';

export interface Nameserver {
  readonly family: 4 | 6;
  /** The address, IPv6 in lower case, without brackets or zone. */
  readonly address: string;
  /** The interface of a link-local IPv6 server ("eth0" or an index), from `fe80::1%eth0`. */
  readonly zone: string | undefined;
}

export type NameserverResult = { readonly ok: true; readonly server: Nameserver } | { readonly ok: false; readonly reason: string };

/** An interface name or index as a zone: what the kernel allows in a name, without ":" or "%". */
const ZONE = /^[A-Za-z0-9_.-]{1,15}$/u;

/** fe80::/10, the only unicast scope where a zone names the way to the server. */
function isLinkLocal(address: string): boolean {
  const first = Number.parseInt(address.split(':')[0] ?? '', 16);
  return first >= 0xfe80 && first <= 0xfebf;
}

/**
 * Reads one DNS server: an IPv4 address (no leading zeros, which resolvers read as octal or
 * refuse), or an IPv6 address, optionally in brackets, optionally with a zone after "%" when it is
 * link-local. glibc's resolv.conf takes `nameserver fe80::1%eth0` (the zone becomes the scope id)
 * and systemd-resolved's DNS= takes `address%ifname`; a zone on any other address means nothing
 * to either, so it is refused rather than silently dropped.
 */
export function parseNameserver(word: string): NameserverResult {
  const bare = word.startsWith('[') && word.endsWith(']') ? word.slice(1, -1) : word;
  if (isIPv4(bare)) {
    if (/(^|\.)0\d/u.test(bare)) return { ok: false, reason: 'is not an IP address (an IPv4 part with a leading zero)' };
    return { ok: true, server: { family: 4, address: bare, zone: undefined } };
  }
  const percent = bare.indexOf('%');
  const address = (percent < 0 ? bare : bare.slice(0, percent)).toLowerCase();
  const zone = percent < 0 ? undefined : bare.slice(percent + 1);
  if (!isIPv6(address)) return { ok: false, reason: 'is not an IP address' };
  if (zone !== undefined) {
    if (!ZONE.test(zone)) return { ok: false, reason: 'has a zone after "%" that is not an interface name or index' };
    if (!isLinkLocal(address)) return { ok: false, reason: 'has a zone ("%…"), which only a link-local (fe80::/10) server can have' };
  }
  return { ok: true, server: { family: 6, address, zone } };
}

/** The server as resolv.conf (glibc, resolvconf) and resolved.conf / networkd DNS= spell it. */
export function formatNameserver(server: Nameserver): string {
  return server.zone === undefined ? server.address : `${server.address}%${server.zone}`;
}

/** Parses a formatted server back (a value vmctx wrote or kept); undefined when it is not one. */
export function nameserverOf(text: string): Nameserver | undefined {
  const r = parseNameserver(text);
  return r.ok ? r.server : undefined;
}
