/**
 * IPv4 / IPv6 addresses as text and as bytes. Parsing reports what is wrong and where;
 * printing follows RFC 5952 for IPv6. Used by config, rules, the API and tests: not per
 * packet, but the matching helpers (`prefixMatch`, `addrEqual`) allocate nothing.
 */

export type IpFamily = 4 | 6;

export interface ParsedAddress {
  family: IpFamily;
  bytes: Uint8Array;
}

export interface Prefix {
  family: IpFamily;
  /** Network address, host bits cleared. */
  bytes: Uint8Array;
  /** Prefix length in bits. */
  len: number;
}

/** Parses dotted-quad IPv4 text (exactly four decimal parts 0-255, no leading zeros). */
export function parseIPv4(text: string): Uint8Array {
  const out = new Uint8Array(4);
  const err = parseIPv4Into(text, out, 0);
  if (err !== null) throw new Error(`invalid IPv4 address "${text}": ${err}`);
  return out;
}

/** Parses into out[off..off+4); returns an error message, or null when fine. */
function parseIPv4Into(text: string, out: Uint8Array, off: number): string | null {
  const parts = text.split('.');
  if (parts.length !== 4) return `expected 4 dot-separated parts, got ${parts.length}`;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^[0-9]{1,3}$/.test(p)) return `part ${i + 1} "${p}" is not a decimal number 0-255`;
    // Leading zeros are ambiguous (inet_aton reads them as octal): refuse them.
    if (p.length > 1 && p[0] === '0') return `part ${i + 1} "${p}" has a leading zero`;
    const v = Number(p);
    if (v > 255) return `part ${i + 1} "${p}" is greater than 255`;
    out[off + i] = v;
  }
  return null;
}

/**
 * Parses IPv6 text (RFC 4291 §2.2): eight groups of 1-4 hex digits, one "::" for a run of
 * zero groups, an optional dotted-quad IPv4 tail. Zone ids ("%eth0") are refused: an
 * address in a rule or on the wire has none.
 */
export function parseIPv6(text: string): Uint8Array {
  const fail = (why: string): never => {
    throw new Error(`invalid IPv6 address "${text}": ${why}`);
  };
  if (text.includes('%')) fail('zone ids (%...) are not allowed here');
  const dbl = text.indexOf('::');
  if (dbl !== -1 && text.indexOf('::', dbl + 1) !== -1) fail('"::" may appear only once');
  const out = new Uint8Array(16);
  const parseSide = (s: string, allowV4Tail: boolean): number[] => {
    if (s === '') return [];
    const groups = s.split(':');
    const words: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (i === groups.length - 1 && allowV4Tail && g.includes('.')) {
        const v4 = new Uint8Array(4);
        const err = parseIPv4Into(g, v4, 0);
        if (err !== null) fail(`embedded IPv4 "${g}": ${err}`);
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (g === '') fail('empty group (a single ":" where "::" or a group was expected)');
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) fail(`group "${g}" is not 1-4 hex digits`);
      words.push(parseInt(g, 16));
    }
    return words;
  };
  let words: number[];
  if (dbl === -1) {
    words = parseSide(text, true);
    if (words.length !== 8) fail(`expected 8 groups, got ${words.length}`);
  } else {
    const head = parseSide(text.slice(0, dbl), false);
    const tail = parseSide(text.slice(dbl + 2), true);
    // RFC 4291: "::" stands for one or more zero groups.
    if (head.length + tail.length > 7) fail('"::" must replace at least one group');
    words = head.concat(new Array<number>(8 - head.length - tail.length).fill(0), tail);
  }
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
}

/** Parses IPv4 or IPv6 text, telling them apart by the presence of ':'. */
export function parseAddress(text: string): ParsedAddress {
  if (text.includes(':')) return { family: 6, bytes: parseIPv6(text) };
  return { family: 4, bytes: parseIPv4(text) };
}

/** Prints buf[off..off+4) as dotted quad. */
export function formatIPv4(buf: Uint8Array, off = 0): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/**
 * Prints buf[off..off+16) in the RFC 5952 canonical form: lower-case hex without leading
 * zeros (§4.1, §4.3), the longest run of two or more zero groups as "::", the first one
 * on a tie (§4.2), and IPv4-mapped addresses with a dotted-quad tail (§5).
 */
export function formatIPv6(buf: Uint8Array, off = 0): string {
  const w = (i: number): number => (buf[off + 2 * i] << 8) | buf[off + 2 * i + 1];
  if (w(0) === 0 && w(1) === 0 && w(2) === 0 && w(3) === 0 && w(4) === 0 && w(5) === 0xffff) {
    return `::ffff:${formatIPv4(buf, off + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w(i) !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w(j) === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  // §4.2.2: a single zero group is not shortened.
  if (bestLen < 2) bestStart = -1;
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += w(i).toString(16);
  }
  return s;
}

/** Prints a 4- or 16-byte address. */
export function formatAddress(buf: Uint8Array, off = 0, len: number = buf.length - off): string {
  if (len === 4) return formatIPv4(buf, off);
  if (len === 16) return formatIPv6(buf, off);
  throw new Error(`an IP address is 4 or 16 bytes, not ${len}`);
}

/**
 * Parses "addr/len" (or a bare address: a host prefix). Host bits set below the prefix
 * are an error, since "192.0.2.1/24" in a rule is usually a typo for a host or a network;
 * pass `{ strict: false }` to clear them instead.
 */
export function parsePrefix(text: string, opts: { strict?: boolean } = {}): Prefix {
  const slash = text.indexOf('/');
  const a = parseAddress(slash === -1 ? text : text.slice(0, slash));
  const max = a.family === 4 ? 32 : 128;
  let len = max;
  if (slash !== -1) {
    const l = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(l) || Number(l) > max) {
      throw new Error(`invalid prefix "${text}": length "${l}" must be 0-${max}`);
    }
    len = Number(l);
  }
  const bytes = a.bytes;
  let hostBits = false;
  for (let bit = len; bit < max; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if (bytes[byte] & mask) {
      hostBits = true;
      bytes[byte] &= ~mask;
    }
  }
  if (hostBits && opts.strict !== false) {
    throw new Error(`invalid prefix "${text}": host bits set (network is ${formatAddress(bytes)}/${len})`);
  }
  return { family: a.family, bytes, len };
}

/** Prints a prefix as "addr/len". */
export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.bytes)}/${p.len}`;
}

/** True when the first `prefixLen` bits of a[aOff..] and b[bOff..] are equal. No allocation. */
export function prefixMatch(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, prefixLen: number): boolean {
  const full = prefixLen >> 3;
  for (let i = 0; i < full; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  const rem = prefixLen & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (a[aOff + full] & mask) === (b[bOff + full] & mask);
}

/** True when the packet address at buf[off..off+addrLen) lies in `prefix` (same family). */
export function addressInPrefix(buf: Uint8Array, off: number, addrLen: number, prefix: Prefix): boolean {
  if (addrLen !== prefix.bytes.length) return false;
  return prefixMatch(buf, off, prefix.bytes, 0, prefix.len);
}

/** True when a[aOff..aOff+len) equals b[bOff..bOff+len). No allocation. */
export function addrEqual(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}
