/**
 * Which interface a forwarded packet came in on and will leave by. A TUN device hides
 * both (every packet arrives on hafw0), so they are derived from the main routing table:
 * iif = the interface the route to the packet's source uses (what strict reverse-path
 * filtering assumes), oif = the interface of the route to its destination. Longest prefix
 * wins. The tables are small (a firewall has a handful of routes), so a scan over prefixes
 * sorted longest first, comparing 32-bit words, is faster than anything cleverer and
 * allocates nothing.
 */
export interface RouteEntry {
  family: 4 | 6;
  /** Network address bytes (4 or 16). */
  prefix: Uint8Array;
  /** Prefix length in bits. */
  len: number;
  /** Interface id (an InterfaceNames id). */
  ifId: number;
  /** The route's MTU (its `mtu` metric, else its device's), 0 when not known: `rt mtu`. */
  mtu?: number;
  /**
   * A blackhole / unreachable / prohibit / throw route: the kernel's lookup fails there
   * (`fib ... oif missing`). Interface inference and `rt mtu` skip it, as they always have.
   */
  reject?: boolean;
}

interface Table {
  /** words[i*4 .. i*4+3]: the masked prefix; masks likewise; ids[i]. */
  words: Uint32Array;
  masks: Uint32Array;
  ids: Int32Array;
  mtus: Int32Array;
  count: number;
}

function maskWord(len: number, word: number): number {
  const bits = Math.max(0, Math.min(32, len - word * 32));
  return bits === 0 ? 0 : bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

function build(entries: RouteEntry[], words: number): Table {
  const sorted = [...entries].sort((a, b) => b.len - a.len);
  const t: Table = { words: new Uint32Array(sorted.length * 4), masks: new Uint32Array(sorted.length * 4), ids: new Int32Array(sorted.length), mtus: new Int32Array(sorted.length), count: sorted.length };
  sorted.forEach((e, i) => {
    for (let w = 0; w < words; w++) {
      const m = maskWord(e.len, w);
      const p = e.prefix;
      const v = ((p[w * 4]! << 24) | (p[w * 4 + 1]! << 16) | (p[w * 4 + 2]! << 8) | p[w * 4 + 3]!) >>> 0;
      t.words[i * 4 + w] = (v & m) >>> 0;
      t.masks[i * 4 + w] = m;
    }
    t.ids[i] = e.ifId;
    t.mtus[i] = e.mtu ?? 0;
  });
  return t;
}

export class RouteInterfaces {
  private v4: Table = build([], 1);
  private v6: Table = build([], 4);
  /** Every route, the rejecting ones with interface 0: the fib lookup's view (`fibOif`). */
  private all4: Table = build([], 1);
  private all6: Table = build([], 4);

  load(entries: RouteEntry[]): void {
    const usable = entries.filter((e) => e.reject !== true);
    this.v4 = build(
      usable.filter((e) => e.family === 4),
      1,
    );
    this.v6 = build(
      usable.filter((e) => e.family === 6),
      4,
    );
    const all = entries.map((e) => (e.reject === true ? { ...e, ifId: 0, mtu: 0 } : e));
    this.all4 = build(
      all.filter((e) => e.family === 4),
      1,
    );
    this.all6 = build(
      all.filter((e) => e.family === 6),
      4,
    );
  }

  /** Interface id of the longest prefix covering the address at buf[off], 0 when none. */
  lookup(buf: Uint8Array, off: number, family: 4 | 6): number {
    const t = family === 4 ? this.v4 : this.v6;
    const i = find(t, buf, off, family);
    return i < 0 ? 0 : t.ids[i]!;
  }

  /** MTU of that route (RouteMtu, for `rt mtu`), 0 when none or not known. */
  mtuTo(buf: Uint8Array, off: number, family: 4 | 6): number {
    const t = family === 4 ? this.v4 : this.v6;
    const i = find(t, buf, off, family);
    return i < 0 ? 0 : t.mtus[i]!;
  }

  /**
   * The interface the main table's route to the address uses, as the kernel's fib lookup
   * answers (FibRoutes, for `fib`): 0 when no route covers it or the best one rejects
   * (blackhole, unreachable, prohibit, throw), where interface inference would fall back
   * to a shorter prefix.
   */
  fibOif(buf: Uint8Array, off: number, family: 4 | 6): number {
    const t = family === 4 ? this.all4 : this.all6;
    const i = find(t, buf, off, family);
    return i < 0 ? 0 : t.ids[i]!;
  }
}

/** Index of the longest prefix covering the address, -1 when none. */
function find(t: Table, buf: Uint8Array, off: number, family: 4 | 6): number {
  if (family === 4) {
    const a = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
    for (let i = 0; i < t.count; i++) if (((a & t.masks[i * 4]!) >>> 0) === t.words[i * 4]) return i;
    return -1;
  }
  const w0 = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const w1 = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  const w2 = ((buf[off + 8]! << 24) | (buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!) >>> 0;
  const w3 = ((buf[off + 12]! << 24) | (buf[off + 13]! << 16) | (buf[off + 14]! << 8) | buf[off + 15]!) >>> 0;
  for (let i = 0; i < t.count; i++) {
    const k = i * 4;
    if (
      ((w0 & t.masks[k]!) >>> 0) === t.words[k] &&
      ((w1 & t.masks[k + 1]!) >>> 0) === t.words[k + 1] &&
      ((w2 & t.masks[k + 2]!) >>> 0) === t.words[k + 2] &&
      ((w3 & t.masks[k + 3]!) >>> 0) === t.words[k + 3]
    )
      return i;
  }
  return -1;
}
