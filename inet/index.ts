/**
 * The inet library: the small protocol primitives (sequence arithmetic, anti-replay window,
 * seeded PRNG, HalfSipHash, the cluster's keyed MAC) that several top-level folders need. It is a leaf: it imports
 * nothing from the project, so sync-protocol/, failover/, ruleset-dist/ and node/ may all
 * import it without depending on one another.
 */
export { seqAdd, seqDiff, seqLe, seqLt, seqRangeInverted } from './serial.js';
export { ReplayVerdict, ReplayWindow } from './replay-window.js';
export { Rng, rng } from './rng.js';
export { halfSipHash13Key10, halfSipHashWords } from './halfsiphash.js';
export { csumFold, onesSum, pseudoHeaderSum } from './checksum.js';
export {
  type IpFamily, type ParsedAddress, type Prefix,
  addrEqual, addressInPrefix, formatAddress, formatIPv4, formatIPv6, formatPrefix,
  parseAddress, parseIPv4, parseIPv6, parsePrefix, prefixMatch,
} from './address.js';
export { bitClear, bitSet, bitTest, ctz, maskFrom, maskTo } from './bitmap.js';
export { KEYED_MAC_LEN, keyedMacValid, writeKeyedMac } from './keyed-mac.js';
