import assert from 'node:assert/strict';
import { SyncEndpoint, type SyncConfig } from './endpoint.js';
import { EventKind, recordKey, type StateRecord } from './state-record.js';
import { MessageType, decodeMessage, encodeMessage, peekSender } from './wire.js';
import { Rng } from '../inet/index.js';
import { ReplicaTable, SimLink, churn, makeRecord, type LinkOptions, type SimNode } from './testing/fixtures.js';

const key = Buffer.alloc(32, 0x5a);

function endpoint(nodeId: number, extra: Partial<SyncConfig> = {}): { ep: SyncEndpoint; table: ReplicaTable } {
  const table = new ReplicaTable();
  const ep = new SyncEndpoint({ nodeId, epoch: 1000, key, initialSeq: 0xffffff00, ...extra }, table);
  return { ep, table };
}

/** A node whose clock is offset from the simulation's: the protocol must not care. */
function skewed(ep: SyncEndpoint, offset: number): SimNode {
  return {
    tick: (now) => ep.tick(now + offset),
    receive: (b, now) => ep.receive(b, now + offset),
    poll: () => ep.poll(),
  };
}

/** Runs the fake clock in steps of `stepMs` until `done()` or `maxMs`; returns the time reached. */
function run(link: SimLink, from: number, maxMs: number, done: () => boolean, stepMs = 0.5): number {
  let now = from;
  for (; now < from + maxMs; now += stepMs) {
    link.step(now);
    if (done()) break;
  }
  return now;
}

/**
 * Runs until the replica has held the owner's number of rows (and, with `inSync`, the
 * receiver has been in sync) for 200 ms of fake time with nothing left to batch, or `maxMs`.
 */
function runUntilSettled(link: SimLink, from: number, maxMs: number, a: { ep: SyncEndpoint }, b: { ep: SyncEndpoint; table: ReplicaTable }, inSync: boolean): number {
  let settled = 0;
  return run(link, from, maxMs, () => {
    if ((!inSync || b.ep.inSync) && b.table.rows.size === a.ep.source.size && a.ep.pendingEvents === 0) settled++;
    else settled = 0;
    return settled > 400;
  });
}

/** The replica equals the owner's table: same keys, same latest data. */
function assertReplicates(owner: SyncEndpoint, replica: ReplicaTable): void {
  assert.equal(replica.rows.size, owner.source.size, 'table sizes');
  const it = owner.source.entries();
  for (let r = it.next(); !r.done; r = it.next()) {
    const row = replica.rows.get(recordKey(r.value));
    assert.ok(row !== undefined, `missing ${Buffer.from(recordKey(r.value), 'utf16le').toString('hex')}`);
    assert.equal(row.rec.mark, r.value.mark, 'latest version');
    assert.equal(row.owner, owner.cfg.nodeId);
  }
}

/** The seeded churn of fixtures.ts from `ep`'s table, `perMs` events a ms. */
function workload(ep: SyncEndpoint, link: SimLink, n: number, from: number, seed: number, perMs = 40): number {
  return churn((r, now) => ep.localEvent(r, now), link, link.nodes.indexOf(ep as unknown as SimNode), n, from, seed, perMs);
}

