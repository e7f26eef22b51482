/**
 * IPv4 / IPv6 addresses as bytes (network order), because VRRP compares them as
 * unsigned integers (RFC 5798 §6.4.3: "primary IPvX Address of the sender is greater
 * than the local primary IPvX Address") and writes them raw into packets.
 */

export type IpFamily = 4 | 6;

/** An address in network byte order: 4 bytes (IPv4) or 16 bytes (IPv6). */
export type IpBytes = Uint8Array;

export function familyOf(addr: IpBytes): IpFamily {
  return addr.length === 4 ? 4 : 6;
}

/** Parses dotted-quad IPv4; returns undefined on anything else (leading zeros rejected). */
export function parseIpv4(text: string): IpBytes | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out[i] = v;
  }
  return out;
}

/** Parses RFC 4291 §2.2 text forms (with "::" and a trailing dotted quad). */
export function parseIpv6(text: string): IpBytes | undefined {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const dbl = text.indexOf('::');
  if (dbl >= 0 && text.indexOf('::', dbl + 1) >= 0) return undefined;
  const head = dbl >= 0 ? text.slice(0, dbl) : text;
  const tail = dbl >= 0 ? text.slice(dbl + 2) : '';
  const words: number[] = [];
  const tailWords: number[] = [];
  const parseGroup = (s: string, into: number[], allowV4: boolean): boolean => {
    if (s === '') return true;
    const groups = s.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (!v4) return false;
        into.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      into.push(parseInt(g, 16));
    }
    return true;
  };
  if (!parseGroup(head, words, dbl < 0)) return undefined;
  if (!parseGroup(tail, tailWords, true)) return undefined;
  const total = words.length + tailWords.length;
  if (dbl >= 0 ? total > 7 : total !== 8) return undefined;
  const all = words.concat(new Array<number>(8 - total).fill(0), tailWords);
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = all[i]! >> 8;
    out[i * 2 + 1] = all[i]! & 0xff;
  }
  return out;
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

export function formatIp(addr: IpBytes): string {
  if (addr.length === 4) return `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((addr[i]! << 8) | addr[i + 1]!);
  // RFC 5952 §4.2: compress the longest run (>= 2) of zero words, first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
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
