/**
 * UDP connection tracking with the behaviour of Linux's nf_conntrack_proto_udp.c: a flow
 * is unreplied (short timeout) until traffic went both ways; once it also outlived a 2 s
 * window after its first packet it is a stream (ASSURED, long timeout). The tracker does
 * the lookup, insertion and events; these functions are the protocol's rules over the table.
 */
import type { ConnTable } from './conn-table.js';
import { CtStatus, type CtTimeouts } from './ct-types.js';

/** A flow that still talks this long after creation is a stream (Linux stream_ts). */
const UDP_STREAM_DELAY_MS = 2000;

/** A new UDP entry e: unreplied timeout, and the end of its "is it a stream" window in `aux`. */
export function udpNew(t: ConnTable, e: number, now: number, to: Readonly<CtTimeouts>): void {
  t.aux[e] = now + UDP_STREAM_DELAY_MS;
  t.expires[e] = now + to.udpUnreplied;
}

/** A packet of UDP entry e (either direction): refreshes the timeout, assures a stream. */
export function udpPacket(t: ConnTable, e: number, now: number, to: Readonly<CtTimeouts>): void {
  if (t.status[e] & CtStatus.SeenReply) {
    let extra = to.udpUnreplied;
    if (now > t.aux[e]) {
      extra = to.udpReplied;
      t.status[e] |= CtStatus.Assured;
    }
    t.expires[e] = now + extra;
  } else {
    t.expires[e] = now + to.udpUnreplied;
  }
}

/** A replicated UDP entry e is past its stream window already (its owner saw the start). */
export function udpReplicated(t: ConnTable, e: number, now: number): void {
  t.aux[e] = now;
}
