import assert from 'node:assert/strict';
import { BatchProcessor } from './batch-processor.js';
import { C, createCounterBuffer } from '../shared/counters.js';
import { PassThroughStage, Verdict, type PacketStage } from './stage.js';
import type { PacketInfo } from '../../packet/packet-info.js';

const SLOT = 2048;
const HDR = 10;

/** A minimal IPv4/UDP packet (checksums are not the parser's business). */
function udp4(sport: number, dport: number, payload = 4): Uint8Array {
  const p = new Uint8Array(20 + 8 + payload);
  const dv = new DataView(p.buffer);
  p[0] = 0x45;
  dv.setUint16(2, p.length);
  p[8] = 64;
  p[9] = 17;
  p.set([192, 0, 2, 100], 12);
  p.set([198, 51, 100, 100], 16);
  dv.setUint16(20, sport);
  dv.setUint16(22, dport);
  dv.setUint16(24, 8 + payload);
  return p;
}

function setup(stage: PacketStage, packets: Uint8Array[]) {
  const arena = new Uint8Array(SLOT * packets.length);
  const lengths = new Int32Array(packets.length);
  const verdicts = new Uint8Array(packets.length).fill(9);
  packets.forEach((p, i) => {
    arena.set(p, i * SLOT + HDR);
    lengths[i] = HDR + p.length;
  });
  const counters = new Float64Array(createCounterBuffer());
  const bp = new BatchProcessor(arena, SLOT, lengths, verdicts, counters, HDR, stage);
  return { bp, verdicts, counters };
}

describe('datapath batch processor (no device)', () => {
  it('forwards every well-formed packet with the pass-through stage and counts bytes', () => {
    const { bp, verdicts, counters } = setup(new PassThroughStage(), [udp4(1000, 53), udp4(1001, 53, 100)]);
    bp.process(2, 0);
    assert.deepEqual([...verdicts], [1, 1]);
    assert.equal(counters[C.rx_packets], 2);
    assert.equal(counters[C.tx_packets], 2);
    assert.equal(counters[C.rx_bytes], 32 + 128);
    assert.equal(counters[C.max_packet_bytes], 128);
    assert.equal(counters[C.batches], 1);
  });

  it('drops and counts truncated packets without calling the stage', () => {
    let called = 0;
    const stage: PacketStage = { process: () => (called++, Verdict.Accept) };
    const truncated = udp4(1, 2).subarray(0, 12);
    const { bp, verdicts, counters } = setup(stage, [truncated, udp4(1, 2)]);
    bp.process(2, 0);
    assert.deepEqual([...verdicts], [0, 1]);
    assert.equal(counters[C.malformed], 1);
    assert.equal(called, 1);
  });

  it('hands the stage the parsed ports and applies its verdicts', () => {
    const stage: PacketStage = { process: (p: PacketInfo) => (p.dport === 53 ? Verdict.Accept : p.dport === 80 ? Verdict.Reject : Verdict.Drop) };
    const { bp, verdicts, counters } = setup(stage, [udp4(1, 53), udp4(1, 80), udp4(1, 81)]);
    bp.process(3, 0);
    assert.deepEqual([...verdicts], [1, 0, 0]);
    assert.equal(counters[C.verdict_accept], 1);
    assert.equal(counters[C.verdict_reject], 1);
    assert.equal(counters[C.verdict_drop], 1);
  });

  it('a stage that throws costs one packet, not the loop', () => {
    const stage: PacketStage = {
      process: (p: PacketInfo) => {
        if (p.sport === 666) throw new Error('bug');
        return Verdict.Accept;
      },
    };
    const { bp, verdicts, counters } = setup(stage, [udp4(666, 1), udp4(1, 1)]);
    bp.process(2, 0);
    assert.deepEqual([...verdicts], [0, 1]);
    assert.equal(counters[C.stage_errors], 1);
  });
});
