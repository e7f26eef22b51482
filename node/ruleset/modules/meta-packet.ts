/**
 * `meta length` and `meta pkttype`: what the kernel knows of a packet beyond its headers,
 * as a layer-3 (TUN) datapath can know it.
 *
 * - `meta length` is skb->len, which at the IP hooks is the IP packet's length (the header
 *   included, link-layer header and padding excluded): here the length the IP header gives
 *   (for a GSO super-packet, the whole super-packet, as skb->len is).
 * - `meta pkttype` is the link-layer class of the destination (PACKET_HOST/BROADCAST/
 *   MULTICAST). A TUN device has no link-layer address, so it is derived from the IP
 *   destination, as the kernel itself does for packets without one (nft_meta's loopback
 *   case): IPv4 224.0.0.0/4 and IPv6 ff00::/8 are multicast, 255.255.255.255 is broadcast,
 *   the rest unicast (`host`). A subnet-directed broadcast (192.0.2.255 for 192.0.2.0/24)
 *   is not known here: the datapath does not know the prefix of the link, so it is `host`.
 */
import type { Scalar } from '../ast.js';
import { integerType } from '../data-types.js';
import type { DataType } from '../data-types.js';
import type { Registry } from '../registry.js';

/** skb->len: 32 bits in nft (its `integer` type). */
const PKT_LENGTH = integerType('pkt_length', 32, 'packet length in bytes (the IP packet, header included)');

/** PACKET_* (linux/if_packet.h), the names nft gives them; `unicast` is another name for `host`. */
const PKT_TYPE_BASE = integerType('pkt_type', 8, 'packet type: host (unicast), broadcast, multicast, other', {
  host: 0, unicast: 0, broadcast: 1, multicast: 2, other: 3,
});

const PKT_TYPE: DataType = {
  ...PKT_TYPE_BASE,
  // nft lists `unicast` as `host` (the first name of the value): read it so, so that the
  // listing, text and JSON, is nft's.
  fromText(word: string): Scalar {
    const v = PKT_TYPE_BASE.fromText(word);
    return v === 'unicast' ? 'host' : v;
  },
};

const enum PktType {
  Host = 0,
  Broadcast = 1,
  Multicast = 2,
}

export function registerMetaPacket(r: Registry): void {
  r.registerMatch({
    name: 'meta length',
    keywords: ['meta', 'length'],
    left: { meta: { key: 'length' } },
    type: PKT_LENGTH,
    families: ['ip', 'ip6', 'inet'],
    help: 'length of the packet in bytes: the IP packet, IP header included (the kernel\'s skb->len at the IP hooks)',
    load(ctx, out, off) {
      const p = ctx.pkt;
      if (p.family === 0) return false;
      out[off] = p.end - p.l3Off;
      return true;
    },
  });
  r.registerMatch({
    name: 'meta pkttype',
    keywords: ['meta', 'pkttype'],
    left: { meta: { key: 'pkttype' } },
    type: PKT_TYPE,
    families: ['ip', 'ip6', 'inet'],
    help: 'host (unicast), broadcast or multicast, from the IP destination (IPv4 224.0.0.0/4 and IPv6 ff00::/8 multicast, 255.255.255.255 broadcast; a subnet-directed broadcast is not known here and reads as host)',
    load(ctx, out, off) {
      const p = ctx.pkt;
      const b = p.buf;
      const d = p.dstOff;
      if (p.family === 4) {
        const first = b[d]!;
        if (first >= 224 && first <= 239) out[off] = PktType.Multicast;
        else if (first === 255 && b[d + 1] === 255 && b[d + 2] === 255 && b[d + 3] === 255) out[off] = PktType.Broadcast;
        else out[off] = PktType.Host;
        return true;
      }
      if (p.family === 6) {
        out[off] = b[d] === 0xff ? PktType.Multicast : PktType.Host;
        return true;
      }
      return false;
    },
  });
}