describe('SyncEndpoint (simulated link, fake clock)', function () {
  this.timeout(60000);

  it('replicates new/update/destroy events so the standby table equals the active one', () => {
    const a = endpoint(1);
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 2000, () => a.ep.inSync && b.ep.inSync);
    now = workload(a.ep, link, 3000, now, 1);
    run(link, now, 2000, () => link.inFlight === 0 && a.ep.pendingEvents === 0 && b.table.rows.size === a.ep.source.size);
    assertReplicates(a.ep, b.table);
    assert.equal(a.ep.stats.retransmits, 0);
    assert.ok(a.ep.stats.recordsSent < a.ep.stats.msgsSent * 100, 'records were batched');
  });

  for (const opts of [
    { loss: 0.2, seed: 3 },
    { loss: 0.2, dup: 0.1, reorder: 0.3, jitterMs: 4, seed: 4 },
  ] as LinkOptions[]) {
    it(`converges with ${JSON.stringify(opts)} on the sync link, across the sequence wrap`, () => {
      const a = endpoint(1);
      const b = endpoint(2);
      const link = new SimLink([a.ep, b.ep], opts);
      a.ep.start(0);
      b.ep.start(0);
      let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
      now = workload(a.ep, link, 3000, now, 2);
      runUntilSettled(link, now, 10000, a, b, false);
      assertReplicates(a.ep, b.table);
      assert.ok(a.ep.stats.retransmits > 0, 'losses were repaired by retransmission');
      assert.ok(b.ep.stats.nacksSent > 0);
      assert.ok(b.ep.stats.gaps > 0);
      assert.ok(b.ep.inSync);
    });
  }

  // nackRetryMs 8 (the default) is shorter than the 10 ms jitter: NACKs arrive after the
  // repair they asked for. A resend queue of 16 messages makes real LOSTs, so resync walks run while live
  // updates flow, overlap (the next walk's chunks overtake the previous DONE) and are picked
  // up again after a give-up.
  for (const extra of [{ nackRetryMs: 20 }, { nackRetryMs: 8 }, { nackRetryMs: 8, resendQueueSize: 16 }] as Partial<SyncConfig>[]) {
    it(`ends with exactly the owner's latest state under heavy reordering, whatever the seed (${JSON.stringify(extra)})`, () => {
      for (let seed = 1; seed <= 4; seed++) {
        const a = endpoint(1, extra);
        const b = endpoint(2, extra);
        const link = new SimLink([a.ep, b.ep], { loss: 0.05, dup: 0.05, reorder: 0.5, jitterMs: 10, seed });
        a.ep.start(0);
        b.ep.start(0);
        let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
        now = workload(a.ep, link, 800, now, seed * 7);
        runUntilSettled(link, now, 10000, a, b, false);
        assertReplicates(a.ep, b.table);
        assert.ok(b.ep.stats.staleSkipped > 0, 'reordered older records were held back');
        if (extra.resendQueueSize !== undefined) assert.ok(b.ep.stats.lostReceived > 0 && b.ep.stats.resyncsRequested > 1, 'resyncs ran');
      }
    });
  }

  it('streams a 100,000-entry table to a node that starts later, and reports in sync only after it', () => {
    const a = endpoint(1, { bulkChunksPerTick: 64 });
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    a.ep.start(0);
    for (let i = 0; i < 100000; i++) a.ep.localEvent(makeRecord(i, EventKind.New, 0), 0);
    let now = run(link, 0, 2000, () => a.ep.pendingEvents === 0 && a.ep.inSync);
    assert.ok(a.ep.inSync, 'alone after the startup grace');
    b.ep.start(now);
    const t0 = now;
    let sawPartial = false;
    now = run(link, now, 10000, () => {
      if (!b.ep.inSync && b.table.rows.size > 0) sawPartial = true;
      return b.ep.inSync;
    });
    assert.ok(sawPartial, 'not in sync while the table was still arriving');
    assert.equal(b.table.rows.size, 100000);
    assertReplicates(a.ep, b.table);
    assert.ok(now - t0 < 2000, `resync took ${now - t0} ms of simulated time`);
    assert.equal(b.ep.stats.resyncsCompleted, 1);
  });

  /** An owner holding `n` connections whose live DATA went nowhere (the standby was not there), and a fresh standby. */
  function ownerAndLateStandby(n: number, extra: Partial<SyncConfig> = {}): { a: ReturnType<typeof endpoint>; b: ReturnType<typeof endpoint>; link: SimLink; now: number } {
    const a = endpoint(1, extra);
    a.ep.start(0);
    for (let i = 0; i < n; i++) a.ep.localEvent(makeRecord(i, EventKind.New, 0), 0);
    a.ep.flush(0);
    while (a.ep.poll() !== undefined);
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    const now = 1100; // after A's startup grace: it is alone and in sync
    b.ep.start(now);
    return { a, b, link, now };
  }

  it('paces a walk by its window of unacknowledged messages, not by a timer: at one worker turn every 0.1 ms, 100,000 entries arrive in < 200 ms of simulated time (the issue: 1M in < 2 s)', () => {
    const { a, b, link, now: t0 } = ownerAndLateStandby(100000);
    // The walk is complete when B is in sync with A (the node as a whole also waits out its
    // startup grace, in case another peer has not been heard yet).
    const now = run(link, t0, 10000, () => b.ep.peerStatus()[0]?.inSync === true, 0.1);
    assert.equal(b.table.rows.size, 100000);
    assertReplicates(a.ep, b.table);
    assert.ok(now - t0 < 200, `resync took ${now - t0} ms of simulated time`);
  });

  it('a walk leaves at most bulkWindow messages unacknowledged: while the requester\'s ACKs are lost it waits, then goes on', () => {
    const { a, b, link, now: t0 } = ownerAndLateStandby(20000, { bulkWindow: 64 });
    // B's request goes out, then nothing from B arrives (no ACK ever): A must not stream on.
    let now = run(link, t0, 50, () => a.ep.stats.resyncsServed > 0);
    link.down.add(1);
    now = run(link, now, 500, () => false);
    assert.ok(a.ep.resendQueueDepth <= 64 + 2, `walk stopped at its window (${a.ep.resendQueueDepth} held)`);
    assert.ok(b.table.rows.size < 20000 && !b.ep.inSync);
    link.down.delete(1);
    run(link, now, 5000, () => b.ep.inSync);
    assert.ok(b.ep.inSync);
    assertReplicates(a.ep, b.table);
  });

  it('completes a 20,000-entry resync through 20% loss, duplication and reordering while live updates flow', () => {
    const a = endpoint(1, { bulkChunksPerTick: 8 });
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep], { loss: 0.2, dup: 0.1, reorder: 0.3, jitterMs: 3, seed: 11 });
    a.ep.start(0);
    for (let i = 0; i < 20000; i++) a.ep.localEvent(makeRecord(i, EventKind.New, 0), 0);
    let now = run(link, 0, 2000, () => a.ep.inSync);
    b.ep.start(now);
    // Live changes during the walk: updates and destroys of connections already streamed or not.
    for (let k = 0; k < 40; k++) {
      for (let j = 0; j < 25; j++) {
        const id = (k * 997 + j * 31) % 20000;
        a.ep.localEvent(makeRecord(id, j % 5 === 0 ? EventKind.Destroy : EventKind.Update, now, k + 1), now);
      }
      now = run(link, now, 10, () => false);
    }
    runUntilSettled(link, now, 20000, a, b, true);
    assert.ok(b.ep.inSync);
    assertReplicates(a.ep, b.table);
    assert.ok(a.ep.stats.retransmits > 0);
  });

  it('gets the full table again after a restart mid-way (new boot epoch), with loss', () => {
    const a = endpoint(1);
    let b = endpoint(2);
    const link = new SimLink([a.ep, b.ep], { loss: 0.2, seed: 9 });
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    now = workload(a.ep, link, 1500, now, 5);
    // Standby killed and started again with an empty table and a new epoch.
    b = endpoint(2, { epoch: 1001 });
    link.nodes[1] = b.ep;
    b.ep.start(now);
    now = workload(a.ep, link, 1500, now, 6);
    runUntilSettled(link, now, 20000, a, b, true);
    assertReplicates(a.ep, b.table);
    assert.ok(a.ep.stats.peerRestarts >= 1);
    assert.ok(a.ep.stats.resyncsServed >= 1);
  });

  for (const loss of [0, 0.15]) it(`resyncs instead of leaving a silent gap when a NACK asks for data no longer held (loss ${loss})`, () => {
    const a = endpoint(1, { resendQueueSize: 64 });
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep], { loss, seed: 17 });
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    now = workload(a.ep, link, 200, now, 7);
    now = run(link, now, 100, () => false);
    // The link to the standby drops everything for a while: far more messages than the queue holds.
    link.down.add(0);
    now = workload(a.ep, link, 3000, now, 8);
    link.down.delete(0);
    now = workload(a.ep, link, 100, now, 10);
    runUntilSettled(link, now, 20000, a, b, true);
    assert.ok(a.ep.stats.lostSent > 0, 'the sender said it could not repair');
    assert.ok(b.ep.stats.resyncsCompleted >= 2, 'and the standby resynced');
    assertReplicates(a.ep, b.table);
    assert.ok(b.table.swept > 0, 'replicas destroyed during the gap were swept by the resync');
  });

  it('recovers from events lost in a full ring: a dump of the local table, streamed, removes ghosts on the peer', () => {
    const a = endpoint(1);
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    for (let i = 0; i < 1000; i++) a.ep.localEvent(makeRecord(i, EventKind.New, now), now);
    now = run(link, now, 100, () => false);
    assert.equal(b.table.rows.size, 1000);
    // The datapath destroyed connections 0..99 but those events were dropped (ring full).
    const queuedBefore = makeRecord(5, EventKind.Update, now, 3); // an old event still in the ring
    now += 1;
    const dumpTime = now;
    const dump: StateRecord[] = [];
    for (let i = 100; i < 1000; i++) dump.push(makeRecord(i, EventKind.Update, dumpTime - 0.5));
    a.ep.rebuildLocal(dump, dumpTime, now);
    a.ep.localEvent(queuedBefore, now);
    assert.equal(a.ep.stats.localStale, 1, 'the old event does not resurrect connection 5');
    now = run(link, now, 3000, () => b.table.rows.size === 900 && link.inFlight === 0);
    assertReplicates(a.ep, b.table);
    assert.equal(b.table.swept, 100);
    assert.ok(b.ep.inSync);
  });

  it('a ring overflow in the middle of a walk never makes an in-sync standby drop live connections', () => {
    const a = endpoint(1, { bulkChunksPerTick: 1, bulkTickMs: 2 });
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    const table: StateRecord[] = [];
    for (let i = 0; i < 3000; i++) table.push(makeRecord(i, EventKind.New, now));
    for (const r of table) a.ep.localEvent(r, now);
    now = run(link, now, 100, () => false);
    assert.equal(b.table.rows.size, 3000);
    a.ep.streamFullTable(now); // a walk, e.g. for another node
    now = run(link, now, 20, () => false); // part of it is out
    const dumpTime = now + 0.5;
    a.ep.rebuildLocal(table.map((r) => ({ ...r, kind: EventKind.Update, stamp: dumpTime - 0.25 })), dumpTime, now + 1);
    let least = Infinity;
    run(link, now + 1, 3000, () => {
      least = Math.min(least, b.table.rows.size);
      return false;
    });
    assert.equal(least, 3000, 'no live connection went missing on the standby');
    assert.equal(b.table.swept, 0);
    assertReplicates(a.ep, b.table);
  });

  it('replicates between three nodes with two owners, and a late third node syncs from both', () => {
    const n1 = endpoint(1);
    const n2 = endpoint(2);
    const n3 = endpoint(3);
    const link = new SimLink([n1.ep, n2.ep], { loss: 0.1, seed: 21 });
    n1.ep.start(0);
    n2.ep.start(0);
    let now = run(link, 0, 3000, () => n1.ep.inSync && n2.ep.inSync);
    for (let i = 0; i < 2000; i++) {
      n1.ep.localEvent(makeRecord(i, EventKind.New, now), now);
      n2.ep.localEvent(makeRecord(100000 + i, EventKind.New, now), now);
      if (i % 50 === 0) now = run(link, now, 1, () => false);
    }
    link.nodes.push(n3.ep);
    n3.ep.start(now);
    let sawPartial = false;
    run(link, now, 10000, () => {
      if (!n3.ep.inSync && n3.table.rows.size > 0) sawPartial = true;
      return n3.ep.inSync && n3.table.rows.size === 4000 && n1.table.rows.size === 2000 && n2.table.rows.size === 2000;
    });
    assert.ok(sawPartial);
    assert.ok(n3.ep.inSync);
    assert.equal(n3.ep.peerStatus().length, 2);
    const owners = [0, 0, 0, 0];
    for (const row of n3.table.rows.values()) owners[row.owner]!++;
    assert.deepEqual(owners, [0, 2000, 2000, 0]);
    assert.equal(n1.table.rows.size, 2000);
    assert.equal(n2.table.rows.size, 2000);
    for (const row of n1.table.rows.values()) assert.equal(row.owner, 2);
  });

  it('a (re)started node is not in sync with the first peer that answers while another live peer is not heard yet', () => {
    const n1 = endpoint(1);
    const n2 = endpoint(2);
    const n3 = endpoint(3);
    const link = new SimLink([n1.ep, n2.ep], { seed: 23 });
    n1.ep.start(0);
    n2.ep.start(0);
    let now = run(link, 0, 3000, () => n1.ep.inSync && n2.ep.inSync);
    for (let i = 0; i < 2000; i++) n1.ep.localEvent(makeRecord(i, EventKind.New, now), now);
    now = runUntilSettled(link, now, 5000, n1, n2, true);
    assert.equal(n2.table.rows.size, 2000);
    // n3 starts; the path from n1 to n3 loses everything for its first 400 ms. n2 owns
    // nothing: its walk is one empty DONE, and only n1 holds the connections.
    const t0 = now;
    link.nodes.push({
      tick: (t) => n3.ep.tick(t),
      receive: (b, t) => {
        if (peekSender(b) === 1 && t < t0 + 400) return;
        n3.ep.receive(b, t);
      },
      poll: () => n3.ep.poll(),
    });
    n3.ep.start(now);
    let syncedShort = -1;
    now = run(link, now, 5000, () => {
      if (n3.ep.inSync && n3.table.rows.size < 2000 && syncedShort < 0) syncedShort = n3.table.rows.size;
      return n3.ep.inSync && n3.table.rows.size === 2000;
    });
    assert.equal(syncedShort, -1, `in sync holding ${syncedShort} of 2000 connections: n1 was not heard yet`);
    assert.ok(n3.ep.inSync);
    assert.equal(n3.table.rows.size, 2000);
    assert.equal(n3.ep.peerStatus().length, 2);
  });

  it('drops a message that arrives after it was given up (LOST): it cannot bring back a connection destroyed since', () => {
    const b = endpoint(2);
    b.ep.start(0);
    const h = (seq: number, time: number) => ({ flags: 0, node: 1, epoch: 1000, seq, time });
    const x = (kind: EventKind, stamp: number) => makeRecord(7, kind, stamp);
    b.ep.receive(encodeMessage({ type: MessageType.Alive, lastSeq: 9, ...h(0, 1) }, key), 1); // data starts at 10
    b.ep.receive(encodeMessage({ type: MessageType.Data, records: [x(EventKind.Destroy, 2)], ...h(11, 2) }, key), 2); // 10 is missing
    b.ep.receive(encodeMessage({ type: MessageType.Lost, target: 2, targetEpoch: 1000, from: 10, to: 10, ...h(1, 3) }, key), 3);
    assert.equal(b.ep.stats.lostReceived, 1);
    b.ep.receive(encodeMessage({ type: MessageType.Data, records: [x(EventKind.New, 1)], ...h(10, 1) }, key), 4); // the original, late
    assert.equal(b.table.rows.size, 0, 'the destroyed connection stays destroyed');
    assert.equal(b.ep.stats.lateDropped, 1);
  });

  it('drops forged and replayed messages without changing the table', () => {
    const a = endpoint(1);
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    a.ep.localEvent(makeRecord(1, EventKind.New, now), now);
    now = run(link, now, 50, () => false);
    const captured = link.sent.filter((m) => {
      const r = decodeMessage(m, key);
      return r.ok && r.msg.type === MessageType.Data && r.msg.node === 1;
    });
    assert.equal(captured.length, 1);
    a.ep.localEvent(makeRecord(1, EventKind.Destroy, now), now);
    now = run(link, now, 50, () => false);
    assert.equal(b.table.rows.size, 0);
    const applied = b.table.applied;
    link.inject(1, captured[0]!, now);
    const forged = encodeMessage({
      type: MessageType.Data, records: [makeRecord(2, EventKind.New, now)],
      flags: 0, node: 1, epoch: 1000, seq: 12345, time: now,
    }, Buffer.alloc(32, 1));
    link.inject(1, forged, now);
    run(link, now, 50, () => false);
    assert.equal(b.table.rows.size, 0);
    assert.equal(b.table.applied, applied);
    assert.equal(b.ep.stats.drops.replay, 1);
    assert.equal(b.ep.stats.drops.auth, 1);
  });

  it('drops its own looped-back messages and never applies them', () => {
    const a = endpoint(1);
    a.ep.start(0);
    a.ep.localEvent(makeRecord(1, EventKind.New, 0), 0);
    a.ep.tick(5);
    for (let m = a.ep.poll(); m !== undefined; m = a.ep.poll()) a.ep.receive(m, 5);
    assert.ok(a.ep.stats.ownDropped >= 1);
    assert.equal(a.table.applied, 0);
  });

  it('measures lag on the sender clock, unaffected by a large clock offset of the receiver', () => {
    const lags: number[][] = [];
    for (const offset of [0, 1e9, -5e6]) {
      const a = endpoint(1, { flushDelayMs: 1 });
      const b = endpoint(2);
      const link = new SimLink([a.ep, skewed(b.ep, offset)], { delayMs: 2 });
      a.ep.start(0);
      b.ep.start(offset);
      let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
      a.ep.stats.lagSamples.length = 0;
      for (let i = 0; i < 200; i++) {
        a.ep.localEvent(makeRecord(i, EventKind.New, now), now);
        now = run(link, now, 10, () => false);
      }
      lags.push(a.ep.stats.lagSamples.slice());
    }
    for (const s of lags) {
      assert.ok(s.length > 50, `${s.length} samples`);
      const sorted = s.slice().sort((x, y) => x - y);
      const p50 = sorted[sorted.length >> 1]!;
      // 1 ms flush delay (+ one 0.5 ms step) + 2 ms one-way.
      assert.ok(p50 >= 2.5 && p50 <= 4, `p50 ${p50}`);
    }
    assert.deepEqual(lags[1], lags[0]);
    assert.deepEqual(lags[2], lags[0]);
  });

  it('does not claim to be alone while a peer with another cluster key is talking', () => {
    const a = endpoint(1, { startupGraceMs: 500 });
    const stranger = new SyncEndpoint({ nodeId: 2, epoch: 1, key: Buffer.alloc(32, 0x11) }, new ReplicaTable());
    const link = new SimLink([a.ep, stranger]);
    a.ep.start(0);
    stranger.start(0);
    run(link, 0, 2000, () => false);
    assert.equal(a.ep.inSync, false);
    assert.ok(a.ep.stats.drops.auth > 0);
  });

  it('is not in sync before hearing a peer, and alone only after the startup grace', () => {
    const a = endpoint(1, { startupGraceMs: 1000 });
    a.ep.start(0);
    a.ep.tick(999);
    assert.equal(a.ep.inSync, false);
    a.ep.tick(1000);
    assert.equal(a.ep.inSync, true);
  });
});

