/**
 * Receive-side checks of RFC 5798 §7.1, and the IPv4 envelope that a raw
 * IPPROTO_VRRP socket hands up (IPv4 raw sockets deliver the IP header; IPv6 ones do
 * not, so for IPv6 the shell supplies hop limit and addresses from ancillary data).
 */

import { IpBytes, IpFamily, ipEquals, isIpv6LinkLocal, vrrpGroup } from './ip-address.js';
import { ChecksumVariant, decode, DecodeOptions, IPPROTO_VRRP, VRRP_TTL, VrrpAdvertisement, VrrpDecodeError } from './vrrp-packet.js';

export interface Ipv4Envelope {
  src: IpBytes;
  dst: IpBytes;
  ttl: number;
  protocol: number;
  payloadOffset: number;
  payloadLength: number;
}

export type Ipv4EnvelopeError =
  | { code: 'truncated'; length: number }
  | { code: 'notIpv4'; version: number }
  | { code: 'badHeaderLength'; ihl: number }
  | { code: 'badTotalLength'; totalLength: number; length: number }
  | { code: 'fragment' };

/** Parses the IPv4 header in front of a datagram read from a raw socket. Never throws. */
export function parseIpv4Envelope(buf: Uint8Array, length = buf.length):
  { ok: true; envelope: Ipv4Envelope } | { ok: false; error: Ipv4EnvelopeError } {
  if (length < 20) return { ok: false, error: { code: 'truncated', length } };
  const version = buf[0]! >> 4;
  if (version !== 4) return { ok: false, error: { code: 'notIpv4', version } };
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < 20 || ihl > length) return { ok: false, error: { code: 'badHeaderLength', ihl } };
  const totalLength = (buf[2]! << 8) | buf[3]!;
  if (totalLength < ihl || totalLength > length) return { ok: false, error: { code: 'badTotalLength', totalLength, length } };
  // More-fragments or a fragment offset: the kernel reassembles before raw delivery,
  // so a fragment here is malformed for our purposes.
  if ((buf[6]! & 0x20) !== 0 || (((buf[6]! & 0x1f) << 8) | buf[7]!) !== 0) return { ok: false, error: { code: 'fragment' } };
  return {
    ok: true,
    envelope: {
      src: buf.subarray(12, 16),
      dst: buf.subarray(16, 20),
      ttl: buf[8]!,
      protocol: buf[9]!,
      payloadOffset: ihl,
      payloadLength: totalLength - ihl,
    },
  };
}

/** What the shell knows about the datagram besides its VRRP payload. */
export interface ReceivedDatagram {
  src: IpBytes;
  dst: IpBytes;
  /** IPv4 TTL or IPv6 hop limit as received. */
  ttl: number;
}

/** The local configuration the §7.1 checks compare against. */
export interface ReceiveExpectations {
  family: IpFamily;
  vrid: number;
  /** Local priority is 255: an owner never accepts another router's claim (§7.1). */
  localIsOwner: boolean;
  /** The virtual addresses configured for this VRID. */
  addresses: readonly IpBytes[];
  /**
   * §7.1 "MAY verify that Count IPvX Addrs and the list of IPvX Address(es) match":
   * when set, a mismatch from a non-owner is dropped. keepalived lists only the VIPs of
   * its own instance, so leave it off when peers carry a different VIP set.
   */
  checkAddresses: boolean;
  /** Unicast peers (RFC 9568 does not define them; keepalived does): accept these sources. */
  unicastPeers?: readonly IpBytes[];
  /** Our own addresses: a copy of our own advertisement looped back is ignored. */
  ownAddresses?: readonly IpBytes[];
  decode?: DecodeOptions;
}

export type VrrpReceiveError =
  | VrrpDecodeError
  | { code: 'badTtl'; ttl: number }
  | { code: 'wrongFamily' }
  | { code: 'badDestination' }
  | { code: 'sourceNotLinkLocal' }
  | { code: 'unknownPeer' }
  | { code: 'ownPacket' }
  | { code: 'wrongVrid'; vrid: number }
  | { code: 'ownerConflict' }
  | { code: 'addressMismatch' };

export type VrrpReceiveResult =
  | { ok: true; packet: VrrpAdvertisement; src: IpBytes; checksumVariant: ChecksumVariant }
  | { ok: false; error: VrrpReceiveError };

/**
 * Decodes and validates one received advertisement in the order of RFC 5798 §7.1.
 * A rejected packet is to be discarded (and SHOULD be logged, §7.1); never throws.
 */
export function receiveAdvertisement(
  payload: Uint8Array,
  dgram: ReceivedDatagram,
  exp: ReceiveExpectations,
  offset = 0,
  length = payload.length - offset,
): VrrpReceiveResult {
  const alen = exp.family === 4 ? 4 : 16;
  if (dgram.src.length !== alen || dgram.dst.length !== alen) return { ok: false, error: { code: 'wrongFamily' } };
  // §7.1: "MUST verify that the IPv4 TTL / IPv6 Hop Limit is 255": proves the sender
  // is on the link (a routed packet would have lost at least one).
  if (dgram.ttl !== VRRP_TTL) return { ok: false, error: { code: 'badTtl', ttl: dgram.ttl } };
  if (exp.ownAddresses?.some((a) => ipEquals(a, dgram.src))) return { ok: false, error: { code: 'ownPacket' } };
  const peers = exp.unicastPeers;
  if (peers && peers.length > 0) {
    if (!peers.some((p) => ipEquals(p, dgram.src))) return { ok: false, error: { code: 'unknownPeer' } };
  } else if (!ipEquals(dgram.dst, vrrpGroup(exp.family))) {
    return { ok: false, error: { code: 'badDestination' } };
  }
  // §5.1.2.1: an IPv6 advertisement's source is the interface's link-local address.
  if (exp.family === 6 && !(peers && peers.length > 0) && !isIpv6LinkLocal(dgram.src)) {
    return { ok: false, error: { code: 'sourceNotLinkLocal' } };
  }
  const d = decode(payload, dgram, offset, length, exp.decode);
  if (!d.ok) return d;
  const pkt = d.packet;
  if (pkt.vrid !== exp.vrid) return { ok: false, error: { code: 'wrongVrid', vrid: pkt.vrid } };
  // §7.1: the address owner does not let anyone else be master for its addresses.
  if (exp.localIsOwner) return { ok: false, error: { code: 'ownerConflict' } };
  if (exp.checkAddresses && pkt.priority !== 255 && !sameAddressSet(pkt.addresses, exp.addresses)) {
    return { ok: false, error: { code: 'addressMismatch' } };
  }
  return { ok: true, packet: pkt, src: dgram.src, checksumVariant: d.checksumVariant };
}

function sameAddressSet(a: readonly IpBytes[], b: readonly IpBytes[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x) => b.some((y) => ipEquals(x, y)));
}

/** A helper for the shell: IPv4 raw datagram in, validated advertisement out. */
export function receiveIpv4Datagram(buf: Uint8Array, exp: ReceiveExpectations, length = buf.length):
  VrrpReceiveResult | { ok: false; error: Ipv4EnvelopeError | { code: 'notVrrp'; protocol: number } } {
  const env = parseIpv4Envelope(buf, length);
  if (!env.ok) return env;
  const e = env.envelope;
  if (e.protocol !== IPPROTO_VRRP) return { ok: false, error: { code: 'notVrrp', protocol: e.protocol } };
  return receiveAdvertisement(buf, e, exp, e.payloadOffset, e.payloadLength);
}
