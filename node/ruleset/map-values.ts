/**
 * Map data that does not fit the one 32-bit word a set structure keeps per element (an
 * `ipv4_addr . inet_service` NAT target, an IPv6 address), and address data: the element
 * keeps a number that names its value here. Values are interned by their JSON text, so the table grows with
 * the distinct data values an engine has seen, not with changes; an id means the same
 * value for the engine's lifetime, so compiled statements may cache what they derive.
 */
import type { Value } from './ast.js';

export class MapValues {
  private readonly ids = new Map<string, number>();
  private readonly values: Value[] = [];

  intern(v: Value): number {
    const k = JSON.stringify(v);
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(v);
      this.ids.set(k, id);
    }
    return id;
  }

  get(id: number): Value | undefined {
    return this.values[id];
  }
}

/**
 * Does a map of these data types keep its data here (not in the element's word)? Anything
 * wider than a word, and addresses (NAT targets, which the NAT statement reads by value).
 */
export function dataInterned(types: readonly { words: number; prefix?: boolean }[]): boolean {
  return types.length !== 1 || types[0]!.words !== 1 || types[0]!.prefix === true;
}
