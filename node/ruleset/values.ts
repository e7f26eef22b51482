/**
 * Values -> key words. Every right-hand value and set element becomes an inclusive
 * interval [lo, hi] of key words (an exact value is lo == hi, a prefix is the range it
 * covers), which is all the compiler and the set structures need. Validation uses the
 * same conversion, so what validates is exactly what compiles.
 */
import type { Value } from './ast.js';
import type { DataType, EncodeEnv } from './data-types.js';

export interface KeyInterval {
  lo: Uint32Array;
  hi: Uint32Array;
}

function keyWords(types: DataType[]): number {
  let w = 0;
  for (let i = 0; i < types.length; i++) w += types[i].words; // indexed: no iterator per value
  return w;
}

/** Writes one part of a key. Returns an error message or null. */
function part(v: Value, t: DataType, lo: Uint32Array, hi: Uint32Array, off: number, env: EncodeEnv): string | null {
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') {
    if (typeof v === 'string' && v.startsWith('@')) return `a set reference (${v}) cannot be used here`;
    if (t.interval) return t.interval(v, lo, hi, off, env);
    const e = t.encode(v, lo, off, env);
    if (e) return e;
    for (let i = 0; i < t.words; i++) hi[off + i] = lo[off + i];
    return null;
  }
  if (Array.isArray(v)) {
    // a flag list: the OR of its bits (only meaningful for flag types)
    if (!t.bitmask) return `a list of values needs a flag type, ${t.name} is not one (use { a, b } for a set)`;
    let bits = 0;
    for (const x of v) {
      const e = t.encode(x as number | string, lo, off, env);
      if (e) return e;
      bits |= lo[off];
    }
    lo[off] = hi[off] = bits >>> 0;
    return null;
  }
  if (v === null || typeof v !== 'object') return `invalid value ${JSON.stringify(v)}`;
  if ('prefix' in v) {
    if (!t.prefix) return `${t.name} does not take a prefix`;
    const { addr, len } = v.prefix;
    const e = t.encode(addr, lo, off, env);
    if (e) return e;
    if (!Number.isInteger(len) || len < 0 || len > t.bits) return `invalid prefix length /${len} for ${t.name}`;
    for (let i = 0; i < t.words; i++) {
      const bitsHere = Math.max(0, Math.min(32, len - 32 * i));
      const mask = bitsHere === 0 ? 0 : bitsHere === 32 ? 0xffffffff : (0xffffffff << (32 - bitsHere)) >>> 0;
      const w = lo[off + i];
      if ((w & ~mask) >>> 0 !== 0) return `${addr}/${len} has host bits set (did you mean the network address?)`;
      lo[off + i] = (w & mask) >>> 0;
      hi[off + i] = (w | ~mask) >>> 0;
    }
    return null;
  }
  if ('range' in v) {
    if (!t.ordered) return `${t.name} does not take a range`;
    const tmp = new Uint32Array(t.words);
    const a = new Uint32Array(t.words);
    const b = new Uint32Array(t.words);
    const s1 = part(v.range[0], t, a, tmp, 0, env);
    if (s1) return s1;
    const s2 = part(v.range[1], t, b, tmp, 0, env);
    if (s2) return s2;
    for (let i = 0; i < t.words; i++) {
      if (a[i] !== b[i]) {
        if (a[i] > b[i]) return `range ${JSON.stringify(v.range[0])}-${JSON.stringify(v.range[1])} is reversed`;
        break;
      }
    }
    lo.set(a, off);
    hi.set(b, off);
    return null;
  }
  if ('elem' in v) return part(v.elem.val, t, lo, hi, off, env);
  return `invalid value ${JSON.stringify(v)} for ${t.name}`;
}

/** Converts a (possibly concatenated) value to a key interval, or returns an error message. */
export function toInterval(v: Value, types: DataType[], env: EncodeEnv): KeyInterval | string {
  const w = keyWords(types);
  const lo = new Uint32Array(w);
  const hi = new Uint32Array(w);
  const e = intervalInto(v, types, env, lo, hi);
  return e ?? { lo, hi };
}

/**
 * toInterval into caller-owned words (at least keyWords(types) long): validation and the
 * compiler convert every value of a 10,000-rule load, and two fresh arrays per value were
 * a large share of the load's garbage.
 */
export function intervalInto(v: Value, types: DataType[], env: EncodeEnv, lo: Uint32Array, hi: Uint32Array): string | null {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'elem' in v) v = v.elem.val;
  if (types.length === 1) return part(v, types[0], lo, hi, 0, env);
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !('concat' in v)) {
    return `expected a concatenation ${types.map((t) => t.name).join(' . ')}`;
  }
  if (v.concat.length !== types.length) return `expected ${types.length} parts (${types.map((t) => t.name).join(' . ')}), got ${v.concat.length}`;
  let off = 0;
  for (let i = 0; i < types.length; i++) {
    const e = part(v.concat[i], types[i], lo, hi, off, env);
    if (e) return e;
    off += types[i].words;
  }
  return null;
}

/** Scratch words for checks that only need the verdict of a conversion (grown on demand). */
let scratchLo = new Uint32Array(8);
let scratchHi = new Uint32Array(8);

/** Checks one value (no set) against key types without keeping the words. */
function checkOne(v: Value, types: DataType[], env: EncodeEnv): string | null {
  const w = keyWords(types);
  if (w > scratchLo.length) {
    scratchLo = new Uint32Array(w);
    scratchHi = new Uint32Array(w);
  }
  return intervalInto(v, types, env, scratchLo, scratchHi);
}

/** Elements of a value: a set's items, or the value itself. */
export function elementsOf(v: Value): Value[] {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'set' in v) return v.set as Value[];
  return [v];
}

/** Checks a value (or every element of an anonymous set) against key types. */
export function checkValue(v: Value, types: DataType[], env: EncodeEnv): string | null {
  if (types.length === 1 && (typeof v === 'number' || typeof v === 'string')) {
    // One scalar of one type (most values): what part() does for it, without the layers
    // between (a load checks 10,000s of them while the code is still cold).
    if (typeof v === 'string' && v.charCodeAt(0) === 64) return `a set reference (${v}) cannot be used here`;
    return types[0].encode(v, scratchLo, 0, env);
  }
  if (v === null || typeof v !== 'object' || !('set' in v)) {
    // The common case, one value: no element list to build.
    if (Array.isArray(v) && v.length === 2 && !(types.length === 1 && types[0].bitmask)) {
      return 'map elements ([key, data]) are not allowed here';
    }
    return checkOne(v, types, env);
  }
  for (const e of elementsOf(v)) {
    if (Array.isArray(e) && e.length === 2 && !(types.length === 1 && types[0].bitmask)) {
      return 'map elements ([key, data]) are not allowed here';
    }
    const r = checkOne(e, types, env);
    if (r) return r;
  }
  return null;
}

