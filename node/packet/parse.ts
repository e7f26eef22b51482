/**
 * Parsing a packet in place into the reused `PacketInfo`.
 *
 * Per-packet code: no allocation (no objects, closures or strings), only index arithmetic
 * on the bytes the TUN reader left in the batch buffer. Every read is bounds-checked
 * against the packet's own range, so bad input is classified (Truncated / Malformed /
 * Unsupported), never thrown, and nothing outside [off, off+len) is ever read.
 */
import { GsoType, IpProto, PacketInfo, ParseStatus } from './packet-info.js';

/**
 * The most IPv6 extension headers we walk before giving up (Unsupported). RFC 8200 §4.1
 * recommends each header appear at most once (Destination Options twice), so a legitimate
 * chain has at most 6; a longer one is either an attack on parsers or something we cannot
 * judge anyway.
 */
export const MAX_IPV6_EXT_HEADERS = 8;

/** Smallest virtio_net_hdr (struct virtio_net_hdr, include/uapi/linux/virtio_net.h). */
export const VNET_HDR_MIN_LEN = 10;

/** IPv4 flags/fragment-offset field bits (RFC 791 §3.1). */
const IPV4_MF = 0x2000;
const IPV4_FRAG_MASK = 0x1fff;

/** Sets every field to its "nothing parsed" value without allocating. */
function reset(info: PacketInfo, buf: Uint8Array): void {
  info.buf = buf;
  info.status = ParseStatus.Ok;
  info.vnetOff = 0;
  info.vnetLen = 0;
  info.vnetFlags = 0;
  info.gsoType = GsoType.None;
  info.gsoHdrLen = 0;
  info.gsoSize = 0;
  info.csumStart = 0;
  info.csumOffset = 0;
  info.family = 0;
  info.l3Off = 0;
  info.l3HdrLen = 0;
  info.end = 0;
  info.srcOff = 0;
  info.dstOff = 0;
  info.addrLen = 0;
  info.ttl = 0;
  info.tos = 0;
  info.ipId = 0;
  info.isFragment = false;
  info.fragOffset = 0;
  info.moreFragments = false;
  info.fragHdrOff = 0;
  info.fragNhOff = 0;
  info.l4proto = 0;
  info.l4Off = 0;
  info.l4Valid = false;
  info.sport = 0;
  info.dport = 0;
  info.tcpFlags = 0;
  info.seq = 0;
  info.ack = 0;
  info.window = 0;
  info.tcpHdrLen = 0;
  info.tcpOptOff = 0;
  info.tcpOptLen = 0;
  info.icmpType = 0;
  info.icmpCode = 0;
  info.icmpId = 0;
  info.icmpInnerOff = 0;
  info.payloadLen = 0;
  info.segments = 1;
  info.inner = false;
  info.maxEnd = 0;
  info.lenDelta = 0;
}

function u16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** virtio_net_hdr fields are little-endian (virtio 1.0; x86/arm64 native order for tun). */
function u16le(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8);
}

function finish(info: PacketInfo, status: ParseStatus): ParseStatus {
  info.status = status;
  return status;
}

/**
 * Parses the packet at buf[off, off+len) that starts with a virtio_net_hdr of `vnetHdrLen`
 * bytes (0 when the device has none; 10, or 12 with mergeable buffers). Fills `info`
 * (including `info.status`) and returns the status.
 */
