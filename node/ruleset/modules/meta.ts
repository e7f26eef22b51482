/**
 * Packet metadata: `meta l4proto`, `meta nfproto`, `meta mark`, `meta nftrace`, `iifname`, `oifname`.
 * None of them depends on the layer-3 family, so they exist once for IPv4 and IPv6.
 */
import { IFNAME, INET_PROTO, MARK, NF_PROTO, integerType } from '../data-types.js';
import type { MatchModule, Registry } from '../registry.js';

const SK_UID = integerType('uid', 32, 'user id');
const SK_GID = integerType('gid', 32, 'group id');
/** nft's `meta nftrace` is a one-bit integer (0 or 1). */
const NFTRACE = integerType('nftrace', 1, 'packet tracing flag (0 or 1)');

export function registerMeta(r: Registry): void {
  // The socket's owner: the kernel knows it for the node's own output; hafw's datapath
  // reads packets from a TUN device with no socket attached, so it is refused with why.
  for (const key of ['skuid', 'skgid'] as const) {
    r.registerMatch({
      name: `meta ${key}`,
      keywords: ['meta', key],
      left: { meta: { key } },
      type: key === 'skuid' ? SK_UID : SK_GID,
      families: ['ip', 'ip6', 'inet'],
      help: 'not supported: the datapath sees no sockets',
      refused: `'meta ${key}' matches the ${key === 'skuid' ? 'user' : 'group'} owning the sending socket; hafw's datapath reads packets from a TUN device, where no socket is attached to them (the node's own programs send through the kernel's stack, which hafw sees only as packets). Filter by address and port, or put the rule in the node's own nftables (output hook), where the kernel knows the socket`,
      load: () => false,
    });
  }

  r.registerMatch({
    name: 'meta l4proto',
    keywords: ['meta', 'l4proto'],
    left: { meta: { key: 'l4proto' } },
    type: INET_PROTO,
    families: ['ip', 'ip6', 'inet'],
    help: 'upper-layer protocol (after IPv6 extension headers)',
    load(ctx, out, off) {
      if (ctx.pkt.family === 0) return false;
      out[off] = ctx.pkt.l4proto;
      return true;
    },
  });
  r.registerMatch({
    name: 'meta nfproto',
    keywords: ['meta', 'nfproto'],
    left: { meta: { key: 'nfproto' } },
    type: NF_PROTO,
    families: ['ip', 'ip6', 'inet'],
    help: 'layer-3 family of the packet: ipv4 or ipv6 (useful in inet tables)',
    load(ctx, out, off) {
      const f = ctx.pkt.family;
      if (f === 0) return false;
      out[off] = f === 4 ? 2 : 10;
      return true;
    },
  });
  r.registerMatch({
    name: 'meta mark',
    keywords: ['meta', 'mark'],
    left: { meta: { key: 'mark' } },
    type: MARK,
    families: ['ip', 'ip6', 'inet'],
    help: 'packet mark (32 bits); writable with `meta mark set`',
    store(ctx, v) {
      ctx.metaMark = v;
    },
    load(ctx, out, off) {
      out[off] = ctx.metaMark >>> 0;
      return true;
    },
  });
  r.registerMatch({
    name: 'meta nftrace',
    keywords: ['meta', 'nftrace'],
    left: { meta: { key: 'nftrace' } },
    type: NFTRACE,
    families: ['ip', 'ip6', 'inet'],
    help: 'packet tracing: `meta nftrace set 1` marks the packet, and `hafw trace` shows each chain and rule it goes through from the next base chain on, with the verdict (docs/operations.md)',
    store(ctx, v) {
      // Bit 1 (a trace session's filter chose the packet) is kept: see ClassifyContext.nftrace.
      ctx.nftrace = (ctx.nftrace & 2) | (v & 1);
    },
    load(ctx, out, off) {
      out[off] = ctx.nftrace & 1;
      return true;
    },
  });
  const iifname: MatchModule = {
    name: 'iifname',
    keywords: ['iifname'],
    left: { meta: { key: 'iifname' } },
    type: IFNAME,
    families: ['ip', 'ip6', 'inet'],
    help: 'name of the interface the packet came in on (also written `meta iifname`, or `iif`: the node knows interfaces by name)',
    load(ctx, out, off) {
      if (ctx.iif === 0) return false;
      ctx.ifnames.keyInto(ctx.iif, out, off);
      return true;
    },
  };
  const oifname: MatchModule = {
    name: 'oifname',
    keywords: ['oifname'],
    left: { meta: { key: 'oifname' } },
    type: IFNAME,
    families: ['ip', 'ip6', 'inet'],
    help: 'name of the interface the packet will leave by (forward, postrouting; also written `meta oifname`, or `oif`)',
    load(ctx, out, off) {
      if (ctx.oif === 0) return false;
      ctx.ifnames.keyInto(ctx.oif, out, off);
      return true;
    },
  };
  r.registerMatch(iifname);
  r.registerMatch(oifname);
  // nft's long forms, and iif/oif, which nft resolves to an interface index when the ruleset
  // loads: the datapath knows interfaces by name only (derived from routes), so they read
  // as iifname/oifname and print as such.
  r.registerAlias(['meta', 'iifname'], iifname);
  r.registerAlias(['meta', 'oifname'], oifname);
  r.registerAlias(['iif'], iifname);
  r.registerAlias(['oif'], oifname);
  r.registerAlias(['meta', 'iif'], iifname);
  r.registerAlias(['meta', 'oif'], oifname);
}
