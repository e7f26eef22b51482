/**
 * The cluster's keyed MAC (HMAC-SHA256 with the shared key), written once for every wire
 * format that carries it: state sync datagrams, ruleset distribution frames and handed-off
 * packets. The MAC goes straight into the caller's buffer, so an encoder that reuses its
 * output buffer allocates nothing for it but what node:crypto itself does (its HMAC context
 * and the 32-byte digest; it has no reusable context).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Bytes of the MAC. */
export const KEYED_MAC_LEN = 32;

/** The MAC of `data` under `key`, written to `out` at `offset` (KEYED_MAC_LEN bytes). */
export function writeKeyedMac(key: Uint8Array, data: Uint8Array, out: Uint8Array, offset: number): void {
  if (offset < 0 || offset + KEYED_MAC_LEN > out.length) throw new RangeError(`keyed MAC: no room at ${offset} in ${out.length} bytes`);
  out.set(createHmac('sha256', key).update(data).digest(), offset);
}

/** True when `mac` is the MAC of `data` under `key`; constant time, false for a MAC of the wrong length. */
export function keyedMacValid(key: Uint8Array, data: Uint8Array, mac: Uint8Array): boolean {
  if (mac.length !== KEYED_MAC_LEN) return false;
  return timingSafeEqual(createHmac('sha256', key).update(data).digest(), mac);
}