export function parsePacket(
  info: PacketInfo,
  buf: Uint8Array,
  off: number,
  len: number,
  vnetHdrLen: number,
): ParseStatus {
  reset(info, buf);
  if (!(off >= 0) || !(len >= 0)) return finish(info, ParseStatus.Truncated);
  let limit = off + len;
  if (limit > buf.length) limit = buf.length;
  info.vnetOff = off;
  info.vnetLen = vnetHdrLen;
  let gso = GsoType.None as number;
  if (vnetHdrLen > 0) {
    if (vnetHdrLen < VNET_HDR_MIN_LEN) return finish(info, ParseStatus.Malformed);
    if (off + vnetHdrLen > limit) return finish(info, ParseStatus.Truncated);
    info.vnetFlags = buf[off];
    info.gsoType = buf[off + 1];
    info.gsoHdrLen = u16le(buf, off + 2);
    info.gsoSize = u16le(buf, off + 4);
    info.csumStart = u16le(buf, off + 6);
    info.csumOffset = u16le(buf, off + 8);
    gso = info.gsoType & ~GsoType.EcnFlag;
  }
  const status = parseL3(info, buf, off + vnetHdrLen, limit, false, gso);
  if (status !== ParseStatus.Ok) return finish(info, status);
  if (gso !== GsoType.None) {
    // A super-packet must be what its GSO type says; otherwise the segment count (and
    // anything the kernel does when it segments it) is meaningless.
    const tcpOk =
      (gso === GsoType.TcpV4 && info.family === 4) || (gso === GsoType.TcpV6 && info.family === 6);
    const udpOk = (gso === GsoType.Udp || gso === GsoType.UdpL4) && info.l4proto === IpProto.Udp;
    if ((!tcpOk && !udpOk) || (tcpOk && info.l4proto !== IpProto.Tcp) || info.gsoSize === 0) {
      return finish(info, ParseStatus.Malformed);
    }
    if (info.l4Valid && info.payloadLen > info.gsoSize) {
      info.segments = Math.ceil(info.payloadLen / info.gsoSize);
    }
  }
  return finish(info, ParseStatus.Ok);
}

/**
 * Parses the IP packet quoted inside an ICMP error, at buf[off, end) (typically
 * `outer.icmpInnerOff` .. `outer.end`), into a second PacketInfo. Quotes are truncated by
 * design (RFC 792: IP header + 8 bytes; RFC 4443 §2.4(c): as much as fits in 1280), so the
 * lengths in the quoted headers may exceed what is there: `end` is clamped to the quote,
 * and TCP/UDP ports are read as soon as 4 bytes of L4 are present.
 */
export function parseInner(info: PacketInfo, buf: Uint8Array, off: number, end: number): ParseStatus {
  reset(info, buf);
  info.inner = true;
  if (!(off >= 0) || !(end >= off)) return finish(info, ParseStatus.Truncated);
  const limit = end > buf.length ? buf.length : end;
  info.vnetOff = off;
  return finish(info, parseL3(info, buf, off, limit, true, GsoType.None));
}

function parseL3(
  info: PacketInfo,
  buf: Uint8Array,
  l3: number,
  limit: number,
  inner: boolean,
  gso: number,
): ParseStatus {
  info.l3Off = l3;
  if (l3 >= limit) return ParseStatus.Truncated;
  const version = buf[l3] >> 4;
  if (version === 4) return parseIpv4(info, buf, l3, limit, inner, gso);
  if (version === 6) return parseIpv6(info, buf, l3, limit, inner, gso);
  return ParseStatus.Unsupported;
}

function parseIpv4(
  info: PacketInfo,
  buf: Uint8Array,
  l3: number,
  limit: number,
  inner: boolean,
  gso: number,
): ParseStatus {
  info.family = 4;
  if (l3 + 20 > limit) return ParseStatus.Truncated;
  const ihl = (buf[l3] & 0x0f) << 2;
  if (ihl < 20) return ParseStatus.Malformed;
  if (l3 + ihl > limit) return ParseStatus.Truncated;
  const totLen = u16(buf, l3 + 2);
  let end: number;
  if (totLen === 0 && gso !== GsoType.None) {
    // IPv4 BIG TCP (Linux >= 6.3) hands out super-packets over 64 KB with tot_len 0;
    // otherwise tun gives tot_len = the whole super-packet. Either way the buffer is the truth.
    end = limit;
  } else {
    if (totLen < ihl) return ParseStatus.Malformed;
    end = l3 + totLen;
    if (end > limit) {
      if (!inner) return ParseStatus.Truncated;
      end = limit;
    }
  }
  info.end = end;
  info.tos = buf[l3 + 1];
  info.ipId = u16(buf, l3 + 4);
  const frag = u16(buf, l3 + 6);
  info.fragOffset = (frag & IPV4_FRAG_MASK) << 3;
  info.moreFragments = (frag & IPV4_MF) !== 0;
  info.isFragment = info.moreFragments || info.fragOffset !== 0;
  info.ttl = buf[l3 + 8];
  info.srcOff = l3 + 12;
  info.dstOff = l3 + 16;
  info.addrLen = 4;
  info.l3HdrLen = ihl;
  const proto = buf[l3 + 9];
  info.l4proto = proto;
  info.l4Off = l3 + ihl;
  if (info.fragOffset !== 0) {
    // Non-first fragment: what follows is the middle of the L4 payload (RFC 791 §2.3).
    info.payloadLen = end - info.l4Off;
    return ParseStatus.Ok;
  }
  return parseL4(info, buf, l3 + ihl, end, proto, inner);
}

