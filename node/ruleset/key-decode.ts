/**
 * Key words back to values, for listing the elements the packet path added to a dynamic
 * set (they exist only as key words: no transaction wrote their text). Only types whose
 * words say everything about the value are accepted as dynamic keys.
 */
import type { Value } from './ast.js';
import type { DataType } from './data-types.js';
import { formatIPv6 } from '../packet/address.js';

const bytes16 = new Uint8Array(16);

/** Why elements of this type cannot be added from the packet path, or null when they can. */
export function dynamicKeyRefusal(t: DataType): string | null {
  if (t.name === 'ipv4_addr' || t.name === 'ipv6_addr') return null;
  // Integers list as their number (symbolic types print names from it); the others
  // (interface names, times of day, dates) would not list back as they were matched.
  if (t.words === 1 && /^(0x)?[0-9a-f]+$/.test(t.toText(7))) return null;
  return `elements of type ${t.name} cannot be added from the packet path (hafw lists such elements from their key words, which a ${t.name} does not fit): use another key`;
}

function word(t: DataType, w: Uint32Array, off: number): Value {
  if (t.name === 'ipv4_addr') {
    const n = w[off];
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  if (t.name === 'ipv6_addr') {
    for (let i = 0; i < 4; i++) {
      const x = w[off + i];
      bytes16[4 * i] = x >>> 24;
      bytes16[4 * i + 1] = (x >>> 16) & 255;
      bytes16[4 * i + 2] = (x >>> 8) & 255;
      bytes16[4 * i + 3] = x & 255;
    }
    return formatIPv6(bytes16);
  }
  return w[off];
}

/** The value of a key of these types (a concatenation for several) at w[off..]. */
export function decodeKey(types: readonly DataType[], w: Uint32Array, off: number): Value {
  if (types.length === 1) return word(types[0], w, off);
  const parts: Value[] = [];
  let o = off;
  for (const t of types) {
    parts.push(word(t, w, o));
    o += t.words;
  }
  return { concat: parts };
}