export type { StateRecord };

describe('lag echo when the sink applies records later (the worker hands them to the table thread)', () => {
  it('holds the echo until the records are in the table and counts the apply delay in the lag', () => {
    const a = endpoint(1).ep;
    const table = new ReplicaTable();
    let appliedToken = 0;
    let appliedTime = NaN;
    const b = new SyncEndpoint({ nodeId: 2, epoch: 1000, key, initialSeq: 5 }, {
      apply: (owner, rec) => table.apply(owner, rec),
      applyToken: () => 1,
      appliedAt: (t) => (appliedToken >= t ? appliedTime : NaN),
    });
    const deliver = (from: SyncEndpoint, to: SyncEndpoint, now: number): void => {
      for (let m = from.poll(); m !== undefined; m = from.poll()) to.receive(m, now);
    };
    a.start(0);
    b.start(0);
    a.tick(0);
    b.tick(0);
    deliver(a, b, 0.5);
    deliver(b, a, 0.5);
    a.localEvent(makeRecord(1, EventKind.New, 10), 10);
    a.flush(10);
    deliver(a, b, 11); // arrives at 11, handed on for applying
    assert.equal(table.rows.size, 1);
    for (let t = 12; t <= 19; t++) {
      b.tick(t);
      deliver(b, a, t + 0.5);
    }
    assert.equal(a.stats.lagSamples.length, 0, 'no echo before the records are in the table');
    appliedToken = 1;
    appliedTime = 20; // in the table 9 ms after arriving
    assert.ok(b.nextTimerAt() <= 21, 'the receiver looks again soon');
    b.tick(21);
    deliver(b, a, 21.5);
    assert.equal(a.stats.lagSamples.length, 1);
    // (sent 10 - stamp 10) + apply 9 + (round trip (21.5 - 10 - hold 10) = 1.5) / 2
    assert.equal(a.stats.lagSamples[0], 9.75);
    assert.deepEqual(a.stats.lagPeers, [b.cfg.nodeId], 'the sample names the peer whose ACK gave it');
  });
});