function parseIpv6(
  info: PacketInfo,
  buf: Uint8Array,
  l3: number,
  limit: number,
  inner: boolean,
  gso: number,
): ParseStatus {
  info.family = 6;
  if (l3 + 40 > limit) return ParseStatus.Truncated;
  info.tos = ((buf[l3] & 0x0f) << 4) | (buf[l3 + 1] >> 4);
  const payLen = u16(buf, l3 + 4);
  let nh = buf[l3 + 6];
  info.ttl = buf[l3 + 7];
  info.srcOff = l3 + 8;
  info.dstOff = l3 + 24;
  info.addrLen = 16;
  let end: number;
  if (payLen === 0 && gso !== GsoType.None) {
    // IPv6 BIG TCP super-packets carry payload length 0 (RFC 2675 jumbo style); the buffer
    // length is the truth.
    end = limit;
  } else {
    end = l3 + 40 + payLen;
    if (end > limit) {
      if (!inner) return ParseStatus.Truncated;
      end = limit;
    }
  }
  info.end = end;
  let p = l3 + 40;
  let nhOff = l3 + 6;
  let count = 0;
  // RFC 8200 §4: walk the extension headers the same way Linux's ipv6_skip_exthdr does
  // (hop-by-hop, routing, fragment, destination options, AH); anything else ends the chain.
  for (;;) {
    if (
      nh !== IpProto.HopByHop &&
      nh !== IpProto.Routing &&
      nh !== IpProto.DestOpts &&
      nh !== IpProto.Fragment &&
      nh !== IpProto.Ah
    ) {
      break;
    }
    if (++count > MAX_IPV6_EXT_HEADERS) return ParseStatus.Unsupported;
    // RFC 8200 §4.3: Hop-by-Hop Options only immediately after the IPv6 header.
    if (nh === IpProto.HopByHop && count !== 1) return ParseStatus.Malformed;
    if (nh === IpProto.Fragment) {
      if (p + 8 > end) return ParseStatus.Truncated;
      const next = buf[p];
      const fo = u16(buf, p + 2);
      const fragOffset = fo & 0xfff8;
      const more = (fo & 1) !== 0;
      info.ipId = u32(buf, p + 4);
      info.fragHdrOff = p;
      info.fragNhOff = nhOff;
      nhOff = p;
      p += 8;
      nh = next;
      if (fragOffset !== 0 || more) {
        // RFC 6946: an atomic fragment (offset 0, M clear) is processed as a whole packet.
        info.isFragment = true;
        info.fragOffset = fragOffset;
        info.moreFragments = more;
      }
      if (fragOffset !== 0) {
        // Headers after the fragment header belong to the fragmentable part, which in a
        // non-first fragment is somewhere in the middle (RFC 8200 §4.5).
        info.l3HdrLen = p - l3;
        info.l4proto = nh;
        info.l4Off = p;
        info.payloadLen = end - p;
        return ParseStatus.Ok;
      }
      continue;
    }
    if (p + 2 > end) return ParseStatus.Truncated;
    // AH counts its length in 4-byte units minus 2 (RFC 4302 §2.2); the others in 8-byte
    // units not counting the first 8 (RFC 8200 §4.3-4.6).
    const hlen = nh === IpProto.Ah ? (buf[p + 1] + 2) << 2 : (buf[p + 1] + 1) << 3;
    if (p + hlen > end) return ParseStatus.Truncated;
    nh = buf[p];
    nhOff = p;
    p += hlen;
  }
  info.l3HdrLen = p - l3;
  info.l4proto = nh;
  info.l4Off = p;
  return parseL4(info, buf, p, end, nh, inner);
}

