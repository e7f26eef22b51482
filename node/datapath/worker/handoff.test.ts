import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../../packet/build.js';
import { CtStatus, TcpState } from '../../conntrack/index.js';
import { syncClock, type StateRecord } from '../../../sync-protocol/index.js';
import { C, COUNTER_NAMES } from '../shared/counters.js';
import { Verdict } from './stage.js';
import { groupNodeParts } from './testing-sync.js';
import { Handoff, udpHandoffTransport, wireHandoff } from './handoff.js';
import { decodeHandoff, encodeHandoff } from './handoff-codec.js';

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.102';
const KEY = new Uint8Array(32).fill(7);
const A = 51;
const B = 52;

/** One node's datapath side: ruleset, table, sync bridge, filter, and (optionally) the handoff wired as in a node. */
function node(id: number, groups: number[], handoff = true, opts: { ratePerPeer?: number; clock?: () => number } = {}) {
  const { ct, ring, bridge, counters, filter } = groupNodeParts(groups);
  const injected: Uint8Array[] = [];
  const wired = handoff
    ? wireHandoff({ nodeId: id, epoch: 1, key: KEY, vnetHdrLen: 0, counters, ratePerPeer: opts.ratePerPeer ?? 0, stage: filter, filter, ct, bridge, inject: (b, o, l) => void injected.push(b.slice(o, o + l)), clock: opts.clock ?? syncClock })
    : undefined;
  return {
    ct, bridge, counters, injected, handoff: wired?.handoff as Handoff,
    send: (p: Uint8Array): Verdict => filter.process(parseBuilt(p), syncClock()),
    records(): StateRecord[] {
      const out: StateRecord[] = [];
      for (let r = ring.pop(); r !== undefined; r = ring.pop()) out.push(r);
      return out;
    },
  };
}
type Node = ReturnType<typeof node>;

/**
 * Datagrams go from `from` to every node in `to` (the multicast group on the sync segment).
 * `sent` keeps copies: once done, the sender writes the next datagram into the same buffer.
 */
function link(from: Node, to: Node[], sent: Buffer[] = []): Buffer[] {
  from.handoff.transport = {
    send: (d, done) => {
      sent.push(Buffer.from(d));
      for (const n of to) n.handoff.receive(d);
      done();
    },
    close: () => undefined,
  };
  return sent;
}

const syn = buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'S', seq: 100 });
const synAck = buildTcp({ src: SERVER, dst: CLIENT, sport: 80, dport: 40000, flags: 'SA', seq: 900, ack: 101 });
const ack = buildTcp({ src: CLIENT, dst: SERVER, sport: 40000, dport: 80, flags: 'A', seq: 101, ack: 901 });
const data = buildTcp({ src: SERVER, dst: CLIENT, sport: 80, dport: 40000, flags: 'PA', seq: 901, ack: 101, payload: new Uint8Array(20) });

