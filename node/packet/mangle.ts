/**
 * Replacing bytes of a TCP segment's payload with text of another length (what a NAT helper
 * does to an FTP PORT command: Linux's nf_nat_mangle_tcp_packet), in place in the packet's
 * buffer: what follows moves, the IP length field, the IPv4 header checksum and the TCP
 * checksum (or, under virtio NeedsCsum, the partial pseudo-header sum) follow, updated by
 * the difference (RFC 1624) so that an error the segment came with is kept, not hidden.
 *
 * The packet may grow only up to `PacketInfo.maxEnd` (the end of its slot); 0 there means
 * its length may not change (a reassembled datagram, whose fragments are written back as
 * they came). Length fields that do not describe the packet (a BIG TCP super-packet's 0,
 * an IPv6 jumbogram) are not rewritten either: the caller is told, nothing is touched.
 */
import { csumApplyDiff, csumFold, csumUpdate16, isPartialChecksum, onesSum, sumApplyDiff } from './checksum.js';
import { IpProto, type PacketInfo } from './packet-info.js';

export const enum MangleResult {
  Ok = 0,
  /** Not a whole TCP segment with a payload there (a quote, the range outside the payload). */
  NotTcp = 1,
  /** The length must change and cannot: no room in the slot, or a length field we do not own. */
  NoRoom = 2,
}

function read16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}

/** Whether the packet's IP length field says exactly where it ends (so it can be rewritten). */
function lengthFieldExact(pkt: PacketInfo): boolean {
  const b = pkt.buf;
  if (pkt.family === 4) return read16(b, pkt.l3Off + 2) === pkt.end - pkt.l3Off;
  return read16(b, pkt.l3Off + 4) === pkt.end - pkt.l3Off - 40;
}

/**
 * Replaces payload bytes buf[off, off+oldLen) of the TCP segment `pkt` with
 * text[0, textLen). The range must lie inside the payload. On Ok the packet's `end`,
 * `payloadLen`, `segments` and `lenDelta` follow the change.
 */
export function manglePayload(pkt: PacketInfo, off: number, oldLen: number, text: Uint8Array, textLen: number): MangleResult {
  if (pkt.inner || pkt.l4proto !== IpProto.Tcp || !pkt.l4Valid || pkt.isFragment) return MangleResult.NotTcp;
  const payOff = pkt.l4Off + pkt.tcpHdrLen;
  if (off < payOff || oldLen < 0 || off + oldLen > pkt.end || textLen < 0 || textLen > text.length) return MangleResult.NotTcp;
  const delta = textLen - oldLen;
  const buf = pkt.buf;
  const oldEnd = pkt.end;
  const oldL4Len = oldEnd - pkt.l4Off;
  if (delta !== 0) {
    if (pkt.maxEnd === 0 || oldEnd + delta > pkt.maxEnd || pkt.maxEnd > buf.length || !lengthFieldExact(pkt)) return MangleResult.NoRoom;
    if (oldEnd + delta - pkt.l3Off - (pkt.family === 4 ? 0 : 40) > 0xffff) return MangleResult.NoRoom;
  }
  // The checksums are updated, not computed afresh, so a segment that arrived damaged (with
  // conntrack.checksum off nothing summed it) still fails at its receiver. The changed
  // bytes run from `off` to the end (what follows moves when the length changes); their sum
  // is taken from an even distance from the TCP header, before and after.
  const from = off - ((off - pkt.l4Off) & 1);
  const oldSum = onesSum(buf, from, oldEnd - from, 0);
  if (delta !== 0) buf.copyWithin(off + textLen, off + oldLen, oldEnd);
  for (let i = 0; i < textLen; i++) buf[off + i] = text[i]!;
  const newEnd = oldEnd + delta;
  const newSum = onesSum(buf, from, newEnd - from, 0);
  const newL4Len = newEnd - pkt.l4Off;
  const c = pkt.l4Off + 16;
  const check = read16(buf, c);
  let field: number;
  if (isPartialChecksum(pkt)) {
    // NeedsCsum: the field is the pseudo-header sum, which holds only the length.
    field = sumApplyDiff(check, csumFold((~oldL4Len & 0xffff) + newL4Len));
  } else {
    field = csumApplyDiff(check, csumFold((~oldSum & 0xffff) + newSum + (~oldL4Len & 0xffff) + newL4Len));
  }
  buf[c] = field >> 8;
  buf[c + 1] = field & 0xff;
  if (delta !== 0) {
    const f = pkt.l3Off + (pkt.family === 4 ? 2 : 4);
    const oldIpLen = read16(buf, f);
    const ipLen = oldIpLen + delta;
    buf[f] = ipLen >> 8;
    buf[f + 1] = ipLen & 0xff;
    if (pkt.family === 4) {
      const h = pkt.l3Off + 10;
      const n = csumUpdate16(read16(buf, h), oldIpLen, ipLen);
      buf[h] = n >> 8;
      buf[h + 1] = n & 0xff;
    }
    pkt.end = newEnd;
    pkt.payloadLen += delta;
    pkt.lenDelta += delta;
    if (pkt.gsoSize > 0) pkt.segments = pkt.payloadLen > pkt.gsoSize ? Math.ceil(pkt.payloadLen / pkt.gsoSize) : 1;
  }
  return MangleResult.Ok;
}