describe('NACK and LOST ranges from a peer: the work they cause is bounded', function () {
  this.timeout(120000);

  it('answers a NACK for the whole resend queue in slices of resendsPerTick, not all at once', () => {
    const a = endpoint(1, { resendsPerTick: 16 });
    a.ep.start(0);
    const h2 = (seq: number, now: number) => ({ flags: 0, node: 2, epoch: 1000, seq, time: now });
    a.ep.receive(encodeMessage({ type: MessageType.Alive, lastSeq: 0, ...h2(1, 0) }, key), 0);
    for (let i = 0; i < 1000; i++) {
      a.ep.localEvent(makeRecord(i, EventKind.New, 0), 0);
      a.ep.flush(0);
    }
    while (a.ep.poll() !== undefined);
    a.ep.receive(encodeMessage({ type: MessageType.Nack, target: 1, targetEpoch: 1000, ranges: [0xffffff00, (0xffffff00 + 999) >>> 0], ...h2(2, 10) }, key), 10);
    assert.equal(a.ep.poll(), undefined, 'nothing resent while the NACK is handled');
    assert.equal(a.ep.resendsPending, 1000);
    assert.ok(a.ep.nextTimerAt() <= 10, 'tick() wants to run at once');
    let ticks = 0;
    const resent = new Set<number>();
    for (let now = 10; a.ep.resendsPending > 0; now += 0.01) {
      a.ep.tick(now);
      ticks++;
      let n = 0;
      for (let m = a.ep.poll(); m !== undefined; m = a.ep.poll()) {
        const r = decodeMessage(m, key);
        if (r.ok && r.msg.type === MessageType.Data) {
          n++;
          resent.add(r.msg.seq);
        }
      }
      assert.ok(n <= 16, `${n} resent in one tick`);
    }
    assert.equal(resent.size, 1000, 'every sequence asked for was resent once');
    assert.equal(ticks, Math.ceil(1000 / 16));
    assert.equal(a.ep.stats.retransmits, 1000);
  });

  it('handles 10,000 random NACK and LOST ranges each in well under a millisecond, refusing inverted ones', () => {
    /** CPU time of this process (user + system), in ms: what the work costs, whatever else runs. */
    const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
    const rng = new Rng(15);
    // The sender: a peer (node 2) known, 3000 messages held, an ACK trimming part of them.
    const a = endpoint(1);
    a.ep.start(0);
    let ctl = 1000;
    const from2 = (now: number) => ({ flags: 0, node: 2, epoch: 1000, seq: ctl++, time: now });
    const from1 = (now: number) => ({ flags: 0, node: 1, epoch: 1000, seq: ctl++, time: now });
    a.ep.receive(encodeMessage({ type: MessageType.Alive, lastSeq: 0, ...from2(0) }, key), 0);
    for (let i = 0; i < 3000; i++) {
      a.ep.localEvent(makeRecord(i, EventKind.New, i / 100), i / 100);
      a.ep.flush(i / 100);
    }
    while (a.ep.poll() !== undefined);
    const lastSeq = (0xffffff00 + 2999) >>> 0;
    a.ep.receive(encodeMessage({ type: MessageType.Ack, target: 1, targetEpoch: 1000, cumAck: (0xffffff00 + 1000) >>> 0, echoTime: NaN, echoHold: NaN, echoStamp: NaN, ...from2(30) }, key), 30);
    // The receiver: node 1's stream with gaps (every third of 200 missing) and a tail announced by ALIVE.
    const b = endpoint(2);
    b.ep.start(0);
    for (let s = 100; s < 300; s++) if (s % 3 !== 0) b.ep.receive(encodeMessage({ type: MessageType.Data, records: [makeRecord(s, EventKind.New, s)], flags: 0, node: 1, epoch: 1000, seq: s, time: s }, key), 0);
    b.ep.receive(encodeMessage({ type: MessageType.Alive, lastSeq: 5000, ...from1(0) }, key), 0);
    const bBase = 100;

    // Ranges near the places where serial arithmetic and clamping have edges, and plain random ones.
    const anchors = [lastSeq, (lastSeq + 1) >>> 0, (0xffffff00 + 1000) >>> 0, 0xffffff00, bBase, 300, 5000, 0, 0xffffffff];
    const offsets = [0, 1, -1, 2, 1000, -1000, 65535, 65536, -65536, 0x7fffffff, 0x80000000, 0x80000001, -0x7fffffff];
    const pick = (): number => {
      const r = rng.next();
      if (r < 0.2) return (rng.next() * 0x100000000) >>> 0;
      const base = anchors[rng.int(anchors.length)]!;
      const off = offsets[rng.int(offsets.length)]! + (rng.next() < 0.5 ? 0 : rng.int(64) - 32);
      return (base + off) >>> 0;
    };
    let worst = 0;
    let worstRange = '';
    let worstTick = 0;
    const times: number[] = [];
    let inverted = 0;
    let now = 40;
    for (let i = 0; i < 10000; i++) {
      const from = pick();
      const to = rng.next() < 0.3 ? (from + rng.int(100) - 50) >>> 0 : pick();
      if (((to - from) | 0) < 0) inverted++;
      const nack = i % 2 === 0;
      const bytes = nack
        ? encodeMessage({ type: MessageType.Nack, target: 1, targetEpoch: 1000, ranges: [from, to], ...from2(now) }, key)
        : encodeMessage({ type: MessageType.Lost, target: 2, targetEpoch: 1000, from, to, ...from1(now) }, key);
      const t = cpuMs();
      (nack ? a : b).ep.receive(bytes, now);
      const dt = cpuMs() - t;
      times.push(dt);
      if (dt > worst) {
        worst = dt;
        worstRange = `${nack ? 'NACK' : 'LOST'} [${from}, ${to}]`;
      }
      // A range that walks the sequence space takes tens of seconds: stop at the first.
      if (dt > 1000) break;
      // Retransmissions go out from tick(), a bounded slice at a time.
      const tt = cpuMs();
      a.ep.tick(now);
      worstTick = Math.max(worstTick, cpuMs() - tt);
      while (a.ep.poll() !== undefined);
      while (b.ep.poll() !== undefined);
      now += 0.01;
    }
    // CPU time, not wall time: on a loaded machine the thread is preempted between any two
    // reads of the clock, which says nothing about the work a range costs. Still generous (a GC
    // pause counts): the bug this guards against takes 20-30 s for one range; a range is
    // handled in about 10 us (p50) here.
    times.sort((x, y) => x - y);
    const total = times.reduce((x, y) => x + y, 0);
    const p99 = times[Math.floor(times.length * 0.99)]!;
    assert.equal(times.length, 10000, `stopped at ${worstRange}, which took ${worst.toFixed(0)} ms`);
    assert.ok(p99 < 1, `99% of ranges within ${p99.toFixed(3)} ms`);
    assert.ok(worst < 250, `worst range took ${worst.toFixed(1)} ms: ${worstRange}`);
    assert.ok(worstTick < 250, `worst tick took ${worstTick.toFixed(1)} ms`);
    assert.ok(total < 2000, `10,000 ranges took ${total.toFixed(0)} ms`);
    assert.ok(inverted > 1000, `${inverted} inverted ranges were tried`);
    assert.equal(a.ep.stats.rangesRefused + b.ep.stats.rangesRefused, inverted, 'every inverted range counted');
    assert.ok(a.ep.stats.retransmits > 0 && b.ep.stats.lostReceived > 0, 'valid ranges were still answered');
  });
});

