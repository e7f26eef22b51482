/**
 * The parsed view of one packet: offsets and decoded header fields, filled in place by
 * `parsePacket` (parse.ts) for every packet of a batch. One instance is reused for the
 * whole datapath, so parsing allocates nothing; the bytes stay where the TUN reader put
 * them and every field here either is a number or points into `buf`.
 *
 * This is the contract between the datapath and the stages it feeds (conntrack, the
 * rule engine, NAT): they read these fields and never parse headers again.
 */

/** How far parsing got. Anything but Ok means the packet is not trustworthy past `l3`. */
export const enum ParseStatus {
  Ok = 0,
  /** The buffer ends before a header (or the length a header claims) does. */
  Truncated = 1,
  /** A header is present but inconsistent: bad version, IHL < 5, total length < header... */
  Malformed = 2,
  /**
   * Not IPv4/IPv6, or an IPv6 extension header chain longer than we walk (MAX_IPV6_EXT_HEADERS
   * in parse.ts). What happens to it is a policy decision. (ESP and No Next Header end the
   * chain normally: Ok with `l4proto` = Esp / NoNext and `l4Valid` false.)
   */
  Unsupported = 3,
}

/** virtio_net_hdr.gso_type values (include/uapi/linux/virtio_net.h). */
export const enum GsoType {
  None = 0,
  TcpV4 = 1,
  Udp = 3,
  TcpV6 = 4,
  UdpL4 = 5,
  EcnFlag = 0x80,
}

/** virtio_net_hdr.flags bits. */
export const enum VnetFlags {
  NeedsCsum = 1,
  DataValid = 2,
}

export const enum IpProto {
  HopByHop = 0,
  Icmp = 1,
  Tcp = 6,
  Udp = 17,
  Routing = 43,
  Fragment = 44,
  Esp = 50,
  Ah = 51,
  Icmpv6 = 58,
  NoNext = 59,
  DestOpts = 60,
  Vrrp = 112,
  Sctp = 132,
}

export const enum TcpFlag {
  Fin = 0x01,
  Syn = 0x02,
  Rst = 0x04,
  Psh = 0x08,
  Ack = 0x10,
  Urg = 0x20,
  Ece = 0x40,
  Cwr = 0x80,
}

export class PacketInfo {
  /** The bytes; `vnetOff`, `l3Off`, `l4Off`, `srcOff`, `dstOff` index into it. */
  buf: Uint8Array = new Uint8Array(0);
  status: ParseStatus = ParseStatus.Ok;

  // --- virtio-net header (absent when vnetLen is 0) ---
  vnetOff = 0;
  vnetLen = 0;
  vnetFlags = 0;
  gsoType: number = GsoType.None;
  /** virtio header's hdr_len: bytes of headers before the payload of each segment. */
  gsoHdrLen = 0;
  /** Payload bytes per segment of a super-packet (MSS for TCP). 0 when not GSO. */
  gsoSize = 0;
  /**
   * With NeedsCsum: where the kernel starts summing (counted from the start of the packet
   * after the virtio header, i.e. from l3Off) and where, from there, it stores the result.
   */
  csumStart = 0;
  csumOffset = 0;

  // --- layer 3 ---
  /** 4, 6, or 0 when not IP. */
  family: 0 | 4 | 6 = 0;
  l3Off = 0;
  /** Bytes of L3 header including IPv6 extension headers (offset of L4 - l3Off). */
  l3HdrLen = 0;
  /**
   * End of the packet as the IP header says (may be < buf end when padded). For a GSO
   * super-packet whose length field is 0 (BIG TCP) it is the end of the buffer. For a quoted
   * packet parsed by `parseInner` it is the end of what the ICMP error quoted.
   */
  end = 0;
  /** Offsets of the source and destination address; 4 or 16 bytes long. */
  srcOff = 0;
  dstOff = 0;
  addrLen: 0 | 4 | 16 = 0;
  ttl = 0;
  /** DSCP+ECN (IPv4 TOS / IPv6 traffic class). */
  tos = 0;
  /** IPv4 identification or IPv6 fragment id (0 when not fragmented). */
  ipId = 0;
  /**
   * True for every fragment, first included. An IPv6 "atomic fragment" (fragment header
   * with offset 0 and M clear, RFC 6946) is not a fragment: isFragment stays false, ipId is set.
   */
  isFragment = false;
  /** Fragment offset in bytes; L4 fields are valid only when this is 0. */
  fragOffset = 0;
  moreFragments = false;
  /**
   * IPv6 fragments: where the fragment header starts, and where the next-header byte that
   * names it is (in the IPv6 header or the extension header before it). 0 otherwise.
   * Reassembly removes the fragment header there.
   */
  fragHdrOff = 0;
  fragNhOff = 0;

  // --- layer 4 ---
  /** Final upper-layer protocol after IPv6 extension headers (IpProto). */
  l4proto = 0;
  l4Off = 0;
  /**
   * True when the L4 header was present and complete (never for non-first fragments).
   * For a quoted packet (`parseInner`) it means the identifying fields are present: the
   * ports for TCP/UDP (4 bytes), type/code/id for ICMP (8 bytes); TCP flags, ack and window
   * are filled only when at least 20 bytes were quoted (`tcpHdrLen` is 0 otherwise).
   */
  l4Valid = false;
  sport = 0;
  dport = 0;
  /** TCP only. */
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  tcpHdrLen = 0;
  /** Offset of the TCP options (l4Off + 20) and their length. */
  tcpOptOff = 0;
  tcpOptLen = 0;
  /** ICMP / ICMPv6 only. */
  icmpType = 0;
  icmpCode = 0;
  /** Echo identifier (echo request/reply), else 0. */
  icmpId = 0;
  /** Offset of the quoted packet in an ICMP error, or 0 when not an error. */
  icmpInnerOff = 0;
  /** L4 payload bytes of this (super-)packet. */
  payloadLen = 0;

  /** Number of wire packets this one stands for: 1, or the segment count of a super-packet. */
  segments = 1;

  /** True when filled by `parseInner` (a packet quoted inside an ICMP error). */
  inner = false;

  /**
   * How far the packet may grow in `buf` (an exclusive offset: the end of its slot), for a
   * stage that changes its length (a NAT helper rewriting a payload, packet/mangle.ts). 0:
   * its length may not change (what parsePacket leaves: a reassembled datagram written back
   * into its fragments, a quote, a packet with bytes after its IP end). The batch processor
   * sets it for the slots it owns.
   */
  maxEnd = 0;
  /** Bytes a stage added (> 0) or removed (< 0) at the packet's end: its slot's length changes by that. */
  lenDelta = 0;
}