function isIcmpv4Error(type: number): boolean {
  // RFC 792 / RFC 1812 §4.3.2: destination unreachable, source quench, redirect, time
  // exceeded, parameter problem.
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

function isIcmpv4Query(type: number): boolean {
  // Echo, timestamp, information, address mask: request/reply pairs with an identifier
  // at offset 4 (the ones Linux conntrack tracks).
  return type === 0 || type === 8 || (type >= 13 && type <= 18);
}

function parseL4(
  info: PacketInfo,
  buf: Uint8Array,
  p: number,
  end: number,
  proto: number,
  inner: boolean,
): ParseStatus {
  const avail = end - p;
  if (proto === IpProto.Tcp) {
    if (inner) {
      if (avail < 4) return ParseStatus.Truncated;
      info.sport = u16(buf, p);
      info.dport = u16(buf, p + 2);
      info.l4Valid = true;
      if (avail >= 8) info.seq = u32(buf, p + 4);
      if (avail < 20) return ParseStatus.Ok;
    } else if (avail < 20) {
      return ParseStatus.Truncated;
    }
    const doff = (buf[p + 12] >> 4) << 2;
    if (doff < 20) return ParseStatus.Malformed;
    if (doff > avail && !inner) return ParseStatus.Truncated;
    info.sport = u16(buf, p);
    info.dport = u16(buf, p + 2);
    info.seq = u32(buf, p + 4);
    info.ack = u32(buf, p + 8);
    info.tcpFlags = buf[p + 13];
    info.window = u16(buf, p + 14);
    info.tcpHdrLen = doff;
    info.tcpOptOff = p + 20;
    // A quote may cut the options short; expose only what is there.
    info.tcpOptLen = (doff > avail ? avail : doff) - 20;
    info.payloadLen = doff > avail ? 0 : avail - doff;
    info.l4Valid = true;
    return ParseStatus.Ok;
  }
  if (proto === IpProto.Udp) {
    if (inner) {
      if (avail < 4) return ParseStatus.Truncated;
      info.sport = u16(buf, p);
      info.dport = u16(buf, p + 2);
      info.payloadLen = avail > 8 ? avail - 8 : 0;
      info.l4Valid = true;
      return ParseStatus.Ok;
    }
    if (avail < 8) return ParseStatus.Truncated;
    const ulen = u16(buf, p + 4);
    info.sport = u16(buf, p);
    info.dport = u16(buf, p + 2);
    if (info.gsoType !== GsoType.None || info.isFragment) {
      // UDP GSO super-packets and first fragments: the UDP length describes something else
      // (one segment, or the whole datagram), the IP length is what this buffer holds.
      info.payloadLen = avail - 8;
    } else {
      // RFC 768: length includes the header. Shorter than the IP payload is legal (Linux
      // trims the tail); longer means the datagram was cut.
      if (ulen < 8) return ParseStatus.Malformed;
      if (ulen > avail) return ParseStatus.Truncated;
      info.payloadLen = ulen - 8;
    }
    info.l4Valid = true;
    return ParseStatus.Ok;
  }
  if ((proto === IpProto.Icmp && info.family === 4) || (proto === IpProto.Icmpv6 && info.family === 6)) {
    if (avail < 8) return ParseStatus.Truncated;
    const type = buf[p];
    info.icmpType = type;
    info.icmpCode = buf[p + 1];
    if (info.family === 4) {
      if (isIcmpv4Query(type)) info.icmpId = u16(buf, p + 4);
      else if (isIcmpv4Error(type)) info.icmpInnerOff = p + 8;
    } else {
      // RFC 4443 §2.1: types 0-127 are errors; 128/129 are echo request/reply.
      if (type < 128) info.icmpInnerOff = p + 8;
      else if (type === 128 || type === 129) info.icmpId = u16(buf, p + 4);
    }
    info.payloadLen = avail - 8;
    info.l4Valid = true;
    return ParseStatus.Ok;
  }
  if (proto === IpProto.Sctp) {
    // RFC 9260 section 3.1: ports first, as in TCP/UDP, in a 12-byte common header. Only the
    // ports are read (for `sctp sport|dport` and `th`); a shorter one stays unknown (no
    // ports), as before, rather than becoming an error. A quote needs only the ports.
    if (avail >= (inner ? 4 : 12)) {
      info.sport = u16(buf, p);
      info.dport = u16(buf, p + 2);
      info.l4Valid = true;
    }
    info.payloadLen = avail;
    return ParseStatus.Ok;
  }
  // Some other upper layer (ESP, No Next Header, VRRP, GRE...): known by number only.
  info.payloadLen = avail;
  return ParseStatus.Ok;
}
