/**
 * Test helper: fills a PacketInfo directly (addresses in `buf`, decoded L4 fields), so
 * the ruleset tests do not depend on the packet parser. Not used outside tests.
 */
import { PacketInfo } from '../packet/packet-info.js';
import { parseIpv4 } from './l3-ipv4.js';
import { parseIpv6 } from './l3-ipv6.js';

export interface TestPacket {
  src: string;
  dst: string;
  proto?: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | number;
  sport?: number;
  dport?: number;
  flags?: number;
  icmpType?: number;
  len?: number;
}

const PROTO: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 };

export function fillPacket(p: PacketInfo, t: TestPacket): PacketInfo {
  const v6 = t.src.includes(':');
  const alen = v6 ? 16 : 4;
  const buf = new Uint8Array(40 + 2 * alen);
  const put = (s: string, off: number): void => {
    if (v6) {
      const w = new Uint32Array(4);
      if (!parseIpv6(s, w, 0)) throw new Error(`bad ${s}`);
      for (let i = 0; i < 4; i++) {
        buf[off + 4 * i] = w[i] >>> 24;
        buf[off + 4 * i + 1] = (w[i] >>> 16) & 255;
        buf[off + 4 * i + 2] = (w[i] >>> 8) & 255;
        buf[off + 4 * i + 3] = w[i] & 255;
      }
    } else {
      const n = parseIpv4(s);
      if (n === undefined) throw new Error(`bad ${s}`);
      buf[off] = n >>> 24;
      buf[off + 1] = (n >>> 16) & 255;
      buf[off + 2] = (n >>> 8) & 255;
      buf[off + 3] = n & 255;
    }
  };
  p.buf = buf;
  p.family = v6 ? 6 : 4;
  p.l3Off = 0;
  p.addrLen = alen;
  p.srcOff = 8;
  p.dstOff = 8 + alen;
  put(t.src, p.srcOff);
  put(t.dst, p.dstOff);
  const proto = typeof t.proto === 'number' ? t.proto : PROTO[t.proto ?? 'tcp'];
  // IPv6: the version and the fixed header's Next Header (no extension headers), which
  // `ip6 nexthdr` reads from the bytes (the addresses start at 8, as in a real header).
  if (v6) {
    buf[0] = 0x60;
    buf[6] = proto;
  }
  p.l4proto = proto;
  p.l4Valid = true;
  p.sport = t.sport ?? 0;
  p.dport = t.dport ?? 0;
  p.tcpFlags = t.flags ?? 0;
  p.icmpType = t.icmpType ?? 0;
  p.end = t.len ?? 100;
  p.segments = 1;
  return p;
}