describe('handoff: a packet of another group\'s connection goes to its owner over the sync segment', () => {
  it('asymmetric path: client to server through fwa (group A), server to client through fwb (group B): the handshake completes and fwa tracks both directions', () => {
    const fwa = node(1, [A]);
    const fwb = node(2, [B]);
    link(fwb, [fwa]);
    assert.equal(fwa.send(syn), Verdict.Accept);
    for (const r of fwa.records()) fwb.bridge.apply(1, r, 0);
    // The SYN-ACK comes back through fwb, which holds only a replica of group A's connection.
    assert.equal(fwb.send(synAck), Verdict.Stolen, 'fwb hands it over instead of tracking it');
    assert.equal(fwb.counters[C.handoff_sent], 1);
    assert.equal(fwa.counters[C.handoff_received], 1);
    assert.equal(fwa.injected.length, 1, 'fwa forwarded it');
    assert.deepEqual(fwa.injected[0], synAck);
    // fwa saw the SYN-ACK: the client's ACK is the handshake's, not invalid.
    assert.equal(fwa.send(ack), Verdict.Accept);
    let e = -1;
    fwa.ct.forEach((x) => (e = x));
    assert.equal(fwa.ct.getTcpState(e), TcpState.Established);
    assert.equal(fwb.send(data), Verdict.Stolen);
    assert.equal(fwa.injected.length, 2);
    // fwb's replica is untouched and still fwa's.
    let r = -1;
    fwb.ct.forEach((x) => (r = x));
    assert.notEqual(fwb.ct.getStatus(r) & CtStatus.Replicated, 0);
    assert.equal(fwb.ct.getTcpState(r), TcpState.SynSent);
  });

  it('without the handoff the same path breaks: fwb tracks the SYN-ACK on its replica, fwa drops the client\'s ACK as invalid', () => {
    const fwa = node(1, [A], false);
    const fwb = node(2, [B], false);
    assert.equal(fwa.send(syn), Verdict.Accept);
    for (const r of fwa.records()) fwb.bridge.apply(1, r, 0);
    assert.equal(fwb.send(synAck), Verdict.Accept);
    assert.equal(fwa.send(ack), Verdict.Drop);
  });

  it('every peer hears it, only the owner forwards: a third node holding a replica drops it (counted), and nobody hands it on again', () => {
    const fwa = node(1, [A]);
    const fwb = node(2, [B]);
    const fwc = node(3, []);
    const sent = link(fwb, [fwa, fwc]);
    link(fwa, []);
    link(fwc, []);
    fwa.send(syn);
    for (const r of fwa.records()) {
      fwb.bridge.apply(1, r, 0);
      fwc.bridge.apply(1, r, 0);
    }
    fwb.send(synAck);
    assert.equal(sent.length, 1, 'one datagram');
    assert.equal(fwa.injected.length, 1);
    assert.equal(fwc.injected.length, 0);
    assert.equal(fwc.counters[C.handoff_not_owner], 1);
    assert.equal(fwc.counters[C.handoff_sent], 0);
    // A handed packet of no connection at all opens none on the receiver.
    fwb.handoff.send(buildTcp({ src: SERVER, dst: CLIENT, sport: 80, dport: 41000, flags: 'S', seq: 1 }));
    assert.equal(fwa.injected.length, 1);
    assert.equal(fwa.counters[C.handoff_not_owner], 1);
    assert.equal(fwa.ct.count(), 1);
  });

  it('a node master of the connection\'s group tracks the replica itself (after a takeover): no handoff', () => {
    const fwa = node(1, [A]);
    const fwb = node(2, [A, B]);
    link(fwb, [fwa]);
    fwa.send(syn);
    for (const r of fwa.records()) fwb.bridge.apply(1, r, 0);
    assert.equal(fwb.send(synAck), Verdict.Accept);
    assert.equal(fwb.counters[C.handoff_sent], 0);
  });

  it('refuses a replayed, a tampered and a foreign-key datagram, each counted, before anything reaches the filter', () => {
    const fwa = node(1, [A]);
    const fwb = node(2, [B]);
    const sent = link(fwb, []);
    fwa.send(syn);
    for (const r of fwa.records()) fwb.bridge.apply(1, r, 0);
    fwb.send(synAck);
    const d = sent[0]!;
    fwa.handoff.receive(d);
    assert.equal(fwa.injected.length, 1);
    fwa.handoff.receive(d);
    assert.equal(fwa.injected.length, 1, 'a replay is refused');
    const tampered = Buffer.from(d);
    tampered[30] ^= 1;
    fwa.handoff.receive(tampered);
    const foreign = encodeHandoff({ vnetHdrLen: 0, node: 2, epoch: 1, seq: 99 }, synAck, new Uint8Array(32).fill(8))!;
    fwa.handoff.receive(foreign);
    fwa.handoff.receive(new Uint8Array(10));
    assert.equal(fwa.counters[C.handoff_rejected], 4);
    assert.equal(fwa.counters[C.handoff_received], 1);
    assert.equal(fwa.injected.length, 1);
    // A restarted sender (a later boot epoch) starts its sequence again.
    fwa.handoff.receive(encodeHandoff({ vnetHdrLen: 0, node: 2, epoch: 2, seq: 1 }, synAck, KEY)!);
    assert.equal(fwa.counters[C.handoff_received], 2);
  });

  it('caps what each peer hands over at sync.handoffRate packets/s: the excess is dropped and counted, each peer has its own budget, refilled with time', () => {
    let now = 1000;
    const fwa = node(1, [A], true, { ratePerPeer: 100, clock: () => now }); // bursts of 10
    const seq = new Map<number, number>();
    const from = (peer: number, n: number, epoch = 1): void => {
      for (let i = 0; i < n; i++) {
        const s = (seq.get(peer) ?? 0) + 1;
        seq.set(peer, s);
        fwa.handoff.receive(encodeHandoff({ vnetHdrLen: 0, node: peer, epoch, seq: s }, synAck, KEY)!);
      }
    };
    const count = (): [number, number] => [fwa.counters[C.handoff_received]!, fwa.counters[C.handoff_rate_limited]!];
    from(2, 25);
    assert.deepEqual(count(), [10, 15], 'a burst of 10, the rest dropped');
    from(3, 5);
    assert.deepEqual(count(), [15, 15], 'node 3 is not held back by node 2');
    now += 50; // 5 packets' worth at 100/s
    from(2, 8);
    assert.deepEqual(count(), [20, 18]);
    from(2, 3, 2);
    assert.deepEqual(count(), [20, 21], 'a restart (a new boot epoch) does not refill the budget');
    now += 60_000;
    from(2, 15, 2);
    assert.deepEqual(count(), [30, 26], 'a long quiet spell refills a burst, no more');
    assert.equal(fwa.counters[C.handoff_rejected], 0, 'none of these is a rejected datagram');
    // No cap (0): everything authenticated goes through.
    const open = node(1, [A], true, { ratePerPeer: 0, clock: () => now });
    for (let i = 1; i <= 500; i++) open.handoff.receive(encodeHandoff({ vnetHdrLen: 0, node: 2, epoch: 1, seq: i }, synAck, KEY)!);
    assert.equal(open.counters[C.handoff_received], 500);
    assert.equal(open.counters[C.handoff_rate_limited], 0);
  });

  it('a forged or replayed datagram spends none of its claimed sender\'s budget', () => {
    const fwa = node(1, [A], true, { ratePerPeer: 10, clock: () => 0 }); // a burst of 1
    const good = encodeHandoff({ vnetHdrLen: 0, node: 2, epoch: 1, seq: 1 }, synAck, KEY)!;
    for (let i = 2; i < 50; i++) fwa.handoff.receive(encodeHandoff({ vnetHdrLen: 0, node: 2, epoch: 1, seq: i }, synAck, new Uint8Array(32).fill(8))!);
    fwa.handoff.receive(good);
    fwa.handoff.receive(good);
    assert.equal(fwa.counters[C.handoff_received], 1);
    assert.equal(fwa.counters[C.handoff_rejected], 49);
    assert.equal(fwa.counters[C.handoff_rate_limited], 0);
  });

  it('encodes into a reused buffer once the transport is done with it, and never into one it still holds', () => {
    const fwb = node(2, [B]);
    const seen: Buffer[] = [];
    const pending: (() => void)[] = [];
    let hold = false;
    fwb.handoff.transport = { send: (d, done) => (seen.push(d), hold ? pending.push(done) : done()), close: () => undefined };
    const same = (x: Buffer, y: Buffer): boolean => x.buffer === y.buffer && x.byteOffset === y.byteOffset;
    const slots = [synAck, data, ack, syn];
    fwb.handoff.send(slots[0]!);
    fwb.handoff.send(slots[1]!);
    assert.ok(same(seen[0]!, seen[1]!), 'the second packet reuses the first one\'s buffer');
    hold = true; // as Node's dgram: the bytes go out in a later turn
    fwb.handoff.send(slots[2]!);
    fwb.handoff.send(slots[3]!);
    assert.ok(!same(seen[3]!, seen[2]!), 'a held datagram is not written over');
    for (const i of [2, 3]) {
      const r = decodeHandoff(seen[i]!, KEY, 0);
      assert.ok(r.ok, `datagram ${i} still authentic`);
      assert.ok(Buffer.from(r.slot).equals(Buffer.from(slots[i]!)), `datagram ${i} still carries its own packet`);
    }
    // Sent: both buffers are free again, and the next packets reuse them.
    hold = false;
    for (const done of pending.splice(0)) done();
    fwb.handoff.send(slots[0]!);
    assert.ok(same(seen[4]!, seen[3]!) || same(seen[4]!, seen[2]!), 'a buffer given back is used again');
    // A longer packet than any free buffer: a buffer of its size.
    const big = new Uint8Array(9000).fill(3);
    fwb.handoff.send(big);
    const r = decodeHandoff(seen[5]!, KEY, 0);
    assert.ok(r.ok);
    assert.equal(r.slot.length, 9000);
    assert.equal(fwb.counters[C.handoff_sent], 6);
  });

  it('over real UDP on loopback: a burst handed over in one turn arrives whole and authentic (the socket sends after the call returns)', async () => {
    const counters = (): Float64Array => new Float64Array(COUNTER_NAMES.length);
    const got: Buffer[] = [];
    const rxCounters = counters();
    const rx = new Handoff({ nodeId: 1, epoch: 1, key: KEY, vnetHdrLen: 0, counters: rxCounters, ratePerPeer: 0, clock: () => 0, input: (slot) => void got.push(Buffer.from(slot)) });
    const txCounters = counters();
    const tx = new Handoff({ nodeId: 2, epoch: 1, key: KEY, vnetHdrLen: 0, counters: txCounters, ratePerPeer: 0, clock: () => 0, input: () => undefined });
    const probe = (await import('node:dgram')).createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = probe.address().port;
    probe.close();
    rx.transport = udpHandoffTransport({ mode: 'unicast', bindAddr: '127.0.0.1', peers: [] }, port, (b) => rx.receive(b));
    tx.transport = udpHandoffTransport({ mode: 'unicast', bindAddr: '127.0.0.2', peers: ['127.0.0.1'] }, port, () => undefined);
    try {
      await new Promise((r) => setTimeout(r, 100)); // both bound
      const packets = Array.from({ length: 20 }, (_, i) => buildTcp({ src: SERVER, dst: CLIENT, sport: 80, dport: 40000 + i, flags: 'PA', seq: i, ack: 1, payload: new Uint8Array(i * 10).fill(i) }));
      for (const p of packets) tx.send(p);
      for (const end = Date.now() + 5000; got.length + rxCounters[C.handoff_rejected]! < packets.length && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
      assert.equal(rxCounters[C.handoff_rejected], 0, 'no datagram written over before it left');
      assert.equal(got.length, packets.length);
      for (let i = 0; i < packets.length; i++) assert.ok(got[i]!.equals(Buffer.from(packets[i]!)), `packet ${i} as it was sent`);
    } finally {
      tx.transport.close();
      rx.transport.close();
    }
  });

  it('codec: round trip; refuses a slot too long for one datagram and a virtio header length that differs from the receiver\'s', () => {
    const d = encodeHandoff({ vnetHdrLen: 10, node: 5, epoch: 6, seq: 7 }, new Uint8Array(60).fill(1), KEY)!;
    const r = decodeHandoff(d, KEY, 10);
    assert.ok(r.ok);
    assert.deepEqual(r.header, { vnetHdrLen: 10, node: 5, epoch: 6, seq: 7 });
    assert.equal(r.slot.length, 60);
    assert.deepEqual(decodeHandoff(d, KEY, 0), { ok: false, reason: 'vnet' });
    assert.equal(encodeHandoff({ vnetHdrLen: 0, node: 1, epoch: 1, seq: 1 }, new Uint8Array(65500), KEY), null);
  });
});
