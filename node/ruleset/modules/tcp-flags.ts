/**
 * `tcp flags`: the TCP header flag bits (RFC 9293 section 3.1). A flag type, so
 * `tcp flags syn` means "syn is set", `tcp flags == syn` means "exactly syn" and
 * `tcp flags syn / syn,ack` means "of syn and ack, only syn is set".
 */
import { TCP_FLAG } from '../data-types.js';
import type { Registry } from '../registry.js';

export function registerTcpFlags(r: Registry): void {
  r.registerMatch({
    name: 'tcp flags',
    keywords: ['tcp', 'flags'],
    left: { payload: { protocol: 'tcp', field: 'flags' } },
    type: TCP_FLAG,
    families: ['ip', 'ip6', 'inet'],
    help: 'TCP flags (fin, syn, rst, psh, ack, urg, ecn, cwr); matches only TCP packets',
    load(ctx, out, off) {
      const p = ctx.pkt;
      if (!p.l4Valid || p.l4proto !== 6) return false;
      out[off] = p.tcpFlags;
      return true;
    },
  });
}
