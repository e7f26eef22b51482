/**
 * The device-independent heart of the packet loop: given a batch of slots in an arena
 * (each a virtio header plus a packet), parse each into the one reused PacketInfo, ask the
 * stage, record the verdict byte and count. The packet loop feeds it from the device;
 * tests feed it crafted packets, no root or device needed.
 */
import { PacketInfo, ParseStatus, GsoType } from '../../packet/packet-info.js';
import { parsePacket } from '../../packet/parse.js';
import { SlotVerdict } from '../../native/index.js';
import { C } from '../shared/counters.js';
import { Verdict, type PacketStage } from './stage.js';

export class BatchProcessor {
  private readonly pkt = new PacketInfo();

  constructor(
    private readonly arena: Uint8Array,
    private readonly slotSize: number,
    private readonly lengths: Int32Array,
    private readonly verdicts: Uint8Array,
    private readonly counters: Float64Array,
    private readonly vnetHdrLen: number,
    private readonly stage: PacketStage,
  ) {}

  process(n: number, now: number): void {
    const c = this.counters;
    const pkt = this.pkt;
    const hdr = this.vnetHdrLen;
    c[C.batches] += 1;
    for (let i = 0; i < n; i++) {
      const len = this.lengths[i];
      const ipBytes = len - hdr;
      c[C.rx_packets] += 1;
      c[C.rx_bytes] += ipBytes;
      if (ipBytes > c[C.max_packet_bytes]) c[C.max_packet_bytes] = ipBytes;
      const status = parsePacket(pkt, this.arena, i * this.slotSize, len, hdr);
      c[C.rx_segments] += pkt.segments;
      if (pkt.gsoType !== GsoType.None) {
        c[C.gso_packets] += 1;
        c[C.gso_bytes] += ipBytes;
      }
      if (status !== ParseStatus.Ok) {
        c[status === ParseStatus.Unsupported ? C.unsupported : C.malformed] += 1;
        this.verdicts[i] = SlotVerdict.Drop;
        continue;
      }
      // A stage may change the packet's length (a NAT helper's payload rewrite) within its
      // slot, when nothing follows the IP packet in the slot.
      const at = i * this.slotSize;
      if (pkt.end === at + len) pkt.maxEnd = at + this.slotSize;
      let verdict: Verdict;
      try {
        verdict = this.stage.process(pkt, now);
      } catch {
        // A bug in a stage must cost one packet, never the node.
        c[C.stage_errors] += 1;
        verdict = Verdict.Drop;
      }
      if (verdict === Verdict.Accept) {
        c[C.verdict_accept] += 1;
        c[C.tx_packets] += 1;
        c[C.tx_bytes] += ipBytes + pkt.lenDelta;
        if (pkt.lenDelta !== 0) this.lengths[i] = len + pkt.lenDelta;
        this.verdicts[i] = SlotVerdict.Forward;
      } else if (verdict === Verdict.Stolen) {
        this.verdicts[i] = SlotVerdict.Drop;
      } else {
        c[verdict === Verdict.Reject ? C.verdict_reject : C.verdict_drop] += 1;
        this.verdicts[i] = SlotVerdict.Drop;
      }
    }
    if (this.stage.endBatch) {
      try {
        this.stage.endBatch(now);
      } catch {
        c[C.stage_errors] += 1;
      }
    }
  }
}
