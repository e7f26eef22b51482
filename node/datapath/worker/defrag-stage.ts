/**
 * The stage in front of the filter that turns fragments into whole datagrams (see
 * reassembly.ts): a fragment is taken from its slot (Verdict.Stolen) and kept; when its
 * datagram is complete, the whole is parsed and handed to the inner stage like any packet,
 * and if accepted the kept fragments, with what the filter changed written into them, are
 * written into the TUN device. Everything else goes straight to the inner stage.
 */
import { PacketInfo, ParseStatus } from '../../packet/packet-info.js';
import { parsePacket } from '../../packet/parse.js';
import { C } from '../shared/counters.js';
import { FragAdd, Reassembler, type ReassemblyLimits } from './reassembly.js';
import type { InjectFn } from './reject.js';
import { Verdict, type PacketStage } from './stage.js';

export class DefragStage implements PacketStage {
  readonly reassembler: Reassembler;
  private readonly whole = new PacketInfo();
  private readonly out: Uint8Array;

  constructor(
    private readonly inner: PacketStage,
    private readonly counters: Float64Array,
    private readonly inject: InjectFn,
    limits: ReassemblyLimits = {},
  ) {
    this.reassembler = new Reassembler(limits);
    // Room for the largest virtio header (12 bytes, with num_buffers) and datagram.
    this.out = new Uint8Array(12 + 65535);
  }

  process(pkt: PacketInfo, nowMs: number): Verdict {
    if (!pkt.isFragment) return this.inner.process(pkt, nowMs);
    const r = this.reassembler;
    if (r.add(pkt, nowMs) !== FragAdd.Complete) return Verdict.Stolen;
    const d = r.completed!;
    const c = this.counters;
    try {
      // The whole datagram gets the virtio header length its fragments came with.
      const vnetLen = d.pieces[0]!.l3At;
      const len = r.build(d, this.out, vnetLen);
      const whole = this.whole;
      if (parsePacket(whole, this.out, 0, len, vnetLen) !== ParseStatus.Ok) {
        // Whole, its headers do not hold together: dropped like any malformed packet, before
        // the filter (so no verdict is counted).
        c[C.malformed] += 1;
        r.discard(d);
        return Verdict.Stolen;
      }
      const verdict = this.inner.process(whole, nowMs);
      if (verdict === Verdict.Accept) {
        c[C.verdict_accept] += 1;
        r.writeBack(d, whole);
        for (const p of d.pieces) {
          this.inject(p.bytes, 0, p.bytes.length);
          c[C.tx_packets] += 1;
          c[C.tx_bytes] += p.bytes.length - p.l3At;
        }
        c[C.frag_forwarded] += d.pieces.length;
        r.done(d);
      } else {
        c[verdict === Verdict.Reject ? C.verdict_reject : C.verdict_drop] += 1;
        r.discard(d);
      }
    } catch (err) {
      r.discard(d);
      throw err;
    }
    return Verdict.Stolen;
  }

  endBatch(nowMs: number): void {
    const r = this.reassembler;
    r.expire(nowMs);
    const s = r.stats;
    const c = this.counters;
    c[C.frag_queued] = s.queued;
    c[C.frag_reassembled] = s.reassembled;
    c[C.frag_timeouts] = s.timeouts;
    c[C.frag_overlaps] = s.overlaps;
    c[C.frag_over_limit] = s.overLimit;
    c[C.frag_malformed] = s.malformed;
    c[C.frag_duplicates] = s.duplicates;
    c[C.frag_discarded] = s.discarded;
    c[C.frag_held_bytes] = r.heldBytes;
    this.inner.endBatch?.(nowMs);
  }
}
