/** Named chain priorities (nft(8) "CHAIN PRIORITIES", netfilter hook priorities). */
export const PRIORITY_NAMES: Record<string, number> = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
};
