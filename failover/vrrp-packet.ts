/**
 * VRRPv3 advertisement codec (RFC 5798 §5, unchanged in RFC 9568 §5): plain functions
 * over buffers, no sockets. The IP layer (protocol 112, TTL / hop limit 255) is the
 * shell's job; this module needs only the pseudo-header addresses for the checksum.
 *
 *    0                   1                   2                   3
 *   |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
 *   |(rsvd) |     Max Adver Int     |          Checksum             |
 *   |                    IPvX Address(es) ...                       |
 */

import { onesSum, pseudoHeaderSum } from '../inet/index.js';
import { IpBytes, IpFamily, vrrpGroup } from './ip-address.js';

export const IPPROTO_VRRP = 112;
const VRRP_VERSION = 3;
const VRRP_TYPE_ADVERTISEMENT = 1;
const VRRP_HEADER_LENGTH = 8;
/** RFC 5798 §5.1.1.3 / §5.1.2.3: advertisements MUST be sent and received with 255. */
export const VRRP_TTL = 255;
/** The Max Adver Int field is 12 bits of centiseconds (§5.2.7). */
export const MAX_ADVER_INT_CS = 0x0fff;

export interface VrrpAdvertisement {
  family: IpFamily;
  vrid: number;
  /** 0 = master resigning (§5.2.4), 1-254 backup, 255 address owner. */
  priority: number;
  /** Centiseconds, 1..4095 (§5.2.7). */
  maxAdverIntervalCs: number;
  addresses: IpBytes[];
}

/**
 * How the checksum is computed. RFC 5798 §5.2.8 says "the entire VRRP message ... and
 * a pseudo-header as defined in Section 8.1 of [RFC2460]", which implementations read
 * two ways for IPv4:
 * - 'pseudoHeader' (our default): IPv4 pseudo-header (src, dst, 0, 112, length) as for
 *   UDP. keepalived has always done this (Debian 12 ships 2.2.7) and so does FRR by
 *   default; Wireshark and tcpdump verify it this way.
 * - 'noPseudoHeader': the message alone, as VRRPv2 did: Cisco's reading, keepalived
 *   >= 2.2.8 with `v3_checksum_as_v2`, FRR without `checksum-with-ipv4-pseudoheader`.
 *   RFC 9568 (which obsoletes 5798) is reported to settle IPv4 this way (keepalived
 *   issue #2324, FRR issue #14024), so expect peers to move to it over time.
 * - 'multicastDestination': older keepalived put 224.0.0.18 / ff02::12 in the
 *   pseudo-header even when sending unicast (keepalived issue #642, PR #929); newer
 *   keepalived still does for peers configured with `old_unicast_checksum`. Identical
 *   to 'pseudoHeader' for multicast advertisements.
 * - 'unverified' (receive only, opt-in): accept any checksum. A diagnosis aid for
 *   peers with broken checksums (keepalived 2.2.8's notes report wrong VRRPv3 checksums
 *   from GCC 11/12 LTO builds); never a default.
 */
export type ChecksumVariant = 'pseudoHeader' | 'noPseudoHeader' | 'multicastDestination' | 'unverified';

export interface ChecksumContext {
  /** IP source and destination addresses of the datagram (pseudo-header). */
  src: IpBytes;
  dst: IpBytes;
}

export type VrrpDecodeError =
  | { code: 'truncated'; length: number; needed: number }
  | { code: 'badVersion'; version: number }
  | { code: 'badType'; type: number }
  | { code: 'badLength'; length: number; expected: number }
  | { code: 'badAddressCount'; count: number }
  | { code: 'badInterval'; intervalCs: number }
  | { code: 'badFamily'; srcLength: number; dstLength: number }
  | { code: 'badChecksum'; checksum: number; expected: number };

export type VrrpDecodeResult =
  | { ok: true; packet: VrrpAdvertisement; checksumVariant: ChecksumVariant }
  | { ok: false; error: VrrpDecodeError };

function addressLength(family: IpFamily): number {
  return family === 4 ? 4 : 16;
}

export function encodingLength(packet: Pick<VrrpAdvertisement, 'family' | 'addresses'>): number {
  return VRRP_HEADER_LENGTH + packet.addresses.length * addressLength(packet.family);
}

/**
 * Checksum of the VRRP message in buf[offset, offset+length) with the checksum field
 * taken as zero, for the given variant.
 */
export function computeChecksum(
  buf: Uint8Array,
  offset: number,
  length: number,
  ctx: ChecksumContext,
  variant: ChecksumVariant = 'pseudoHeader',
): number {
  let sum = 0;
  if (variant !== 'noPseudoHeader') {
    const dst = variant === 'multicastDestination' ? vrrpGroup(ctx.src.length === 4 ? 4 : 6) : ctx.dst;
    sum = pseudoHeaderSum(ctx.src, 0, dst, 0, ctx.src.length, IPPROTO_VRRP, length);
  }
  sum = onesSum(buf, offset, 6, sum); // skip the checksum field itself
  sum = onesSum(buf, offset + 8, length > 8 ? length - 8 : 0, sum);
  return ~sum & 0xffff;
}

/**
 * Writes the advertisement into buf at offset (allocating when buf is omitted) and
 * returns the bytes written as a view. Throws only on caller bugs (field out of range,
 * buffer too small): these are our own values, not input from the wire.
 */
