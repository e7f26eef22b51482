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

/**
 * A chain's priority as nft 1.0.6 lists it: the name that fits the hook (`dstnat` only on
 * prerouting, `srcnat` only on postrouting, the others on every hook) when the priority is
 * within 10 of it (`filter - 5`, `dstnat + 5`), otherwise the number.
 */
export function priorityText(prio: number, hook: string | undefined): string {
  for (const [name, v] of Object.entries(PRIORITY_NAMES)) {
    if (name === 'dstnat' && hook !== 'prerouting') continue;
    if (name === 'srcnat' && hook !== 'postrouting') continue;
    const off = prio - v;
    if (off === 0) return name;
    if (off > 0 && off <= 10) return `${name} + ${off}`;
    if (off < 0 && off >= -10) return `${name} - ${-off}`;
  }
  return String(prio);
}
