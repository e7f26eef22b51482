/** Named chain priorities (nft(8) "CHAIN PRIORITIES", netfilter hook priorities). */
export const PRIORITY_NAMES: Record<string, number> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};

/** nft keeps a chain's priority as a 32-bit signed integer. */
const PRIORITY_MIN = -2147483648;
const PRIORITY_MAX = 2147483647;
export const PRIORITY_RANGE = `an integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}`;

export function isPriority(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= PRIORITY_MIN && (v as number) <= PRIORITY_MAX;
}
