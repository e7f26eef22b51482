/**
 * Transport ports: `tcp sport/dport`, `udp sport/dport`, `sctp sport/dport` and `th sport/dport` (any
 * transport header with ports at the usual place: TCP, UDP, SCTP, UDP-Lite). Layer-3
 * independent: one module serves IPv4 and IPv6. Non-first fragments have no L4 header
 * (pkt.l4Valid false), so port matches never match them, as in the kernel.
 */
import { INET_SERVICE } from '../data-types.js';
import type { Registry } from '../registry.js';

const PROTO: Record<string, number> = { tcp: 6, udp: 17, sctp: 132 };

export function registerPorts(r: Registry): void {
  for (const proto of ['tcp', 'udp', 'sctp', 'th'] as const) {
    for (const field of ['sport', 'dport'] as const) {
      const want = PROTO[proto] ?? -1;
      const isSrc = field === 'sport';
      r.registerMatch({
        name: `${proto} ${field}`,
        keywords: [proto, field],
        left: { payload: { protocol: proto, field } },
        type: INET_SERVICE,
        families: ['ip', 'ip6', 'inet'],
        help:
          proto === 'th'
            ? `transport header ${isSrc ? 'source' : 'destination'} port of TCP, UDP or SCTP`
            : `${proto.toUpperCase()} ${isSrc ? 'source' : 'destination'} port; matches only ${proto.toUpperCase()} packets`,
        load(ctx, out, off) {
          const p = ctx.pkt;
          if (!p.l4Valid) return false;
          if (want >= 0) {
            if (p.l4proto !== want) return false;
          } else if (p.l4proto !== 6 && p.l4proto !== 17 && p.l4proto !== 132 && p.l4proto !== 136) return false;
          out[off] = isSrc ? p.sport : p.dport;
          return true;
        },
      });
    }
  }
}
