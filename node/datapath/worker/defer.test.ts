import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../../packet/build.js';
import { TcpState } from '../../conntrack/index.js';
import { syncClock, type StateRecord } from '../../../sync-protocol/index.js';
import { C } from '../shared/counters.js';
import { Verdict } from './stage.js';
import { groupNodeParts } from './testing-sync.js';
import { wireHandoff, type Handoff } from './handoff.js';
import { Deferral, MAX_HELD_BYTES } from './defer.js';

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.102';
const KEY = new Uint8Array(32).fill(7);
const A = 51;
const B = 52;

/** One node's datapath side as in a node with active/active: filter, table, sync bridge and ring, handoff, and the deferral when `deferMs` > 0. */
function node(id: number, groups: number[], deferMs: number) {
  const { ct, ring, bridge, counters, filter } = groupNodeParts(groups);
  /** What this node wrote into its TUN device after the filter: what goes on the wire. */
  const wire: Uint8Array[] = [];
  const inject = (b: Uint8Array, o: number, l: number) => void wire.push(b.slice(o, o + l));
  const handoff = wireHandoff({ nodeId: id, epoch: 1, key: KEY, vnetHdrLen: 0, counters, ratePerPeer: 0, stage: filter, filter, ct, bridge, inject, clock: syncClock }).handoff;
  const deferral = deferMs > 0 ? new Deferral({ ring, deferMs, maxPackets: 4, counters, inject, now: syncClock }) : undefined;
  if (deferral) filter.defer = (buf, offset, length) => deferral.hold(buf, offset, length);
  return {
    ct, bridge, ring, counters, wire, handoff: handoff as Handoff, deferral,
    /** A packet from the TUN device: what the filter says, and an accepted one goes on the wire. */
    send(p: Uint8Array): Verdict {
      const v = filter.process(parseBuilt(p), syncClock());
      if (v === Verdict.Accept) wire.push(p);
      return v;
    },
    /** The sync worker: takes the ring's events (as records) ... */
    records(): StateRecord[] {
      const out: StateRecord[] = [];
      for (let r = ring.pop(); r !== undefined; r = ring.pop()) out.push({ ...r, origSrc: r.origSrc.slice(), origDst: r.origDst.slice(), replySrc: r.replySrc.slice(), replyDst: r.replyDst.slice() });
      return out;
    },
    /** ... and, once every peer acknowledged their message, says so to the datapath. */
    acknowledge(): void {
      ring.publishAcked(ring.read);
    },
  };
}
type Node = ReturnType<typeof node>;

function link(from: Node, to: Node[]): void {
  from.handoff.transport = { send: (d) => { for (const n of to) n.handoff.receive(d); }, close: () => undefined };
}

async function until(cond: () => boolean, ms = 2000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
  return cond();
}

const syn = buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'S', seq: 100 });
const synAck = buildTcp({ src: SERVER, dst: CLIENT, sport: 80, dport: 40000, flags: 'SA', seq: 900, ack: 101 });
const ack = buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'A', seq: 101, ack: 901 });