describe('replay protection outlives a silent peer', function () {
  this.timeout(60000);

  /** A and B in sync; A sends connection 1 and destroys it; returns the DATA that created it. */
  function capturedThenDestroyed(): { a: { ep: SyncEndpoint }; b: { ep: SyncEndpoint; table: ReplicaTable }; link: SimLink; now: number; captured: Uint8Array } {
    const a = endpoint(1);
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    a.ep.localEvent(makeRecord(1, EventKind.New, now), now);
    now = run(link, now, 50, () => false);
    const captured = link.sent.filter((m) => {
      const r = decodeMessage(m, key);
      return r.ok && r.msg.type === MessageType.Data && r.msg.node === 1;
    });
    assert.equal(captured.length, 1);
    a.ep.localEvent(makeRecord(1, EventKind.Destroy, now), now);
    now = run(link, now, 50, () => false);
    assert.equal(b.table.rows.size, 0);
    return { a, b, link, now, captured: captured[0]! };
  }

  it('a DATA replayed after the peer was forgotten adds no row, is counted, and leaves the node in sync', () => {
    const x = capturedThenDestroyed();
    let now = x.now;
    // A falls silent; B forgets it after peerTimeoutMs.
    x.link.down.add(0);
    now = run(x.link, now, 3500, () => false);
    assert.equal(x.b.ep.peerStatus().length, 0, 'the silent peer was forgotten');
    assert.ok(x.b.ep.inSync, 'alone and in sync');
    const applied = x.b.table.applied;
    const replays = x.b.ep.stats.drops.replay;
    for (let k = 0; k < 3; k++) {
      x.link.inject(1, x.captured, now);
      now = run(x.link, now, 2000, () => false);
    }
    assert.equal(x.b.table.rows.size, 0, 'the destroyed connection stays destroyed');
    assert.equal(x.b.table.applied, applied, 'no record was delivered to the table');
    assert.equal(x.b.ep.stats.drops.replay - replays, 3);
    assert.equal(x.b.ep.peerStatus().length, 0, 'no peer was made from a replay');
    assert.ok(x.b.ep.inSync, 'still in sync');
  });

  it('a peer that comes back after its silence is heard again (same epoch, later sequences), and so is a restarted one', () => {
    const x = capturedThenDestroyed();
    let now = x.now;
    x.link.down.add(0);
    now = run(x.link, now, 3500, () => false);
    assert.equal(x.b.ep.peerStatus().length, 0);
    x.link.down.delete(0);
    x.a.ep.localEvent(makeRecord(2, EventKind.New, now), now);
    now = run(x.link, now, 3000, () => x.b.ep.inSync && x.b.table.rows.size === 1);
    assert.equal(x.b.table.rows.size, 1, 'the peer\'s new connection arrived');
    assert.ok(x.b.ep.inSync);
    assert.equal(x.b.ep.peerStatus()[0]?.epoch, 1000);
    // A restarts (new epoch) while B has forgotten it: a restart, not a replay.
    x.link.down.add(0);
    now = run(x.link, now, 3500, () => false);
    const a2 = endpoint(1, { epoch: 1001 });
    x.link.nodes[0] = a2.ep;
    x.link.down.delete(0);
    a2.ep.start(now);
    a2.ep.localEvent(makeRecord(3, EventKind.New, now), now);
    run(x.link, now, 3000, () => x.b.ep.inSync && x.b.table.rows.size === 1 && x.b.ep.peerStatus()[0]?.epoch === 1001);
    assert.equal(x.b.ep.peerStatus()[0]?.epoch, 1001);
    assert.ok(x.b.ep.stats.peerRestarts >= 1);
    // The old life's messages stay dropped.
    const replays = x.b.ep.stats.drops.replay;
    x.b.ep.receive(x.captured, now + 3001);
    assert.equal(x.b.ep.stats.drops.replay, replays + 1);
  });

  it('remembers at most maxNodeIds node ids: the one forgotten longest ago makes room, and none while all are live', () => {
    const b = endpoint(2, { maxNodeIds: 3 });
    b.ep.start(0);
    const alive = (node: number, seq: number, now: number) =>
      b.ep.receive(encodeMessage({ type: MessageType.Alive, lastSeq: 0, flags: 0, node, epoch: 1000, seq, time: now }, key), now);
    alive(10, 5, 0);
    alive(11, 5, 0);
    alive(12, 5, 0);
    alive(13, 5, 0);
    assert.equal(b.ep.stats.drops.nodes, 1, 'a fourth live node id is refused');
    assert.deepEqual(b.ep.peerStatus().map((p) => p.node), [10, 11, 12]);
    // 10 and 11 fall silent (10 first); 12 stays.
    b.ep.tick(2000);
    alive(12, 6, 2000);
    b.ep.tick(3500);
    assert.deepEqual(b.ep.peerStatus().map((p) => p.node), [12]);
    alive(13, 5, 3600); // room made by letting 10 go
    assert.equal(b.ep.stats.nodeIdsEvicted, 1);
    alive(11, 5, 3600);
    assert.equal(b.ep.stats.drops.replay, 1, '11 is still remembered: its old sequence is a replay');
    alive(11, 6, 3600);
    assert.deepEqual(b.ep.peerStatus().map((p) => p.node).sort(), [11, 12, 13]);
  });
});

