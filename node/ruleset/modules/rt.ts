/**
 * `rt mtu`: the MSS the route allows, nft's routing expression (the kernel's nft_rt
 * NFT_RT_TCPMSS), for MSS clamping to the path: `tcp flags syn tcp option maxseg size set rt
 * mtu`. As the kernel computes it: the smaller of the MTU of the route to the packet's
 * destination and of the route back to its source, less the IP and TCP headers (40 bytes for
 * IPv4, 60 for IPv6); an MTU that leaves no room (or above 65535) gives TCP's default
 * 536. The kernel reads the route's MTU, which is the `mtu` metric of the route when it has
 * one and its device's MTU otherwise; learned path MTUs (the kernel's PMTU cache) are not
 * known to the datapath and do not count. With no route known (no route table, `hafw replay`
 * without routes) the field has no value: the rule stops there and nothing is written.
 *
 * Like the kernel, only forward, output and postrouting chains may use it: before the
 * routing decision there is no route.
 *
 * The other `rt` keys are refused with the reason.
 */
import { TCP_MSS } from './tcp-options.js';
import type { DataType } from '../data-types.js';
import type { Registry } from '../registry.js';

/** TCP_MSS_DEFAULT (RFC 9293 section 3.7.1): when the route's MTU leaves no room. */
const TCP_MSS_DEFAULT = 536;

const RT_REFUSED: Record<string, string> = {
  classid: '`rt classid` reads the routing realm of the packet\'s route; the node\'s routes carry no realms to the datapath. Match the destination prefix (ip daddr) instead',
  nexthop: '`rt nexthop` reads the gateway of the packet\'s route; the datapath knows which interface a route uses, not its gateway. Match the destination prefix (ip daddr) or oifname instead',
  ipsec: '`rt ipsec` asks whether the route goes through an IPsec transform; the datapath sees no xfrm state. Match the tunnel\'s addresses or interface instead',
};

/** Reads any word, so that the rule is refused with the field's reason, not a value error. */
export function refusedType(name: string, why: string): DataType {
  return { name, help: 'refused', words: 1, bits: 32, ordered: true, fromText: (w) => w, encode: () => why, toText: String };
}

export function registerRt(r: Registry): void {
  r.registerMatch({
    name: 'rt mtu',
    keywords: ['rt', 'mtu'],
    left: { rt: { key: 'mtu' } },
    type: TCP_MSS,
    families: ['ip', 'ip6', 'inet'],
    hooks: ['forward', 'output', 'postrouting'],
    help: 'the TCP MSS the packet\'s routes allow: the smaller route MTU (to the destination, back to the source) less 40 bytes (IPv4) or 60 (IPv6); for `tcp option maxseg size set rt mtu`',
    load(ctx, out, off) {
      const p = ctx.pkt;
      const routes = ctx.routeMtu;
      if (routes === null || p.family === 0) return false;
      const fam = p.family;
      const there = routes.mtuTo(p.buf, p.dstOff, fam);
      const back = routes.mtuTo(p.buf, p.srcOff, fam);
      const mtu = there === 0 ? back : back === 0 ? there : Math.min(there, back);
      if (mtu === 0) return false;
      const headers = fam === 4 ? 40 : 60;
      out[off] = mtu <= headers || mtu > 0xffff ? TCP_MSS_DEFAULT : mtu - headers;
      return true;
    },
  });
  for (const [key, why] of Object.entries(RT_REFUSED)) {
    r.registerMatch({
      name: `rt ${key}`,
      keywords: ['rt', key],
      left: { rt: { key } },
      type: refusedType(`rt_${key}`, why),
      families: ['ip', 'ip6', 'inet'],
      help: `refused: ${why}`,
      refused: why,
      load: () => false,
    });
  }
}
