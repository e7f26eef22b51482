/**
 * IPv4 / IPv6 addresses as bytes (network order), because VRRP compares them as
 * unsigned integers (RFC 5798 §6.4.3: "primary IPvX Address of the sender is greater
 * than the local primary IPvX Address") and writes them raw into packets.
 */
import { formatAddress, parseIPv4, parseIPv6, type IpFamily } from '../inet/index.js';

export type { IpFamily } from '../inet/index.js';

/** An address in network byte order: 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = Uint8Array;

/** Parses dotted-quad IPv4 (the inet library's rules); undefined on anything else. */
export function parseIpv4(text: string): IpBytes | undefined {
  try {
    return parseIPv4(text);
  } catch {
    return undefined;
  }
}

/**
 * Parses RFC 4291 §2.2 text forms (with "::" and a trailing dotted quad); undefined on
 * anything else. A zone id ("fe80::1%eth0") is dropped: a link-local VRRP peer may be
 * configured with one, and the address on the wire has none.
 */
export function parseIpv6(text: string): IpBytes | undefined {
  const zone = text.indexOf('%');
  try {
    return parseIPv6(zone >= 0 ? text.slice(0, zone) : text);
  } catch {
    return undefined;
  }
}

export function parseIp(text: string): IpBytes | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Like parseIp but throws: for configuration already validated at the edge. */
export function ip(text: string): IpBytes {
  const a = parseIp(text);
  if (!a) throw new Error(`not an IP address: ${text}`);
  return a;
}

/** RFC 5952 text of a 4- or 16-byte address. */
export function formatIp(addr: IpBytes): string {
  return formatAddress(addr, 0, addr.length);
}

/** Unsigned comparison of two addresses of the same family: <0, 0, >0. */
export function compareIp(a: IpBytes, b: IpBytes): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function ipEquals(a: IpBytes, b: IpBytes): boolean {
  return a.length === b.length && compareIp(a, b) === 0;
}

/** RFC 5798 §5.1.1.2 / §5.1.2.2: the destination groups for advertisements. */
export const VRRP_GROUP_V4: IpBytes = Uint8Array.of(224, 0, 0, 18);
export const VRRP_GROUP_V6: IpBytes = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12);

export function vrrpGroup(family: IpFamily): IpBytes {
  return family === 4 ? VRRP_GROUP_V4 : VRRP_GROUP_V6;
}

export function isIpv6LinkLocal(addr: IpBytes): boolean {
  return addr.length === 16 && addr[0] === 0xfe && (addr[1]! & 0xc0) === 0x80;
}
