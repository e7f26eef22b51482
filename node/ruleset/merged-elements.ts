/**
 * An `auto-merge` set's elements as nft lists them: overlapping and adjacent intervals
 * joined (`1000-2000, 1500-2500` lists as `1000-2500`, `192.0.2.0/28, 192.0.2.16/28` as
 * `192.0.2.0/27`), each printed as a single value, a prefix when it is one, or a range.
 * The set keeps the elements as added (they are what a later `delete element` names);
 * only the listing merges, as the kernel's copy is merged in nft.
 */
import type { Value } from './ast.js';
import type { DataType, EncodeEnv } from './data-types.js';
import { formatAddress } from '../../inet/address.js';
import { InterfaceNames } from './interface-names.js';
import { toInterval } from './values.js';

const ENV: EncodeEnv = { ifnames: new InterfaceNames() };

function toBig(words: Uint32Array, n: number): bigint {
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 32n) | BigInt(words[i]!);
  return v;
}

/**
 * The merged elements, as values to print, or undefined when the set cannot be merged
 * this way (a concatenation, element options, a type without order or prefix).
 */
export function mergedElements(items: readonly Value[], t: DataType): Value[] | undefined {
  if (!t.ordered) return undefined;
  const spans: [bigint, bigint][] = [];
  for (const v of items) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'elem' in v) return undefined;
    const k = toInterval(v, [t], ENV);
    if (typeof k === 'string') return undefined;
    spans.push([toBig(k.lo, t.words), toBig(k.hi, t.words)]);
  }
  spans.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last !== undefined && s[0] <= last[1] + 1n) {
      if (s[1] > last[1]) last[1] = s[1];
    } else merged.push([s[0], s[1]]);
  }
  return merged.map(([lo, hi]) => spanValue(lo, hi, t));
}

function scalarOf(v: bigint, t: DataType): string | number {
  if (!t.prefix) return Number(v);
  const bytes = t.bits / 8;
  const buf = new Uint8Array(bytes);
  for (let i = bytes - 1, x = v; i >= 0; i--, x >>= 8n) buf[i] = Number(x & 0xffn);
  return formatAddress(buf, 0, bytes);
}

function spanValue(lo: bigint, hi: bigint, t: DataType): Value {
  if (lo === hi) return scalarOf(lo, t);
  if (t.prefix) {
    // A prefix: the span is a power of two long and starts on a multiple of it.
    const size = hi - lo + 1n;
    if ((size & (size - 1n)) === 0n && lo % size === 0n) {
      const len = t.bits - (size.toString(2).length - 1);
      return { prefix: { addr: String(scalarOf(lo, t)), len } };
    }
  }
  return { range: [scalarOf(lo, t), scalarOf(hi, t)] };
}
