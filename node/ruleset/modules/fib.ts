/**
 * `fib daddr type local|multicast` (nft's fib expression, as far as hafw's datapath can
 * answer it exactly). The kernel asks its routing tables; hafw's datapath reads packets from
 * a TUN device and knows the node's own addresses (interface addresses and the VIPs held
 * now, ctx.localAddrs) and the address classes, but not the interface a packet came in on
 * (iif is inferred from the route back to the source), nor subnet broadcast addresses or
 * route types. So:
 *  - `local`: one of the node's addresses, or loopback (127.0.0.0/8, ::1), as the kernel's
 *    local table has them;
 *  - `multicast`: 224.0.0.0/4, ff00::/8 (by address, as the kernel decides);
 *  - everything else (unicast, broadcast, unreachable, ...) is not told apart and is refused
 *    as a value, as are the other fib forms (the reverse-path check among them), each with
 *    the reason. `!= local` and `!= multicast` are exact and allowed.
 */
import type { DataType } from '../data-types.js';
import type { Registry } from '../registry.js';

/** Linux route types (RTN_*), the values nft's fib_addrtype compares. */
const RTN: Record<string, number> = {
  unspec: 0, unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8,
  throw: 9, nat: 10, xresolve: 11,
};
const SUPPORTED = new Set(['local', 'multicast']);
/** What the load gives for an address that is neither local nor multicast: never a written value. */
const NOT_TOLD_APART = 0xff;

const TUN_IIF = "hafw's datapath reads packets from a TUN device, which hides the interface a packet came in on: the input interface is inferred from the route back to the source, so a reverse-path check (`fib saddr . iif oif missing`) would always pass";

/** Why a fib form other than `fib daddr type` is refused. */
export const FIB_REFUSED = `only 'fib daddr type local|multicast' is supported: ${TUN_IIF}, and the datapath knows neither route types nor the routes' output interfaces as the kernel's fib lookup gives them. For reverse-path filtering enable the kernel's rp_filter on the node (sysctl net.ipv4.conf.all.rp_filter=1), or put the fib rule in the node's own nftables: the kernel sees the real input interface`;

function valueRefused(name: string): string {
  return `fib daddr type '${name}' is not supported: the datapath knows the node's own addresses and multicast, but not its subnet broadcast addresses or the route types, so it cannot tell unicast, broadcast, unreachable (and the rest) apart. Match 'local' or 'multicast' (or their !=), and a known broadcast address with ip daddr`;
}

const FIB_ADDRTYPE: DataType = {
  name: 'fib_addrtype',
  help: 'fib address type: local or multicast (the types hafw can tell exactly)',
  words: 1,
  bits: 32,
  ordered: false,
  symbols: new Map(Object.entries(RTN)),
  fromText(word) {
    if (SUPPORTED.has(word)) return word;
    if (Object.hasOwn(RTN, word)) throw valueRefused(word);
    throw `'${word}' is not a fib address type (local, multicast)`;
  },
  encode(v, out, off) {
    if (typeof v === 'string' && SUPPORTED.has(v)) {
      out[off] = RTN[v]!;
      return null;
    }
    if (typeof v === 'string' && Object.hasOwn(RTN, v)) return valueRefused(v);
    return `'${v}' is not a fib address type (local, multicast)`;
  },
  toText(v) {
    return String(v);
  },
};

export function registerFib(r: Registry): void {
  r.registerType(FIB_ADDRTYPE);
  r.registerMatch({
    name: 'fib daddr type',
    keywords: ['fib', 'daddr', 'type'],
    left: { fib: { result: 'type', flags: ['daddr'] } },
    type: FIB_ADDRTYPE,
    families: ['ip', 'ip6', 'inet'],
    help: "the destination's address type: local (one of the node's addresses, VIPs it holds included) or multicast",
    load(ctx, out, off) {
      const p = ctx.pkt;
      const b = p.buf;
      const o = p.dstOff;
      let t = NOT_TOLD_APART;
      if (p.family === 4) {
        const a = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
        if (a >>> 28 === 0xe) t = RTN.multicast!;
        else if (a >>> 24 === 127) t = RTN.local!;
      } else if (p.family === 6) {
        if (b[o] === 0xff) t = RTN.multicast!;
        else if (isLoopback6(b, o)) t = RTN.local!;
      } else return false;
      if (t === NOT_TOLD_APART && ctx.localAddrs !== null && ctx.localAddrs.has(b, o, p.family)) t = RTN.local!;
      out[off] = t;
      return true;
    },
  });
}

function isLoopback6(b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 15; i++) if (b[o + i] !== 0) return false;
  return b[o + 15] === 1;
}
