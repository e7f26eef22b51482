/**
 * The generic tracker (Linux nf_conntrack_proto_generic.c): protocols without a tracker
 * of their own here (SCTP, DCCP, GRE, UDP-Lite, ESP, AH, an IPv6 header chain that is not
 * walked) are tracked by addresses and protocol alone, ports 0, one timeout (600 s by
 * default) refreshed by every packet either way. Linux has port-aware trackers for SCTP,
 * DCCP, GRE and UDP-Lite; this is a deliberate difference (node/conntrack/README.md).
 */
import type { ConnTable } from './conn-table.js';
import type { CtTimeouts } from './ct-types.js';

/** A new entry or a packet of one: the generic timeout from now. */
export function genericPacket(t: ConnTable, e: number, now: number, to: Readonly<CtTimeouts>): void {
  t.expires[e] = now + to.generic;
}