describe('deferral: a new connection\'s first packet waits until the peers have its state (the SYN-ACK race)', () => {
  it('without it: the SYN leaves at once, the server\'s SYN-ACK reaches fwb before the connection\'s record and fwb drops it', () => {
    const fwa = node(1, [A], 0);
    const fwb = node(2, [B], 0);
    link(fwb, [fwa]);
    assert.equal(fwa.send(syn), Verdict.Accept);
    assert.equal(fwa.wire.length, 1, 'the SYN is on the wire');
    // The server answers at once, through group B; fwa's record is still in its sync worker.
    assert.equal(fwb.send(synAck), Verdict.Drop, 'fwb knows no such connection: its ruleset drops a SYN-ACK');
    assert.equal(fwb.counters[C.handoff_sent], 0);
    assert.equal(fwa.wire.length, 1, 'nothing reached the client');
  });

  it('with it: fwa holds the SYN until the record is acknowledged; the SYN-ACK through fwb then goes to fwa and the handshake completes', async () => {
    const fwa = node(1, [A], 1000);
    const fwb = node(2, [B], 0);
    link(fwb, [fwa]);
    assert.equal(fwa.send(syn), Verdict.Stolen, 'held');
    assert.equal(fwa.wire.length, 0, 'the SYN has not left');
    assert.equal(fwa.deferral!.held, 1);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(fwa.wire.length, 0, 'still held: not acknowledged, deferMs not passed');
    // The sync worker sends the record; fwb applies it and acknowledges.
    for (const r of fwa.records()) fwb.bridge.apply(1, r, 0);
    fwa.acknowledge();
    assert.ok(await until(() => fwa.wire.length === 1), 'released on the acknowledgement');
    assert.deepEqual(fwa.wire[0], syn);
    assert.equal(fwa.counters[C.defer_held], 1);
    assert.equal(fwa.counters[C.defer_acked], 1);
    assert.equal(fwa.counters[C.defer_timeout], 0);
    // Only now can the server answer, and fwb knows the connection: it hands the SYN-ACK to fwa.
    assert.equal(fwb.send(synAck), Verdict.Stolen);
    assert.equal(fwa.wire.length, 2);
    assert.deepEqual(fwa.wire[1], synAck);
    assert.equal(fwa.send(ack), Verdict.Accept);
    let e = -1;
    fwa.ct.forEach((x) => (e = x));
    assert.equal(fwa.ct.getTcpState(e), TcpState.Established);
  });

  it('holds only a connection\'s first packet: later packets and replies pass at once', async () => {
    const fwa = node(1, [A, B], 1000);
    assert.equal(fwa.send(syn), Verdict.Stolen);
    fwa.records();
    fwa.acknowledge();
    assert.ok(await until(() => fwa.wire.length === 1));
    assert.equal(fwa.send(synAck), Verdict.Accept);
    assert.equal(fwa.send(ack), Verdict.Accept);
    assert.equal(fwa.counters[C.defer_held], 1);
  });

  it('the bound: with no acknowledgement the packet leaves after deferMs (counted as a timeout), in order', async () => {
    const fwa = node(1, [A], 15);
    const syn2 = buildTcp({ src: CLIENT, dst: SERVER, sport: 40001, dport: 80, flags: 'S', seq: 100 });
    assert.equal(fwa.send(syn), Verdict.Stolen);
    assert.equal(fwa.send(syn2), Verdict.Stolen);
    assert.equal(fwa.wire.length, 0);
    assert.ok(await until(() => fwa.wire.length === 2), 'released by the bound');
    assert.deepEqual(fwa.wire, [syn, syn2]);
    assert.equal(fwa.counters[C.defer_timeout], 2);
    assert.equal(fwa.counters[C.defer_acked], 0);
  });

  it('bounded: a full deferral or a packet too long to hold sends at once (counted); stop() sends what is held', () => {
    const fwa = node(1, [A], 1000);
    for (let i = 0; i < 4; i++) assert.equal(fwa.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 41000 + i, dport: 80, flags: 'S', seq: 1 })), Verdict.Stolen);
    assert.equal(fwa.send(buildTcp({ src: CLIENT, dst: SERVER, sport: 41004, dport: 80, flags: 'S', seq: 1 })), Verdict.Accept, 'full: not held');
    assert.equal(fwa.counters[C.defer_overflow], 1);
    assert.equal(fwa.deferral!.hold(new Uint8Array(MAX_HELD_BYTES + 1), 0, MAX_HELD_BYTES + 1), false);
    assert.equal(fwa.counters[C.defer_overflow], 2);
    fwa.deferral!.stop();
    assert.equal(fwa.wire.length, 5, 'the four held and the one sent at once');
    assert.equal(fwa.deferral!.held, 0);
  });
});
