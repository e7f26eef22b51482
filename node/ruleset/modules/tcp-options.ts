/**
 * `tcp option maxseg size`: the MSS option of a TCP segment (RFC 9293 section 3.7.1),
 * readable and writable. Written, it is MSS clamping for links with a smaller MTU than the
 * hosts believe (PPPoE, tunnels): `tcp flags syn tcp option maxseg size set 1452`. Like nft,
 * `set` writes the value whatever the segment carried; guard it with a match
 * (`tcp option maxseg size > 1452`) to only ever lower it. A segment without the option
 * matches nothing and is left alone.
 */
import { integerType } from '../data-types.js';
import type { ClassifyContext } from '../context.js';
import type { Registry } from '../registry.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { TcpOptionKind, tcpFindOption } from '../../packet/tcp-options.js';
import { csumUpdate16, isPartialChecksum } from '../../packet/checksum.js';

export const TCP_MSS = integerType('tcp_mss', 16, 'TCP maximum segment size in bytes');

/** Where the MSS value (2 bytes) is in the packet, or -1 when it carries none. */
function mssAt(p: PacketInfo): number {
  if (!p.l4Valid || p.l4proto !== 6) return -1;
  const at = tcpFindOption(p, TcpOptionKind.Mss, 4);
  return at < 0 ? -1 : at + 2;
}

/** Rewrites the MSS and keeps the TCP checksum right (incrementally, RFC 1624). */
function storeMss(ctx: ClassifyContext, value: number): void {
  const p = ctx.pkt;
  const at = mssAt(p);
  if (at < 0) return;
  const b = p.buf;
  const old = (b[at]! << 8) | b[at + 1]!;
  if (old === value) return;
  b[at] = value >> 8;
  b[at + 1] = value & 0xff;
  // Under NeedsCsum the field holds only the pseudo-header sum; the kernel sums the bytes later.
  if (isPartialChecksum(p)) return;
  const c = p.l4Off + 16;
  const sum = csumUpdate16((b[c]! << 8) | b[c + 1]!, old, value);
  b[c] = sum >> 8;
  b[c + 1] = sum & 0xff;
}

export function registerTcpOptions(r: Registry): void {
  r.registerMatch({
    name: 'tcp option maxseg size',
    keywords: ['tcp', 'option', 'maxseg', 'size'],
    left: { 'tcp option': { name: 'maxseg', field: 'size' } },
    type: TCP_MSS,
    families: ['ip', 'ip6', 'inet'],
    help: 'TCP maximum segment size option (SYN and SYN-ACK carry it); writable with `tcp option maxseg size set N` (MSS clamping)',
    store: storeMss,
    load(ctx, out, off) {
      const at = mssAt(ctx.pkt);
      if (at < 0) return false;
      const b = ctx.pkt.buf;
      out[off] = (b[at]! << 8) | b[at + 1]!;
      return true;
    },
  });
}
