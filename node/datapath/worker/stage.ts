/**
 * The pluggable per-packet stage of the datapath. The loop parses each packet into the
 * shared PacketInfo and asks the stage for a verdict. Conntrack, the rule engine and NAT
 * plug in here; the stage may rewrite the packet in place (NAT) and change its length only
 * within its slot (`PacketInfo.maxEnd` / `lenDelta`: a NAT helper's payload rewrite).
 */
import type { PacketInfo } from '../../packet/packet-info.js';

export const enum Verdict {
  Drop = 0,
  Accept = 1,
  /** Drop, and the stage has queued a reply (TCP reset / ICMP unreachable) to inject. */
  Reject = 2,
  /**
   * The stage took the packet (netfilter's NF_STOLEN): the slot is not written back; the
   * stage sends or drops it later and counts it itself (fragments held for reassembly).
   */
  Stolen = 3,
}

export interface PacketStage {
  /** Called once per well-formed IP packet. Must not allocate on the common path. */
  process(pkt: PacketInfo, nowMs: number): Verdict;
  /** Called after each batch (flush events, inject queued replies). Optional. */
  endBatch?(nowMs: number): void;
}

/** The stage with no ruleset: every well-formed packet passes. */
export class PassThroughStage implements PacketStage {
  process(): Verdict {
    return Verdict.Accept;
  }
}
