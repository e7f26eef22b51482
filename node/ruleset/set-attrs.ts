/**
 * Set attributes nft lists and hafw keeps: `size`, `policy`, `auto-merge`. The same
 * checks serve the text parser and the JSON reader, so both forms accept the same sets.
 */

/** nft keeps a set's size as a 32-bit unsigned count; 0 means "no size" and is not written. */
const SET_SIZE_MAX = 4294967295;
/**
 * nft's size for a set the packet path fills (`add @s`, `update @s`, a meter) when the
 * declaration gives none: the kernel's dynset sets it, and nft lists it from then on.
 */
export const DYNAMIC_SET_DEFAULT_SIZE = 65535;

export const SET_SIZE_RANGE = `an integer from 1 to ${SET_SIZE_MAX}`;

export function isSetSize(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= SET_SIZE_MAX;
}

/** The JSON form's `size`, `policy` and `auto-merge` (libnftables-json SET); null when well-formed. */
export function checkSetAttrsJson(b: Record<string, unknown>, isMap: boolean): string | null {
  if (b.size !== undefined && !isSetSize(b.size)) return `"size" must be ${SET_SIZE_RANGE}`;
  if (b.policy !== undefined && b.policy !== 'performance' && b.policy !== 'memory') return '"policy" must be "performance" or "memory"';
  if (b['auto-merge'] !== undefined && typeof b['auto-merge'] !== 'boolean') return '"auto-merge" must be true or false';
  if (b['auto-merge'] === true && isMap) return 'auto-merge applies to sets, not maps';
  return null;
}
