/**
 * More header fields, as nft reads them: `ip id` and `ip frag-off` (RFC 791), `icmp id|sequence`
 * (RFC 792 echo) and `icmpv6 id|sequence` (RFC 4443 echo). Read-only.
 *
 * `ip frag-off` is the raw 16-bit word: the flags (0x8000 reserved, 0x4000 DF, 0x2000 MF)
 * and the offset in 8-byte units (0x1fff), so the usual idioms work as in nft:
 * `ip frag-off & 0x1fff != 0` (a non-first fragment), `ip frag-off & 0x3fff != 0` (any
 * fragment), `ip frag-off & 0x4000 != 0` (DF set).
 *
 * The echo fields carry nft's implicit dependency: `icmp id 5` also means "the packet is an
 * echo request or reply" (nft adds `icmp type { echo-request, echo-reply }` and hides it in
 * the listing), so another ICMP message never matches on the bytes that happen to be there.
 */
import { integerType } from '../data-types.js';
import type { ClassifyContext } from '../context.js';
import type { Registry } from '../registry.js';

const IP_ID = integerType('ip_id', 16, 'IPv4 identification (16 bits)');
const IP_FRAG_OFF = integerType('ip_frag_off', 16, 'IPv4 flags and fragment offset word (16 bits: 0x4000 DF, 0x2000 MF, 0x1fff offset in 8-byte units)');
const ICMP_ECHO_ID = integerType('icmp_echo_id', 16, 'ICMP / ICMPv6 echo identifier (16 bits)');
const ICMP_ECHO_SEQ = integerType('icmp_echo_seq', 16, 'ICMP / ICMPv6 echo sequence number (16 bits)');

function u16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

/** Offset of the echo header's id (sequence at +2), or -1 when the packet is no echo of that family. */
function echoAt(ctx: ClassifyContext, family: 4 | 6): number {
  const p = ctx.pkt;
  if (p.family !== family || !p.l4Valid) return -1;
  if (family === 4) {
    if (p.l4proto !== 1 || (p.icmpType !== 0 && p.icmpType !== 8)) return -1;
  } else if (p.l4proto !== 58 || (p.icmpType !== 128 && p.icmpType !== 129)) return -1;
  return p.l4Off + 4;
}

export function registerIpFields(r: Registry): void {
  r.registerMatch({
    name: 'ip id',
    keywords: ['ip', 'id'],
    left: { payload: { protocol: 'ip', field: 'id' } },
    type: IP_ID,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'IPv4 identification field',
    load(ctx, out, off) {
      const p = ctx.pkt;
      if (p.family !== 4) return false;
      out[off] = u16(p.buf, p.l3Off + 4);
      return true;
    },
  });
  r.registerMatch({
    name: 'ip frag-off',
    keywords: ['ip', 'frag-off'],
    left: { payload: { protocol: 'ip', field: 'frag-off' } },
    type: IP_FRAG_OFF,
    families: ['ip', 'inet'],
    l3: 4,
    help: 'IPv4 flags and fragment offset, the raw 16-bit word: `ip frag-off & 0x1fff != 0` is a non-first fragment, `& 0x3fff != 0` any fragment, `& 0x4000 != 0` DF',
    load(ctx, out, off) {
      const p = ctx.pkt;
      if (p.family !== 4) return false;
      out[off] = u16(p.buf, p.l3Off + 6);
      return true;
    },
  });
  for (const [proto, family] of [['icmp', 4], ['icmpv6', 6]] as const) {
    const what = proto === 'icmp' ? 'ICMP' : 'ICMPv6';
    for (const [field, type, rel] of [['id', ICMP_ECHO_ID, 0], ['sequence', ICMP_ECHO_SEQ, 2]] as const) {
      r.registerMatch({
        name: `${proto} ${field}`,
        keywords: [proto, field],
        left: { payload: { protocol: proto, field } },
        type,
        families: family === 4 ? ['ip', 'inet'] : ['ip6', 'inet'],
        l3: family,
        help: `${what} echo ${field === 'id' ? 'identifier' : 'sequence number'}; matches only echo requests and replies (nft's implicit dependency)`,
        load(ctx, out, off) {
          const at = echoAt(ctx, family);
          if (at < 0) return false;
          out[off] = u16(ctx.pkt.buf, at + rel);
          return true;
        },
      });
    }
  }
}