describe('datagrams failing authentication', function () {
  this.timeout(60000);
  const forged = (now: number) => encodeMessage({ type: MessageType.Alive, lastSeq: 0, flags: 0, node: 9, epoch: 1, seq: Math.floor(now), time: now }, Buffer.alloc(32, 0x11));

  it('do not make a node that is in sync alone not in sync (a forged datagram every 2 s)', () => {
    const a = endpoint(1, { startupGraceMs: 500 });
    a.ep.start(0);
    a.ep.tick(600);
    assert.ok(a.ep.inSync, 'alone after the startup grace');
    for (let now = 600; now < 20000; now += 10) {
      if (now % 2000 === 0) a.ep.receive(forged(now), now, '198.51.100.66');
      a.ep.tick(now);
      assert.ok(a.ep.inSync, `in sync at ${now} ms`);
    }
    assert.equal(a.ep.stats.drops.auth, 9);
    assert.equal(a.ep.stats.authFailures.lastSource, '198.51.100.66');
  });

  it('do not make a node with an in-sync authenticated peer not in sync', () => {
    const a = endpoint(1);
    const b = endpoint(2);
    const link = new SimLink([a.ep, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    for (let k = 0; k < 10; k++) {
      link.inject(0, forged(now), now);
      now = run(link, now, 2000, () => !a.ep.inSync);
      assert.ok(a.ep.inSync);
    }
    assert.equal(a.ep.stats.drops.auth, 10);
  });

  it('count failures by source address (bounded) and name the latest source', () => {
    const a = endpoint(1);
    a.ep.start(0);
    for (let i = 0; i < 5; i++) a.ep.receive(forged(i), i, '198.51.100.9');
    a.ep.receive(forged(5), 5, '203.0.113.7');
    a.ep.receive(Buffer.from('not a sync datagram at all, but long enough to pass the length check.'), 6, '203.0.113.7');
    const f = a.ep.stats.authFailures;
    assert.equal(f.total, 7);
    assert.equal(f.lastSource, '203.0.113.7');
    assert.equal(f.lastReason, 'magic');
    assert.deepEqual(Object.fromEntries(f.bySource), { '198.51.100.9': 5, '203.0.113.7': 2 });
    // A flood from ever new (spoofed) sources keeps its own label only for the first few.
    for (let i = 0; i < 1000; i++) a.ep.receive(forged(10 + i), 10 + i, `192.0.2.${i % 250}.${i}`);
    assert.equal(f.total, 1007);
    assert.ok(f.bySource.size <= 17, `${f.bySource.size} labels`);
    assert.equal([...f.bySource.values()].reduce((x, y) => x + y, 0), 1007, 'every failure counted under some source');
  });
});

describe('a peer that leaves cleanly, and one that falls silent: gone, not lagging', function () {
  /** Three nodes in sync, n1 owning 100 connections. */
  function threeInSync(): { n: { ep: SyncEndpoint; table: ReplicaTable }[]; link: SimLink; now: number } {
    const n = [endpoint(1), endpoint(2), endpoint(3)];
    const link = new SimLink(n.map((x) => x.ep), { seed: 31 });
    for (const x of n) x.ep.start(0);
    let now = run(link, 0, 3000, () => n.every((x) => x.ep.inSync && x.ep.peerStatus().length === 2));
    for (let i = 0; i < 100; i++) n[0]!.ep.localEvent(makeRecord(i, EventKind.New, now), now);
    now = run(link, now, 2000, () => n[1]!.table.rows.size === 100 && n[2]!.table.rows.size === 100 && n[0]!.ep.pendingEvents === 0);
    return { n, link, now };
  }

  it('leave(): the peers stop counting it at once (not after the peer timeout), report it as left, and take nothing more of that life', () => {
    const { n, link, now: t0 } = threeInSync();
    const [n1, n2, n3] = n as [{ ep: SyncEndpoint; table: ReplicaTable }, { ep: SyncEndpoint; table: ReplicaTable }, { ep: SyncEndpoint; table: ReplicaTable }];
    n3.ep.leave(t0);
    // n3 is gone: only what it sent on leaving is still delivered.
    link.nodes[2] = { tick: () => undefined, receive: () => undefined, poll: () => n3.ep.poll() };
    let now = run(link, t0, 50, () => false);
    for (const x of [n1, n2]) {
      assert.deepEqual(x.ep.peerStatus().map((p) => p.node).sort(), [x === n1 ? 2 : 1], 'n3 no longer counted, 50 ms after it left (the peer timeout is 3 s)');
      assert.deepEqual(x.ep.departedPeers().map((d) => [d.node, d.reason]), [[3, 'left']]);
      assert.equal(x.ep.stats.peersLeft, 1);
      assert.equal(x.ep.stats.peersLost, 0);
      assert.ok(x.ep.inSync);
    }
    // The owner's resend queue no longer waits for n3's ACKs.
    for (let i = 100; i < 150; i++) n1.ep.localEvent(makeRecord(i, EventKind.New, now), now);
    now = run(link, now, 500, () => false);
    assert.equal(n1.ep.resendQueueDepth, 0, 'every message ACKed by the peers still counted');
    // A datagram of that life arriving late (or replayed) brings it back as live: no.
    const replays = n2.ep.stats.drops.replay;
    const late = link.sent.filter((b) => peekSender(b) === 3).at(-2)!;
    link.inject(1, late, now);
    now = run(link, now, 10, () => false);
    assert.equal(n2.ep.peerStatus().length, 1);
    assert.equal(n2.ep.stats.drops.replay, replays + 1);
    // Restarted (a new epoch): live again, no longer departed.
    const again = new SyncEndpoint({ nodeId: 3, epoch: 1001, key, initialSeq: 5 }, new ReplicaTable());
    link.nodes[2] = again;
    again.start(now);
    run(link, now, 3000, () => again.inSync && n2.ep.peerStatus().length === 2);
    assert.equal(n2.ep.peerStatus().length, 2);
    assert.deepEqual(n2.ep.departedPeers(), []);
  });

  it('a peer silent for the peer timeout is reported as lost, with how long ago', () => {
    const { n, link, now: t0 } = threeInSync();
    // Last heard at most one ALIVE interval (200 ms) before t0; let go 3 s after that.
    link.down.add(2);
    const now = run(link, t0, 3600, () => false);
    for (const x of n.slice(0, 2)) {
      assert.equal(x.ep.peerStatus().length, 1);
      const d = x.ep.departedPeers();
      assert.deepEqual(d.map((p) => [p.node, p.reason]), [[3, 'lost']]);
      assert.ok(d[0]!.goneMs >= 0 && d[0]!.goneMs <= now - (t0 - 200) - 3000, `gone ${d[0]!.goneMs} ms ago`);
      assert.equal(x.ep.stats.peersLost, 1);
    }
    assert.ok(now > t0);
  });
});
