import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../packet/build.js';
import { verifyL4Checksum } from '../packet/checksum.js';
import type { PacketInfo } from '../packet/packet-info.js';
import { SeqAdj, ackOffset, seqAdjRecord, seqAdjustPacket, seqOffset } from './seqadj.js';

const C = '10.0.0.5';
const S = '203.0.113.9';

/** A SACK option (NOP, NOP, kind 5) with the blocks. */
function sack(blocks: [number, number][]): Uint8Array {
  const o = [1, 1, 5, 2 + 8 * blocks.length];
  for (const [l, r] of blocks) for (const v of [l, r]) o.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  return Uint8Array.from(o);
}

function sackEdges(p: PacketInfo): number[] {
  const at = p.tcpOptOff + 2;
  const n = (p.buf[at + 1]! - 2) / 4;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = at + 2 + 4 * i;
    out.push(((p.buf[k]! << 24) | (p.buf[k + 1]! << 16) | (p.buf[k + 2]! << 8) | p.buf[k + 3]!) >>> 0);
  }
  return out;
}

/** Reads seq and ack from the bytes (not the parsed fields), and checks the checksum. */
function onWire(p: PacketInfo): { seq: number; ack: number } {
  const q = parseBuilt(p.buf.slice());
  assert.ok(verifyL4Checksum(q), 'TCP checksum after the adjustment');
  return { seq: q.seq >>> 0, ack: q.ack >>> 0 };
}

describe('seqadj (TCP sequence adjustment after a payload resize)', () => {
  it('a change of +4 at seq 1001 (original): later segments move, the rewritten one and earlier ones do not', () => {
    const a = new SeqAdj();
    assert.ok(seqAdjRecord(a, 0, 1001, 4));
    assert.equal(seqOffset(a, 0, 1001), 0, 'the rewritten segment (and a retransmission of it)');
    assert.equal(seqOffset(a, 0, 900), 0);
    assert.equal(seqOffset(a, 0, 1023), 4);
    assert.equal(seqOffset(a, 1, 1023), 0, 'the other direction has none');
    // ACKs from the other side count in the adjusted space.
    assert.equal(ackOffset(a, 0, 1001 + 26), 4);
    assert.equal(ackOffset(a, 0, 1001), 0);
  });

  it('growing then shrinking: offsets add up; a change at an older place is refused', () => {
    const a = new SeqAdj();
    assert.ok(seqAdjRecord(a, 1, 5000, 4));
    assert.ok(seqAdjRecord(a, 1, 6000, -6));
    assert.equal(seqOffset(a, 1, 5500), 4, 'between the two changes');
    assert.equal(seqOffset(a, 1, 6000), 4, 'the second rewritten segment itself');
    assert.equal(seqOffset(a, 1, 6100), -2);
    assert.equal(ackOffset(a, 1, 6100 - 2), -2);
    assert.equal(ackOffset(a, 1, 6000 + 4), 4);
    assert.equal(seqAdjRecord(a, 1, 6000, 3), false, 'same place again');
    assert.equal(seqAdjRecord(a, 1, 5999, 3), false, 'older place');
    assert.equal(seqOffset(a, 1, 6100), -2, 'unchanged');
  });

  it('wraps around 2^32', () => {
    const a = new SeqAdj();
    assert.ok(seqAdjRecord(a, 0, 0xfffffff0, 10));
    assert.equal(seqOffset(a, 0, 5), 10);
    assert.equal(seqOffset(a, 0, 0xffffffe0), 0);
  });

  it('adjusts a packet both ways: seq by its direction, ack and SACK edges back by the other; checksum right', () => {
    const a = new SeqAdj();
    seqAdjRecord(a, 0, 1001, 4); // the client's PORT grew by 4
    seqAdjRecord(a, 1, 5001, -3); // the server's 227 shrank by 3
    // The client's next segment: seq +4; it acknowledges the server's bytes in its (adjusted) view: +3.
    const c = parseBuilt(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'PA', seq: 1023, ack: 5001 + 47, payload: 'LIST\r\n', options: sack([[5001 + 50, 5001 + 60]]) }));
    seqAdjustPacket(a, 0, c);
    assert.deepEqual(onWire(c), { seq: 1027, ack: 5001 + 50 });
    assert.deepEqual(sackEdges(c), [5001 + 53, 5001 + 63]);
    assert.deepEqual([c.seq, c.ack], [1027, 5001 + 50]);
    // The server's segment: seq -3 after its change; its ack and SACK back by 4.
    const s = parseBuilt(buildTcp({ src: S, dst: C, sport: 21, dport: 40000, flags: 'A', seq: 5100, ack: 1001 + 26, options: sack([[1001 + 30, 1001 + 36], [1001 + 40, 1001 + 44]]) }));
    seqAdjustPacket(a, 1, s);
    assert.deepEqual(onWire(s), { seq: 5097, ack: 1001 + 22 });
    assert.deepEqual(sackEdges(s), [1001 + 26, 1001 + 32, 1001 + 36, 1001 + 40]);
  });

  it('a retransmission of the rewritten segment gets the same offset as the first time', () => {
    const a = new SeqAdj();
    const mk = (): PacketInfo => parseBuilt(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'PA', seq: 1001, ack: 5001, payload: 'PORT 198,51,100,2,195,80\r\n' }));
    const first = mk();
    seqAdjRecord(a, 0, 1001, 4);
    seqAdjustPacket(a, 0, first);
    const again = mk();
    seqAdjustPacket(a, 0, again);
    assert.deepEqual(again.buf, first.buf);
    assert.equal(onWire(again).seq, 1001);
  });

  it('a segment without ACK keeps its ack field; no adjustment, no change', () => {
    const a = new SeqAdj();
    seqAdjRecord(a, 1, 5001, 4);
    const syn = parseBuilt(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'S', seq: 7, ack: 9999 }));
    const before = syn.buf.slice();
    seqAdjustPacket(a, 0, syn);
    assert.deepEqual(syn.buf, before);
  });
});
