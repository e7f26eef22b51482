/**
 * Packet builders for tests (conntrack, rule engine, replay, lab): IPv4/IPv6 with TCP,
 * UDP, ICMP/ICMPv6 echo and errors, IPv6 extension headers, fragments, and an optional
 * virtio-net header (checksum offload and GSO), all with correct checksums. Not for the
 * hot path: every call allocates its result.
 */
import { parseAddress } from './address.js';
import { setIpv4HeaderChecksum, setL4Checksum } from './checksum.js';
import { GsoType, IpProto, PacketInfo, ParseStatus, TcpFlag, VnetFlags } from './packet-info.js';
import { parseInner, parsePacket } from './parse.js';

/** Explicit virtio_net_hdr contents; any field left out is 0. */
export interface VnetHeader {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
  /** Header length: 10 (default) or 12 (with num_buffers). */
  len?: number;
}

export type Ipv6ExtHeader =
  | { type: 'hop' | 'dst' | 'routing'; /** Body bytes after the 2-byte next/length; padded to 8n+6. */ body?: Uint8Array }
  | { type: 'fragment'; offset?: number; more?: boolean; id?: number }
  | { type: 'ah'; /** ICV bytes (multiple of 4; 12 for HMAC-SHA1-96). */ icvLen?: number; spi?: number; seq?: number };

export interface IpOptions {
  src: string;
  dst: string;
  ttl?: number;
  /** DSCP+ECN / traffic class. */
  tos?: number;
  /** IPv4 identification (default 0). */
  ipId?: number;
  /** IPv4 don't-fragment (default true, as Linux sets it with PMTU discovery). */
  df?: boolean;
  flowLabel?: number;
  /** IPv4 options (padded to a multiple of 4 with End-of-Options). */
  ipOptions?: Uint8Array;
  /** IPv6 extension headers, in order, before the upper layer. */
  ext?: Ipv6ExtHeader[];
  /**
   * Prepend a virtio-net header: `true` for an all-zero one, or explicit fields. With
   * `gso` or `partialCsum` the right fields are filled in automatically.
   */
  vnet?: boolean | VnetHeader;
  /** Make a GSO super-packet with this segment size (TCP only; implies `partialCsum`). */
  gso?: number;
  /** NeedsCsum: the L4 checksum field holds the pseudo-header sum (implies a vnet header). */
  partialCsum?: boolean;
}

export interface RawIpOptions extends IpOptions {
  proto: number;
  /** The upper-layer bytes, taken as they are (no checksum is computed). */
  payload: Uint8Array;
  /** IPv4 fragment fields (offset in bytes, multiple of 8). For IPv6 use an ext header. */
  fragment?: { offset: number; more: boolean };
}

export type Payload = Uint8Array | string | number;

export interface TcpOptions extends IpOptions {
  sport: number;
  dport: number;
  /** Letters F S R P A U E C (e.g. 'S', 'SA', 'FA', 'PA'), or the flag bits. Default 'A'. */
  flags?: string | number;
  seq?: number;
  ack?: number;
  window?: number;
  urg?: number;
  mss?: number;
  wscale?: number;
  sackPerm?: boolean;
  /** TSval and TSecr. */
  timestamp?: [number, number];
  /** Raw option bytes appended after the ones above (padded to 4). */
  options?: Uint8Array;
  /** Bytes, text (UTF-8), or a length filled with a counting pattern. */
  payload?: Payload;
}

export interface UdpOptions extends IpOptions {
  sport: number;
  dport: number;
  payload?: Payload;
  /** Send UDP-over-IPv4 with checksum 0 ("none", RFC 768). */
  noChecksum?: boolean;
}

export interface IcmpEchoOptions extends IpOptions {
  reply?: boolean;
  id: number;
  seq?: number;
  payload?: Payload;
}

export interface IcmpErrorOptions extends IpOptions {
  /** ICMP type (e.g. 3 unreachable, 11 time exceeded; ICMPv6 1, 2, 3, 4). */
  type: number;
  code?: number;
  /** The 32-bit field after the checksum: unused, MTU (v4 low 16 bits / v6), pointer... */
  rest?: number;
  /** The offending packet (without a virtio header). */
  quote: Uint8Array;
  /** Quote only this many bytes (default: RFC 1812 §4.3.2.3 / RFC 4443 §2.4(c) maxima). */
  quoteLen?: number;
}

