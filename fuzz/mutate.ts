/**
 * Mutations, all driven by one seeded PRNG so that a seed names a run: byte-level (bit
 * flips, random and "interesting" bytes, integer boundary values in both byte orders, insert,
 * delete, duplicate a range, truncate), splicing with another input, dictionary tokens, and
 * for text targets line and word operations (duplicate / delete / swap / borrow a line,
 * replace a number with a boundary value, a word with a dictionary token). Several are
 * stacked per input ("havoc"), as AFL does.
 */

type Rand = () => number;

const INTERESTING_8 = [0, 1, 0x7f, 0x80, 0xff, 0x10, 0x20, 0x40, 0x0a, 0x7b, 0x22];
const INTERESTING_INT = [
  0, 1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256, 512, 1000, 1024, 4096, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];
const INTERESTING_NUMBERS = [
  '0', '-0', '1', '-1', '255', '256', '65535', '65536', '4294967295', '4294967296', '2147483648', '9007199254740993',
  '1e309', '-1e309', '0.5', '1e-7', 'NaN', '0x', '0xffffffff', '0x100000000', '00', '99999999999999999999999',
];

export class Mutator {
  private readonly dict: Uint8Array[];
  private readonly enc = new TextEncoder();

  constructor(
    private readonly r: Rand,
    private readonly maxBytes: number,
    private readonly text: boolean,
    dictionary: readonly string[],
  ) {
    this.dict = dictionary.map((d) => this.enc.encode(d));
  }

