/**
 * Flags of the NAT statements (nftables `snat to ... random | fully-random | persistent`,
 * NF_NAT_RANGE_* in the kernel). Bits, so a request carries them in one number.
 */
export const enum NatFlags {
  None = 0,
  /**
   * `random`: never keep the original port; start the search at the keyed-hash offset
   * (RFC 6056 §3.3.3). Without it the original port is kept when free, as Linux does.
   */
  Random = 1,
  /** `fully-random`: never keep the original port; start at a pseudo-random offset. */
  FullyRandom = 2,
  /**
   * `persistent`: with an address range, a client gets the same public address for every
   * destination (the address hash ignores the destination).
   */
  Persistent = 4,
}