const encoder = new TextEncoder();

function payloadBytes(p: Payload | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  if (typeof p === 'string') return encoder.encode(p);
  if (typeof p === 'number') {
    const b = new Uint8Array(p);
    for (let i = 0; i < p; i++) b[i] = i & 0xff;
    return b;
  }
  return p;
}

/** TCP flag letters to bits. */
export function tcpFlagBits(flags: string | number): number {
  if (typeof flags === 'number') return flags;
  let v = 0;
  for (const c of flags.toUpperCase()) {
    const bit = { F: TcpFlag.Fin, S: TcpFlag.Syn, R: TcpFlag.Rst, P: TcpFlag.Psh, A: TcpFlag.Ack, U: TcpFlag.Urg, E: TcpFlag.Ece, C: TcpFlag.Cwr }[c];
    if (bit === undefined) throw new Error(`unknown TCP flag letter "${c}" in "${flags}" (use FSRPAUEC)`);
    v |= bit;
  }
  return v;
}

function w16(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >> 8) & 0xff;
  b[i + 1] = v & 0xff;
}

function w32(b: Uint8Array, i: number, v: number): void {
  b[i] = (v >>> 24) & 0xff;
  b[i + 1] = (v >>> 16) & 0xff;
  b[i + 2] = (v >>> 8) & 0xff;
  b[i + 3] = v & 0xff;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function extHeaderBytes(h: Ipv6ExtHeader, next: number): { proto: number; bytes: Uint8Array } {
  if (h.type === 'fragment') {
    const b = new Uint8Array(8);
    b[0] = next;
    const off = h.offset ?? 0;
    if (off % 8 !== 0) throw new Error(`IPv6 fragment offset ${off} is not a multiple of 8`);
    w16(b, 2, off | (h.more ? 1 : 0));
    w32(b, 4, h.id ?? 0);
    return { proto: IpProto.Fragment, bytes: b };
  }
  if (h.type === 'ah') {
    const icv = h.icvLen ?? 12;
    const total = 12 + icv;
    if (total % 8 !== 0) throw new Error(`AH length ${total} is not a multiple of 8 (IPv6, RFC 4302 §3.3.3.2.1)`);
    const b = new Uint8Array(total);
    b[0] = next;
    b[1] = total / 4 - 2;
    w32(b, 4, h.spi ?? 0x100);
    w32(b, 8, h.seq ?? 1);
    return { proto: IpProto.Ah, bytes: b };
  }
  const body = h.body ?? new Uint8Array(0);
  const total = Math.ceil((body.length + 2) / 8) * 8;
  const b = new Uint8Array(total);
  b[0] = next;
  b[1] = total / 8 - 1;
  b.set(body, 2);
  // Options headers: pad with PadN (RFC 8200 §4.2) so the options area stays well formed.
  const pad = total - 2 - body.length;
  if (h.type !== 'routing' && pad > 0) {
    if (pad === 1) b[2 + body.length] = 0; // Pad1
    else {
      b[2 + body.length] = 1;
      b[3 + body.length] = pad - 2;
    }
  }
  const proto = h.type === 'hop' ? IpProto.HopByHop : h.type === 'dst' ? IpProto.DestOpts : IpProto.Routing;
  return { proto, bytes: b };
}

function vnetBytes(o: IpOptions): Uint8Array | null {
  if (!o.vnet && !o.gso && !o.partialCsum) return null;
  const v: VnetHeader = typeof o.vnet === 'object' ? o.vnet : {};
  const b = new Uint8Array(v.len ?? 10);
  b[0] = v.flags ?? 0;
  b[1] = v.gsoType ?? 0;
  const le16 = (i: number, x: number): void => {
    b[i] = x & 0xff;
    b[i + 1] = (x >> 8) & 0xff;
  };
  le16(2, v.hdrLen ?? 0);
  le16(4, v.gsoSize ?? 0);
  le16(6, v.csumStart ?? 0);
  le16(8, v.csumOffset ?? 0);
  return b;
}

/**
 * Builds an IP packet around `payload` as given (no L4 checksum is computed: use it for
 * fragments of a datagram built whole, or for other protocols). The IPv4 header
 * checksum is always right.
 */
export function buildIp(o: RawIpOptions): Uint8Array {
  return assemble(o).pkt;
}

interface Assembled {
  pkt: Uint8Array;
  family: 4 | 6;
  vlen: number;
  l3HdrLen: number;
}

function assemble(o: RawIpOptions): Assembled {
  const s = parseAddress(o.src);
  const d = parseAddress(o.dst);
  if (s.family !== d.family) throw new Error(`source ${o.src} and destination ${o.dst} are different families`);
  const vnet = vnetBytes(o);
  const vlen = vnet ? vnet.length : 0;
  let l3: Uint8Array;
  if (s.family === 4) {
    if (o.ext && o.ext.length) throw new Error('extension headers are IPv6 only');
    const opt = o.ipOptions ?? new Uint8Array(0);
    const ihl = 20 + Math.ceil(opt.length / 4) * 4;
    if (ihl > 60) throw new Error(`IPv4 options too long (${opt.length} bytes, at most 40)`);
    l3 = new Uint8Array(ihl);
    l3[0] = 0x40 | (ihl >> 2);
    l3[1] = o.tos ?? 0;
    const tot = ihl + o.payload.length;
    // Super-packets over 64 KB get tot_len 0, as Linux BIG TCP does.
    w16(l3, 2, tot > 0xffff ? 0 : tot);
    w16(l3, 4, o.ipId ?? 0);
    const fr = o.fragment;
    if (fr && fr.offset % 8 !== 0) throw new Error(`IPv4 fragment offset ${fr.offset} is not a multiple of 8`);
    w16(l3, 6, (o.df !== false && !fr ? 0x4000 : 0) | (fr?.more ? 0x2000 : 0) | ((fr?.offset ?? 0) >> 3));
    l3[8] = o.ttl ?? 64;
    l3[9] = o.proto;
    l3.set(s.bytes, 12);
    l3.set(d.bytes, 16);
    l3.set(opt, 20);
  } else {
    if (o.fragment) throw new Error('IPv6 fragments are built with an ext header { type: "fragment" }');
    const exts = o.ext ?? [];
    const parts: Uint8Array[] = [];
    let next = o.proto;
    for (let i = exts.length - 1; i >= 0; i--) {
      const e = extHeaderBytes(exts[i], next);
      parts.unshift(e.bytes);
      next = e.proto;
    }
    const extBytes = concat(parts);
    const base = new Uint8Array(40);
    const tc = o.tos ?? 0;
    const fl = o.flowLabel ?? 0;
    w32(base, 0, ((6 << 28) | (tc << 20) | (fl & 0xfffff)) >>> 0);
    const plen = extBytes.length + o.payload.length;
    w16(base, 4, plen > 0xffff ? 0 : plen);
    base[6] = next;
    base[7] = o.ttl ?? 64;
    base.set(s.bytes, 8);
    base.set(d.bytes, 24);
    l3 = concat([base, extBytes]);
  }
  const out = new Uint8Array(vlen + l3.length + o.payload.length);
  if (vnet) out.set(vnet, 0);
  out.set(l3, vlen);
  out.set(o.payload, vlen + l3.length);
  if (s.family === 4) {
    const info = new PacketInfo();
    info.buf = out;
    info.family = 4;
    info.l3Off = vlen;
    info.l3HdrLen = l3.length;
    setIpv4HeaderChecksum(info);
  }
  return { pkt: out, family: s.family, vlen, l3HdrLen: l3.length };
}

/**
 * Builds the packet with `l4` as upper layer, fills the offload fields of the virtio header
 * when asked (`gso`, `partialCsum`), and computes the L4 checksum (or partial sum).
 */
function finishL4(o: IpOptions, proto: number, l4: Uint8Array, csumFieldOff: number, udpNoCsum = false): Uint8Array {
  const partial = o.partialCsum === true || o.gso !== undefined;
  let vnetOpt = o.vnet;
  if (partial) {
    const v: VnetHeader = typeof o.vnet === 'object' ? { ...o.vnet } : {};
    v.flags = (v.flags ?? 0) | VnetFlags.NeedsCsum;
    v.csumOffset = csumFieldOff;
    vnetOpt = v;
  }
  const { pkt, family, vlen, l3HdrLen } = assemble({ ...o, vnet: vnetOpt, proto, payload: l4 });
  // Offsets are known from the layout, so deliberately odd packets (for parser tests)
  // still get their checksums right.
  const info = new PacketInfo();
  info.buf = pkt;
  info.family = family;
  info.l3Off = vlen;
  info.l3HdrLen = l3HdrLen;
  info.addrLen = family === 4 ? 4 : 16;
  info.srcOff = vlen + (family === 4 ? 12 : 8);
  info.dstOff = vlen + (family === 4 ? 16 : 24);
  info.l4proto = proto;
  info.l4Off = vlen + l3HdrLen;
  info.end = pkt.length;
  if (partial) {
    info.vnetFlags = VnetFlags.NeedsCsum;
    const rel = l3HdrLen;
    pkt[6] = rel & 0xff;
    pkt[7] = rel >> 8;
    if (o.gso !== undefined) {
      if (proto !== IpProto.Tcp) throw new Error('gso is for TCP packets');
      const hdr = rel + ((l4[12] >> 4) << 2);
      pkt[1] = family === 4 ? GsoType.TcpV4 : GsoType.TcpV6;
      pkt[2] = hdr & 0xff;
      pkt[3] = hdr >> 8;
      pkt[4] = o.gso & 0xff;
      pkt[5] = o.gso >> 8;
    }
  }
  if (!udpNoCsum) setL4Checksum(info);
  return pkt;
}

function tcpOptionBytes(o: TcpOptions): Uint8Array {
  const opts: number[] = [];
  if (o.mss !== undefined) opts.push(2, 4, (o.mss >> 8) & 0xff, o.mss & 0xff);
  if (o.sackPerm) opts.push(4, 2);
  if (o.timestamp) {
    const [v, e] = o.timestamp;
    opts.push(8, 10, (v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
    opts.push((e >>> 24) & 0xff, (e >>> 16) & 0xff, (e >>> 8) & 0xff, e & 0xff);
  }
  if (o.wscale !== undefined) opts.push(1, 3, 3, o.wscale);
  if (o.options) opts.push(...o.options);
  while (opts.length % 4 !== 0) opts.push(0);
  if (opts.length > 40) throw new Error(`TCP options too long (${opts.length} bytes, at most 40)`);
  return Uint8Array.from(opts);
}

/** A TCP segment. Defaults: flags 'A', seq/ack 0, window 65535, no options, no payload. */
export function buildTcp(o: TcpOptions): Uint8Array {
  const opts = tcpOptionBytes(o);
  const data = payloadBytes(o.payload);
  const hl = 20 + opts.length;
  const l4 = new Uint8Array(hl + data.length);
  w16(l4, 0, o.sport);
  w16(l4, 2, o.dport);
  w32(l4, 4, o.seq ?? 0);
  w32(l4, 8, o.ack ?? 0);
  l4[12] = (hl >> 2) << 4;
  l4[13] = tcpFlagBits(o.flags ?? 'A');
  w16(l4, 14, o.window ?? 65535);
  w16(l4, 18, o.urg ?? 0);
  l4.set(opts, 20);
  l4.set(data, hl);
  return finishL4(o, IpProto.Tcp, l4, 16);
}

/** A UDP datagram. */
export function buildUdp(o: UdpOptions): Uint8Array {
  const data = payloadBytes(o.payload);
  const l4 = new Uint8Array(8 + data.length);
  w16(l4, 0, o.sport);
  w16(l4, 2, o.dport);
  w16(l4, 4, l4.length > 0xffff ? 0 : l4.length);
  l4.set(data, 8);
  return finishL4(o, IpProto.Udp, l4, 6, o.noChecksum === true && !o.src.includes(':'));
}

/** An ICMP (IPv4) or ICMPv6 echo request / reply. */
export function buildIcmpEcho(o: IcmpEchoOptions): Uint8Array {
  const v6 = o.src.includes(':');
  const data = payloadBytes(o.payload);
  const l4 = new Uint8Array(8 + data.length);
  l4[0] = v6 ? (o.reply ? 129 : 128) : o.reply ? 0 : 8;
  w16(l4, 4, o.id);
  w16(l4, 6, o.seq ?? 0);
  l4.set(data, 8);
  return finishL4(o, v6 ? IpProto.Icmpv6 : IpProto.Icmp, l4, 2);
}

/** An ICMP / ICMPv6 error quoting `quote` (truncated to what a router would send). */
export function buildIcmpError(o: IcmpErrorOptions): Uint8Array {
  const v6 = o.src.includes(':');
  // IPv4: RFC 1812 §4.3.2.3 allows up to 576 bytes in all; IPv6: RFC 4443 §2.4(c) 1280.
  const max = v6 ? 1280 - 48 : 576 - 28;
  const n = Math.min(o.quote.length, o.quoteLen ?? max);
  const l4 = new Uint8Array(8 + n);
  l4[0] = o.type;
  l4[1] = o.code ?? 0;
  w32(l4, 4, o.rest ?? 0);
  l4.set(o.quote.subarray(0, n), 8);
  return finishL4(o, v6 ? IpProto.Icmpv6 : IpProto.Icmp, l4, 2);
}

/**
 * Splits an IP packet (no virtio header) into fragments carrying at most `maxPayload`
 * bytes of the fragmentable part each (rounded down to a multiple of 8). IPv4 uses the
 * header fields; IPv6 inserts a fragment header after the unfragmentable part (the
 * hop-by-hop and routing headers, RFC 8200 §4.5).
 */
export function fragmentPacket(pkt: Uint8Array, maxPayload: number, id = 0x1234): Uint8Array[] {
  const info = new PacketInfo();
  const st = parsePacket(info, pkt, 0, pkt.length, 0);
  if (st !== ParseStatus.Ok || info.isFragment) throw new Error('fragmentPacket needs a whole, parsable IP packet');
  const step = maxPayload & ~7;
  if (step <= 0) throw new Error('maxPayload must be at least 8');
  const out: Uint8Array[] = [];
  if (info.family === 4) {
    const ihl = info.l3HdrLen;
    const data = pkt.subarray(ihl, info.end);
    for (let off = 0; off < data.length; off += step) {
      const chunk = data.subarray(off, Math.min(off + step, data.length));
      const f = new Uint8Array(ihl + chunk.length);
      f.set(pkt.subarray(0, ihl), 0);
      f.set(chunk, ihl);
      w16(f, 2, f.length);
      w16(f, 4, id & 0xffff);
      w16(f, 6, (off + chunk.length < data.length ? 0x2000 : 0) | (off >> 3));
      const fi = new PacketInfo();
      fi.buf = f;
      fi.family = 4;
      fi.l3HdrLen = ihl;
      setIpv4HeaderChecksum(fi);
      out.push(f);
    }
    return out;
  }
  // IPv6: the unfragmentable part is the header plus hop-by-hop / routing headers.
  let p = 40;
  let nhOff = 6;
  let nh = pkt[6];
  while (nh === IpProto.HopByHop || nh === IpProto.Routing) {
    nhOff = p;
    nh = pkt[p];
    p += (pkt[p + 1] + 1) * 8;
  }
  const unfrag = pkt.subarray(0, p);
  const data = pkt.subarray(p, info.end);
  for (let off = 0; off < data.length; off += step) {
    const chunk = data.subarray(off, Math.min(off + step, data.length));
    const f = new Uint8Array(p + 8 + chunk.length);
    f.set(unfrag, 0);
    f[nhOff] = IpProto.Fragment;
    f[p] = nh;
    w16(f, p + 2, off | (off + chunk.length < data.length ? 1 : 0));
    w32(f, p + 4, id);
    f.set(chunk, p + 8);
    w16(f, 4, f.length - 40);
    out.push(f);
  }
  return out;
}

/** Convenience for tests: parses a built packet (vnet header length given) into a new PacketInfo. */
export function parseBuilt(pkt: Uint8Array, vnetHdrLen = 0): PacketInfo {
  const info = new PacketInfo();
  parsePacket(info, pkt, 0, pkt.length, vnetHdrLen);
  return info;
}

/** Convenience for tests: parses the packet quoted in a parsed ICMP error into a new PacketInfo. */
export function parseQuoted(outer: PacketInfo): PacketInfo {
  const info = new PacketInfo();
  parseInner(info, outer.buf, outer.icmpInnerOff, outer.end);
  return info;
}
