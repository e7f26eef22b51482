/**
 * Replies for `reject`: the packet is dropped and the sender hears why at once, a TCP
 * reset or an ICMP / ICMPv6 destination unreachable, instead of waiting for a timeout.
 *
 * Built in one scratch buffer and written straight into the TUN device (the kernel routes
 * it back to the sender): no allocation per packet. Rate limited with a token bucket, like
 * the kernel's icmp_ratelimit / icmp_msgs_per_sec, so a flood of rejected packets cannot
 * turn the firewall into a packet amplifier.
 *
 * The reply's source is the rejected packet's destination, as Linux's nf_reject does for
 * the TCP reset: the sender's stack matches it to its socket (for ICMP errors by the quoted
 * header, RFC 1122 section 4.2.3.9 / RFC 4443 section 3.1), so connect() fails with
 * ECONNREFUSED and a UDP socket gets its error.
 */
import { IpProto, TcpFlag, type PacketInfo } from '../../packet/packet-info.js';
import { csumFold, onesSum } from '../../packet/checksum.js';
import { RejectKind } from '../../ruleset/index.js';

/** ICMP (RFC 792) and ICMPv6 (RFC 4443) destination-unreachable types and the codes icmpx maps to. */
const ICMP_UNREACH = 3;
const ICMPV6_UNREACH = 1;
const ICMPX_TO_V4 = [0 /* net */, 3 /* port */, 1 /* host */, 13 /* admin prohibited (RFC 1812) */];
const ICMPX_TO_V6 = [0 /* no route */, 4 /* port */, 3 /* address */, 1 /* administratively prohibited */];
/** RFC 1812 section 4.3.2.3: an ICMP error is at most 576 bytes; RFC 4443 section 2.4 (c): IPv6 at most 1280. */
const MAX_V4 = 576;
const MAX_V6 = 1280;
const TTL = 64;

interface RejectLimits {
  /** Replies per second (refill rate of the bucket). Default 1000, the kernel's icmp_msgs_per_sec. */
  perSecond?: number;
  /** Bucket size. Default 50, the kernel's icmp_msgs_burst. */
  burst?: number;
}

export type InjectFn = (bytes: Uint8Array, offset: number, length: number) => void;

export class RejectReplies {
  private readonly buf = new Uint8Array(12 + MAX_V6);
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last = -1;
  /** Replies written, and rejected packets that got none (rate limit or not answerable). */
  sent = 0;
  limited = 0;
  skipped = 0;

  constructor(
    private readonly inject: InjectFn,
    limits: RejectLimits = {},
  ) {
    this.rate = limits.perSecond ?? 1000;
    this.burst = limits.burst ?? 50;
    this.tokens = this.burst;
  }

  /**
   * Answers a rejected packet. `kind` and `code` are what the ruleset set (ctx.reject,
   * ctx.rejectCode). Returns the reply's length (0 when none was sent).
   */
  reply(pkt: PacketInfo, kind: RejectKind, code: number, nowMs: number): number {
    if (!answerable(pkt, kind)) {
      this.skipped++;
      return 0;
    }
    if (!this.take(nowMs)) {
      this.limited++;
      return 0;
    }
    const len = this.build(pkt, kind, code);
    if (len === 0) {
      this.skipped++;
      return 0;
    }
    this.inject(this.buf, 0, len);
    this.sent++;
    return len;
  }

  /** Builds the reply into the scratch buffer (virtio header included); returns its length. Exposed for tests. */
  build(pkt: PacketInfo, kind: RejectKind, code: number): number {
    const v6 = pkt.family === 6;
    if (kind === RejectKind.TcpReset) return this.buildReset(pkt, v6);
    if (kind === RejectKind.Icmpx) {
      if (code < 0 || code > 3) return 0;
      return this.buildUnreach(pkt, v6, v6 ? ICMPX_TO_V6[code]! : ICMPX_TO_V4[code]!);
    }
    if ((kind === RejectKind.Icmp && v6) || (kind === RejectKind.Icmpv6 && !v6)) return 0;
    return this.buildUnreach(pkt, v6, code);
  }

  get bytes(): Uint8Array {
    return this.buf;
  }