  private int(n: number): number {
    return Math.floor(this.r() * n);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** A new input from `parent`, with `others` to splice from. */
  mutate(parent: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
    let b = parent;
    // 1 to 8 stacked mutations, fewer more often.
    const n = 1 + Math.min(7, Math.floor(-Math.log2(1 - this.r() * 0.996)));
    for (let i = 0; i < n; i++) b = this.once(b, others);
    return b.length > this.maxBytes ? b.subarray(0, this.maxBytes) : b;
  }

  private once(b: Uint8Array, others: readonly Uint8Array[]): Uint8Array {
    const ops = this.text ? 16 : 11;
    const op = this.int(ops);
    if (b.length === 0 && op < 11) return this.insert(b, this.bytesToInsert());
    switch (op) {
      case 0: { // flip a bit
        const c = b.slice();
        const at = this.int(c.length);
        c[at] ^= 1 << this.int(8);
        return c;
      }
      case 1: { // random or interesting byte
        const c = b.slice();
        c[this.int(c.length)] = this.r() < 0.5 ? this.int(256) : this.pick(INTERESTING_8);
        return c;
      }
      case 2: return this.boundaryInt(b);
      case 3: { // add or subtract a little from a byte
        const c = b.slice();
        const at = this.int(c.length);
        c[at] = (c[at]! + (this.r() < 0.5 ? 1 : -1) * (1 + this.int(16))) & 0xff;
        return c;
      }
      case 4: return this.insert(b, this.bytesToInsert());
      case 5: { // delete a range
        const at = this.int(b.length);
        const len = 1 + this.int(Math.min(b.length - at, this.r() < 0.8 ? 8 : 256));
        return concat(b.subarray(0, at), b.subarray(at + len));
      }
      case 6: { // duplicate a range somewhere
        const from = this.int(b.length);
        const len = 1 + this.int(Math.min(b.length - from, 64));
        return this.insert(b, b.slice(from, from + len));
      }
      case 7: // truncate
        return b.subarray(0, this.int(b.length + 1));
      case 8: { // splice: the start of this one, the end of another
        const o = this.pick(others);
        if (o.length === 0) return b;
        return concat(b.subarray(0, this.int(b.length + 1)), o.subarray(this.int(o.length)));
      }
      case 9: { // overwrite with a range of another input
        const o = this.pick(others);
        if (o.length === 0) return b;
        const from = this.int(o.length);
        const piece = o.subarray(from, from + 1 + this.int(Math.min(o.length - from, 32)));
        const c = b.slice();
        const at = this.int(c.length);
        c.set(piece.subarray(0, c.length - at), at);
        return c;
      }
      case 10: { // a dictionary token, inserted or overwriting
        if (this.dict.length === 0) return this.insert(b, this.bytesToInsert());
        const t = this.pick(this.dict);
        if (this.r() < 0.5) return this.insert(b, t);
        const c = b.slice();
        const at = this.int(c.length);
        c.set(t.subarray(0, c.length - at), at);
        return c;
      }
      default: return this.textOp(b, others, op - 11);
    }
  }

  private bytesToInsert(): Uint8Array {
    const t = this.r();
    if (t < 0.3 && this.dict.length > 0) return this.pick(this.dict);
    const len = t < 0.9 ? 1 + this.int(8) : 1 + this.int(512);
    const out = new Uint8Array(len);
    const fill = this.r() < 0.3 ? this.int(256) : -1;
    for (let i = 0; i < len; i++) out[i] = fill >= 0 ? fill : this.text ? 0x20 + this.int(95) : this.int(256);
    return out;
  }

  private insert(b: Uint8Array, piece: Uint8Array): Uint8Array {
    const at = this.int(b.length + 1);
    return concat(b.subarray(0, at), piece, b.subarray(at));
  }

  /** An integer boundary value (or the value there +- 1) as 1, 2 or 4 bytes, big- or little-endian. */
  private boundaryInt(b: Uint8Array): Uint8Array {
    const size = this.pick([1, 2, 2, 4, 4]);
    if (b.length < size) return b;
    const c = b.slice();
    const at = this.int(c.length - size + 1);
    const v = c.length >= at + 4 ? new DataView(c.buffer, c.byteOffset, c.byteLength) : undefined;
    let x = this.pick(INTERESTING_INT);
    const roll = this.r();
    if (roll < 0.2) x += 1;
    else if (roll < 0.4) x -= 1;
    else if (roll < 0.5 && v) x = v.getUint32(at) + (this.r() < 0.5 ? 1 : -1); // the field's own value, off by one
    x >>>= 0;
    const le = this.r() < 0.3;
    for (let i = 0; i < size; i++) {
      const byte = (x >>> (8 * i)) & 0xff;
      c[le ? at + i : at + size - 1 - i] = byte;
    }
    return c;
  }

  private textOp(b: Uint8Array, others: readonly Uint8Array[], op: number): Uint8Array {
    const lines = splitLines(b);
    switch (op) {
      case 0: { // duplicate a line (or a run of lines)
        const i = this.int(lines.length);
        const n = 1 + this.int(Math.min(lines.length - i, 4));
        const copies = this.r() < 0.1 ? 2 + this.int(30) : 1;
        const run: Uint8Array[] = [];
        for (let k = 0; k < copies; k++) run.push(...lines.slice(i, i + n));
        lines.splice(i, 0, ...run);
        return joinLines(lines);
      }
      case 1: // delete a line
        lines.splice(this.int(lines.length), 1);
        return joinLines(lines);
      case 2: { // swap two lines
        const i = this.int(lines.length);
        const j = this.int(lines.length);
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        return joinLines(lines);
      }
      case 3: { // a line from another input
        const o = splitLines(this.pick(others));
        lines.splice(this.int(lines.length + 1), 0, this.pick(o));
        return joinLines(lines);
      }
      default: return this.replaceToken(b);
    }
  }

  /** Replaces a number with a boundary value, or a word with a dictionary token. */
  private replaceToken(b: Uint8Array): Uint8Array {
    const s = new TextDecoder().decode(b);
    const tokens = [...s.matchAll(/[0-9]+(?:\.[0-9]+)*|[A-Za-z_][A-Za-z0-9_-]*/g)];
    if (tokens.length === 0) return this.insert(b, this.bytesToInsert());
    const m = this.pick(tokens);
    const isNum = /^[0-9]/.test(m[0]);
    const by = isNum && this.r() < 0.7 ? this.pick(INTERESTING_NUMBERS) : this.dict.length > 0 ? new TextDecoder().decode(this.pick(this.dict)) : m[0];
    return this.enc.encode(s.slice(0, m.index) + by + s.slice(m.index! + m[0].length));
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function splitLines(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a) {
      out.push(b.subarray(start, i));
      start = i + 1;
    }
  }
  out.push(b.subarray(start));
  return out;
}

function joinLines(lines: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  lines.forEach((l, i) => {
    if (i > 0) parts.push(NEWLINE);
    parts.push(l);
  });
  return concat(...parts);
}

const NEWLINE = new Uint8Array([0x0a]);

/** Words of the seeds (identifiers, keywords) as extra dictionary entries for text targets. */
export function wordsOf(seeds: readonly Uint8Array[], max = 400): string[] {
  const seen = new Set<string>();
  const dec = new TextDecoder();
  for (const s of seeds) {
    for (const m of dec.decode(s).matchAll(/[A-Za-z_][A-Za-z0-9_-]{1,30}|[{}()[\]$@:;,."'/=*&!|<>-]/g)) {
      seen.add(m[0]);
      if (seen.size >= max) return [...seen];
    }
  }
  return [...seen];
}