export function encode(
  packet: VrrpAdvertisement,
  ctx: ChecksumContext,
  buf?: Uint8Array,
  offset = 0,
  variant: ChecksumVariant = 'pseudoHeader',
): Uint8Array {
  const len = encodingLength(packet);
  if (!Number.isInteger(packet.vrid) || packet.vrid < 1 || packet.vrid > 255) throw new RangeError(`VRID ${packet.vrid} not in 1..255`);
  if (!Number.isInteger(packet.priority) || packet.priority < 0 || packet.priority > 255) throw new RangeError(`priority ${packet.priority} not in 0..255`);
  const iv = packet.maxAdverIntervalCs;
  if (!Number.isInteger(iv) || iv < 1 || iv > MAX_ADVER_INT_CS) throw new RangeError(`interval ${iv} cs not in 1..4095`);
  if (packet.addresses.length < 1 || packet.addresses.length > 255) throw new RangeError('1..255 addresses required');
  const alen = addressLength(packet.family);
  if (ctx.src.length !== alen || ctx.dst.length !== alen) throw new RangeError('pseudo-header family mismatch');
  if (variant === 'unverified') throw new RangeError("'unverified' is a receive-only checksum variant");
  const out = buf ?? new Uint8Array(offset + len);
  if (out.length < offset + len) throw new RangeError('buffer too small');
  out[offset] = (VRRP_VERSION << 4) | VRRP_TYPE_ADVERTISEMENT;
  out[offset + 1] = packet.vrid;
  out[offset + 2] = packet.priority;
  out[offset + 3] = packet.addresses.length;
  out[offset + 4] = (iv >> 8) & 0x0f; // the 4 reserved bits are sent as zero (§5.2.6)
  out[offset + 5] = iv & 0xff;
  let p = offset + VRRP_HEADER_LENGTH;
  for (const a of packet.addresses) {
    if (a.length !== alen) throw new RangeError('address family mismatch');
    out.set(a, p);
    p += alen;
  }
  const ck = computeChecksum(out, offset, len, ctx, variant);
  out[offset + 6] = ck >> 8;
  out[offset + 7] = ck & 0xff;
  return out.subarray(offset, offset + len);
}

export interface DecodeOptions {
  /**
   * Checksum variants accepted, tried in order; the first that matches is reported so
   * the shell can log a peer that is not RFC-conformant. Default: ['pseudoHeader'].
   */
  acceptChecksums?: readonly ChecksumVariant[];
}

/**
 * Decodes the VRRP message buf[offset, offset+length) (the IP payload). Never throws:
 * malformed input yields a typed error. The family comes from the pseudo-header
 * addresses (RFC 5798 §5: backups infer the family from the IP version).
 */
export function decode(
  buf: Uint8Array,
  ctx: ChecksumContext,
  offset = 0,
  length = buf.length - offset,
  opts: DecodeOptions = {},
): VrrpDecodeResult {
  if (ctx.src.length !== ctx.dst.length || (ctx.src.length !== 4 && ctx.src.length !== 16)) {
    return { ok: false, error: { code: 'badFamily', srcLength: ctx.src.length, dstLength: ctx.dst.length } };
  }
  if (offset < 0 || length < 0 || offset + length > buf.length) {
    return { ok: false, error: { code: 'truncated', length: Math.max(0, buf.length - offset), needed: length } };
  }
  if (length < VRRP_HEADER_LENGTH) return { ok: false, error: { code: 'truncated', length, needed: VRRP_HEADER_LENGTH } };
  const version = buf[offset]! >> 4;
  if (version !== VRRP_VERSION) return { ok: false, error: { code: 'badVersion', version } };
  const type = buf[offset]! & 0x0f;
  if (type !== VRRP_TYPE_ADVERTISEMENT) return { ok: false, error: { code: 'badType', type } };
  const count = buf[offset + 3]!;
  if (count === 0) return { ok: false, error: { code: 'badAddressCount', count } };
  const family: IpFamily = ctx.src.length === 4 ? 4 : 6;
  const alen = addressLength(family);
  const expected = VRRP_HEADER_LENGTH + count * alen;
  if (length < expected) return { ok: false, error: { code: 'truncated', length, needed: expected } };
  if (length !== expected) return { ok: false, error: { code: 'badLength', length, expected } };
  const intervalCs = ((buf[offset + 4]! & 0x0f) << 8) | buf[offset + 5]!;
  if (intervalCs === 0) return { ok: false, error: { code: 'badInterval', intervalCs } };
  const got = (buf[offset + 6]! << 8) | buf[offset + 7]!;
  const variants = opts.acceptChecksums ?? DEFAULT_ACCEPT;
  let matched: ChecksumVariant | undefined;
  let firstExpected = -1;
  for (const v of variants) {
    if (v === 'unverified') { matched = v; break; }
    const want = computeChecksum(buf, offset, length, ctx, v);
    if (firstExpected < 0) firstExpected = want;
    if (want === got) { matched = v; break; }
  }
  if (!matched) return { ok: false, error: { code: 'badChecksum', checksum: got, expected: firstExpected } };
  const addresses: IpBytes[] = [];
  for (let i = 0, p = offset + VRRP_HEADER_LENGTH; i < count; i++, p += alen) addresses.push(buf.slice(p, p + alen));
  return {
    ok: true,
    packet: { family, vrid: buf[offset + 1]!, priority: buf[offset + 2]!, maxAdverIntervalCs: intervalCs, addresses },
    checksumVariant: matched,
  };
}

const DEFAULT_ACCEPT: readonly ChecksumVariant[] = ['pseudoHeader'];