  private take(nowMs: number): boolean {
    if (this.last >= 0 && nowMs > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) * this.rate) / 1000);
    }
    this.last = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** IP header with swapped addresses at `o` (after the virtio header); returns the L4 offset. */
  private ipHeader(pkt: PacketInfo, v6: boolean, o: number, proto: number, l4Len: number): number {
    const b = this.buf;
    const src = pkt.buf;
    if (v6) {
      b[o] = 0x60;
      b[o + 1] = 0;
      b[o + 2] = 0;
      b[o + 3] = 0;
      b[o + 4] = l4Len >> 8;
      b[o + 5] = l4Len & 255;
      b[o + 6] = proto;
      b[o + 7] = TTL;
      for (let i = 0; i < 16; i++) {
        b[o + 8 + i] = src[pkt.dstOff + i]!;
        b[o + 24 + i] = src[pkt.srcOff + i]!;
      }
      return o + 40;
    }
    const total = 20 + l4Len;
    b[o] = 0x45;
    b[o + 1] = 0;
    b[o + 2] = total >> 8;
    b[o + 3] = total & 255;
    b[o + 4] = 0;
    b[o + 5] = 0;
    b[o + 6] = 0x40; // DF
    b[o + 7] = 0;
    b[o + 8] = TTL;
    b[o + 9] = proto;
    b[o + 10] = 0;
    b[o + 11] = 0;
    for (let i = 0; i < 4; i++) {
      b[o + 12 + i] = src[pkt.dstOff + i]!;
      b[o + 16 + i] = src[pkt.srcOff + i]!;
    }
    const c = ~onesSum(b, o, 20) & 0xffff;
    b[o + 10] = c >> 8;
    b[o + 11] = c & 255;
    return o + 20;
  }

  /** Sets the L4 checksum at `l4 + field` over the pseudo-header and `l4Len` bytes. */
  private l4Checksum(v6: boolean, o: number, l4: number, l4Len: number, proto: number, field: number): void {
    const b = this.buf;
    const addrOff = v6 ? o + 8 : o + 12;
    const addrLen = v6 ? 32 : 8;
    let sum = onesSum(b, addrOff, addrLen);
    sum = csumFold(sum + proto + l4Len);
    b[l4 + field] = 0;
    b[l4 + field + 1] = 0;
    const c = ~onesSum(b, l4, l4Len, sum) & 0xffff;
    b[l4 + field] = c >> 8;
    b[l4 + field + 1] = c & 255;
  }

  /** RFC 9293 section 3.10.7.1: a reset for a segment of no known connection. */
  private buildReset(pkt: PacketInfo, v6: boolean): number {
    if (pkt.l4proto !== IpProto.Tcp) return 0;
    const b = this.buf;
    const o = this.vnet(pkt);
    const l4 = this.ipHeader(pkt, v6, o, IpProto.Tcp, 20);
    const hasAck = (pkt.tcpFlags & TcpFlag.Ack) !== 0;
    // With ACK: <SEQ=SEG.ACK><CTL=RST>. Without: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>,
    // where SYN and FIN each count one.
    const seq = hasAck ? pkt.ack : 0;
    const ack = hasAck ? 0 : (pkt.seq + pkt.payloadLen + (pkt.tcpFlags & TcpFlag.Syn ? 1 : 0) + (pkt.tcpFlags & TcpFlag.Fin ? 1 : 0)) >>> 0;
    b[l4] = pkt.dport >> 8;
    b[l4 + 1] = pkt.dport & 255;
    b[l4 + 2] = pkt.sport >> 8;
    b[l4 + 3] = pkt.sport & 255;
    put32(b, l4 + 4, seq);
    put32(b, l4 + 8, ack);
    b[l4 + 12] = 5 << 4;
    b[l4 + 13] = hasAck ? TcpFlag.Rst : TcpFlag.Rst | TcpFlag.Ack;
    b[l4 + 14] = 0;
    b[l4 + 15] = 0;
    b[l4 + 18] = 0;
    b[l4 + 19] = 0;
    this.l4Checksum(v6, o, l4, 20, IpProto.Tcp, 16);
    return l4 + 20;
  }

  /** Destination unreachable quoting as much of the packet as fits (RFC 1812 4.3.2.3, RFC 4443 3.1). */
  private buildUnreach(pkt: PacketInfo, v6: boolean, code: number): number {
    const b = this.buf;
    const o = this.vnet(pkt);
    const max = (v6 ? MAX_V6 - 48 : MAX_V4 - 28);
    const quoted = Math.min(pkt.end - pkt.l3Off, max);
    const l4Len = 8 + quoted;
    const proto = v6 ? IpProto.Icmpv6 : IpProto.Icmp;
    const l4 = this.ipHeader(pkt, v6, o, proto, l4Len);
    b[l4] = v6 ? ICMPV6_UNREACH : ICMP_UNREACH;
    b[l4 + 1] = code;
    b[l4 + 2] = 0;
    b[l4 + 3] = 0;
    b[l4 + 4] = 0;
    b[l4 + 5] = 0;
    b[l4 + 6] = 0;
    b[l4 + 7] = 0;
    b.set(pkt.buf.subarray(pkt.l3Off, pkt.l3Off + quoted), l4 + 8);
    if (v6) this.l4Checksum(true, o, l4, l4Len, proto, 2);
    else {
      // ICMPv4 has no pseudo-header (RFC 792).
      const c = ~onesSum(b, l4, l4Len) & 0xffff;
      b[l4 + 2] = c >> 8;
      b[l4 + 3] = c & 255;
    }
    return l4 + l4Len;
  }

  /** A zeroed virtio header of the same length as the input's: no offload, no GSO. */
  private vnet(pkt: PacketInfo): number {
    this.buf.fill(0, 0, pkt.vnetLen);
    return pkt.vnetLen;
  }
}

/**
 * Never answer what the kernel would not (RFC 1122 section 3.2.2 / RFC 4443 section 2.4 (e)):
 * an ICMP error, a non-first fragment, a TCP reset, or a packet without usable L4 for a reset.
 */
function answerable(pkt: PacketInfo, kind: RejectKind): boolean {
  if (kind === RejectKind.None) return false;
  if (pkt.fragOffset !== 0) return false;
  if (pkt.icmpInnerOff !== 0) return false;
  if (pkt.l4proto === IpProto.Icmpv6 && pkt.l4Valid && pkt.icmpType < 128) return false;
  if (kind === RejectKind.TcpReset) return pkt.l4proto === IpProto.Tcp && pkt.l4Valid && (pkt.tcpFlags & TcpFlag.Rst) === 0;
  // Multicast and broadcast destinations get no error (RFC 1122 3.2.2, RFC 4443 2.4 (e.3)).
  const d = pkt.buf[pkt.dstOff]!;
  if (pkt.family === 4 ? d >= 224 : d === 0xff) return false;
  return true;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 255;
  b[o + 2] = (v >>> 8) & 255;
  b[o + 3] = v & 255;
}

