/**
 * One-line, tcpdump-like text for a parsed packet: for logs, test failure messages and
 * the CLI. Allocates strings, so never on the per-packet path.
 */
import { formatAddress } from './address.js';
import { IpProto, PacketInfo, ParseStatus } from './packet-info.js';

const STATUS_NAMES = ['ok', 'truncated', 'malformed', 'unsupported'];
const FLAG_LETTERS = 'FSRPAUEC';

/** Names of the L4 protocols we print by name; others print as their number. */
export function ipProtoName(proto: number): string {
  switch (proto) {
    case IpProto.Tcp:
      return 'tcp';
    case IpProto.Udp:
      return 'udp';
    case IpProto.Icmp:
      return 'icmp';
    case IpProto.Icmpv6:
      return 'icmpv6';
    case IpProto.Esp:
      return 'esp';
    case IpProto.Ah:
      return 'ah';
    case IpProto.Sctp:
      return 'sctp';
    case IpProto.Vrrp:
      return 'vrrp';
    case IpProto.NoNext:
      return 'no-next';
    default:
      return `proto-${proto}`;
  }
}

/** TCP flag bits as letters in the order F S R P A U E C (e.g. "SA"). */
export function tcpFlagLetters(flags: number): string {
  let s = '';
  for (let i = 0; i < 8; i++) if (flags & (1 << i)) s += FLAG_LETTERS[i];
  return s;
}

/**
 * E.g. "ipv4 192.0.2.100:40000 > 198.51.100.100:443 tcp [S] seq 1000 ack 0 win 65535 len 0".
 * Packets that did not parse say so and how far parsing got.
 */
export function describePacket(info: PacketInfo): string {
  if (info.family === 0) return `non-ip (${STATUS_NAMES[info.status] ?? info.status})`;
  // A header cut short before its addresses: nothing more to show (and nothing to read).
  if (info.addrLen === 0 || info.dstOff + info.addrLen > info.buf.length) return `ipv${info.family} (${STATUS_NAMES[info.status] ?? info.status})`;
  const v6 = info.family === 6;
  const src = formatAddress(info.buf, info.srcOff, info.addrLen);
  const dst = formatAddress(info.buf, info.dstOff, info.addrLen);
  const ep = (a: string, port: number): string => (v6 ? `[${a}]:${port}` : `${a}:${port}`);
  const parts: string[] = [`ipv${info.family}`];
  const hasPorts = info.l4Valid && (info.l4proto === IpProto.Tcp || info.l4proto === IpProto.Udp);
  parts.push(hasPorts ? `${ep(src, info.sport)} > ${ep(dst, info.dport)}` : `${src} > ${dst}`);
  parts.push(ipProtoName(info.l4proto));
  if (info.l4Valid && info.l4proto === IpProto.Tcp) {
    parts.push(`[${tcpFlagLetters(info.tcpFlags)}] seq ${info.seq} ack ${info.ack} win ${info.window}`);
  } else if (info.l4Valid && (info.l4proto === IpProto.Icmp || info.l4proto === IpProto.Icmpv6)) {
    parts.push(`type ${info.icmpType} code ${info.icmpCode}${info.icmpId || info.icmpInnerOff === 0 ? ` id ${info.icmpId}` : ''}`);
  }
  if (info.isFragment) parts.push(`frag off ${info.fragOffset}${info.moreFragments ? '+' : ''} id ${info.ipId}`);
  parts.push(`len ${info.payloadLen}`);
  if (info.segments > 1) parts.push(`gso ${info.segments}x${info.gsoSize}`);
  if (info.status !== ParseStatus.Ok) parts.push(`(${STATUS_NAMES[info.status] ?? info.status})`);
  return parts.join(' ');
}
