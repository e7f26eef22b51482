import assert from 'node:assert/strict';
import { SyncEndpoint, type SyncConfig } from './endpoint.js';
import { EventKind, recordKey, type StateRecord } from './state-record.js';
import { EventRing, RING_WALK_END, RING_WALK_RECORD } from './ring.js';
import type { LocalWalk } from './resync.js';
import { Rng } from '../inet/index.js';
import { ReplicaTable, SimLink, churn, makeRecord, type LinkOptions, type SimNode } from './testing/fixtures.js';

const key = Buffer.alloc(32, 0x5a);

/**
 * A node whose table lives outside its endpoint, as in the node (the datapath thread owns
 * it): events go through an EventRing, and a resync walk is the owner putting its records
 * in the same ring (LocalWalk), at most `perTurn` per tick. Slots are reused lowest first,
 * like the conntrack table's free list, so new connections land behind a walk's position.
 */
class TableOwner implements SimNode, LocalWalk {
  readonly ep: SyncEndpoint;
  readonly ring = new EventRing(16384);
  readonly slots: (StateRecord | null)[] = [];
  private readonly where = new Map<string, number>();
  private cursor = -1;
  private marked = new Set<number>();
  private tail: number[] | null = null;
  private ending = false;
  credit = 0;
  walks = 0;
  /** The records the last turn put in the ring. */
  walkedLast: StateRecord[] = [];
  /** Events not put in the ring (a full ring): the next turn raises the overflow. */
  dropEvents = false;

  constructor(nodeId: number, extra: Partial<SyncConfig> = {}, readonly table = new ReplicaTable(), private readonly perTurn = 200) {
    this.ep = new SyncEndpoint({ nodeId, epoch: 1000, key, initialSeq: 0xffffff00, ...extra }, table, this);
  }

  request(start: boolean, records: number): void {
    if (start) {
      this.cursor = 0;
      this.marked.clear();
      this.tail = null;
      this.ending = false;
      this.credit = 0;
    }
    this.credit += records;
  }

  get size(): number {
    return this.where.size;
  }

  has(rec: StateRecord): boolean {
    return this.where.has(recordKey(rec));
  }

  /** A local change: the table first, then the ring (as the datapath's bridge does). */
  event(rec: StateRecord, _now: number): void {
    const k = recordKey(rec);
    let s = this.where.get(k);
    if (rec.kind === EventKind.Destroy) {
      if (s === undefined) return;
      this.slots[s] = null;
      this.where.delete(k);
    } else {
      if (s === undefined) {
        s = this.slots.indexOf(null);
        if (s < 0) s = this.slots.push(null) - 1;
        this.where.set(k, s);
        if (this.cursor < 0 ? this.tail !== null : s < this.cursor) this.marked.add(s);
      }
      this.slots[s] = { ...rec, kind: EventKind.Update };
    }
    // Into the ring only: the next tick reads it, after the walk records put there before.
    if (!this.dropEvents) this.push(rec, rec.kind);
  }

  private push(rec: StateRecord, kind: number): void {
    assert.ok(this.ring.push({ ...rec, kind: kind as EventKind }), 'ring room');
  }

  private turn(now: number): void {
    let n = 0;
    this.walkedLast = [];
    while (this.cursor >= 0 && n < this.perTurn && this.credit > 0) {
      if (this.cursor >= this.slots.length) {
        this.cursor = -1;
        this.tail = [...this.marked];
        break;
      }
      const r = this.slots[this.cursor++];
      if (r) {
        this.push({ ...r, stamp: now }, RING_WALK_RECORD);
        this.walkedLast.push(r);
        n++;
        this.credit--;
      }
    }
    while (this.tail !== null && n < this.perTurn && this.credit > 0) {
      const s = this.tail.pop();
      if (s === undefined) {
        this.tail = null;
        this.ending = true;
        break;
      }
      const r = this.slots[s];
      if (r) {
        this.push({ ...r, stamp: now }, RING_WALK_RECORD);
        n++;
        this.credit--;
      }
    }
    if (this.tail !== null && this.tail.length === 0) {
      this.tail = null;
      this.ending = true;
    }
    if (this.ending) {
      this.ending = false;
      this.walks++;
      this.push(makeRecord(0, EventKind.New, now), RING_WALK_END);
    }
  }

  private drainRing(now: number): void {
    for (let o = this.ring.peek(); o >= 0; o = this.ring.peek()) {
      this.ep.localSlot(this.ring.slotView, this.ring.slotBytes, o, now);
      this.ring.advance();
    }
  }

  /** The worker's turn (ring drained, then flushed as the runner does when it is empty), then the owner's walk turn. */
  tick(now: number): void {
    this.drainRing(now);
    this.ep.flush(now);
    this.ep.tick(now);
    this.turn(now);
  }
  receive(b: Uint8Array, now: number): void {
    this.ep.receive(b, now);
  }
  poll(): Uint8Array | undefined {
    return this.ep.poll();
  }
}

function endpoint(nodeId: number, extra: Partial<SyncConfig> = {}): { ep: SyncEndpoint; table: ReplicaTable } {
  const table = new ReplicaTable();
  return { ep: new SyncEndpoint({ nodeId, epoch: 1000, key, initialSeq: 0xffffff00, ...extra }, table), table };
}

function run(link: SimLink, from: number, maxMs: number, done: () => boolean, stepMs = 0.5): number {
  let now = from;
  for (; now < from + maxMs; now += stepMs) {
    link.step(now);
    if (done()) break;
  }
  return now;
}

/** The replica equals the owner's table: same connections, same latest data, nothing more. */
function assertReplicates(owner: TableOwner, replica: ReplicaTable): void {
  assert.equal(replica.rows.size, owner.size, 'table sizes');
  for (const r of owner.slots) {
    if (r === null) continue;
    const row = replica.rows.get(recordKey(r));
    assert.ok(row !== undefined, 'a connection is missing on the replica');
    assert.equal(row.rec.mark, r.mark, 'latest version');
    assert.equal(row.owner, owner.ep.cfg.nodeId);
  }
}

/** The seeded churn of fixtures.ts from the owner's table (node 0 of the link), the link stepping meanwhile. */
function workload(a: TableOwner, link: SimLink, n: number, from: number, seed: number, perMs = 40): number {
  return churn((r, now) => a.event(r, now), link, 0, n, from, seed, perMs);
}

describe('SyncEndpoint with the table walked where it lives (LocalWalk: no mirror of the table)', function () {
  this.timeout(60000);

  it('holds no copy of the connections: only the events waiting to be sent', () => {
    const a = new TableOwner(1);
    const b = endpoint(2);
    const link = new SimLink([a, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    for (let i = 0; i < 5000; i++) a.event(makeRecord(i, EventKind.New, now), now);
    now = run(link, now, 200, () => link.inFlight === 0 && a.ep.pendingEvents === 0);
    assert.equal(b.table.rows.size, 5000);
    assert.equal(a.ep.heldConnections, 0, 'nothing held once sent');
    assert.throws(() => a.ep.source, /no local mirror/);
    // The mirror of an endpoint without a LocalWalk holds every connection (what this saves).
    const m = endpoint(3);
    for (let i = 0; i < 5000; i++) m.ep.localEvent(makeRecord(i, EventKind.New, 1), 1);
    m.ep.flush(1);
    assert.equal(m.ep.heldConnections, 5000);
  });

  for (const opts of [
    { loss: 0.2, seed: 3 },
    { loss: 0.2, dup: 0.1, reorder: 0.3, jitterMs: 4, seed: 4 },
  ] as LinkOptions[]) {
    it(`converges with ${JSON.stringify(opts)}: NACKs are answered with the records sent`, () => {
      const a = new TableOwner(1);
      const b = endpoint(2);
      const link = new SimLink([a, b.ep], opts);
      a.ep.start(0);
      b.ep.start(0);
      let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
      now = workload(a, link, 3000, now, 2);
      let settled = 0;
      run(link, now, 10000, () => {
        if (b.table.rows.size === a.size && a.ep.pendingEvents === 0 && link.inFlight === 0) settled++;
        else settled = 0;
        return settled > 400;
      });
      assertReplicates(a, b.table);
      assert.ok(a.ep.stats.retransmits > 0, 'losses were repaired by retransmission');
      assert.ok(b.ep.inSync);
    });
  }

  it('a restarted standby gets the whole table from the owner\'s walk while connections come, change and go', () => {
    const a = new TableOwner(1, {}, undefined, 100);
    let b = endpoint(2);
    const link = new SimLink([a, b.ep], { loss: 0.05, reorder: 0.2, jitterMs: 3, seed: 9 });
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    for (let i = 0; i < 6000; i++) a.event(makeRecord(i, EventKind.New, now), now);
    now = run(link, now, 500, () => false);
    // Standby restarted: empty, new epoch.
    b = endpoint(2, { epoch: 1001 });
    link.nodes[1] = b.ep;
    b.ep.start(now);
    // Live traffic during the walk: destroys of walked and unwalked connections, new ones in
    // freed slots (behind the walk), updates.
    const rng = new Rng(5);
    let next = 6000;
    for (let t = 0; t < 400; t++) {
      for (let k = 0; k < 5; k++) {
        const roll = rng.next();
        const id = rng.int(next);
        if (roll < 0.3) a.event(makeRecord(id, EventKind.Destroy, now), now);
        else if (roll < 0.6) a.event(makeRecord(next++, EventKind.New, now), now);
        else a.event(makeRecord(id, EventKind.Update, now, 1 + t), now);
      }
      link.step(now);
      now += 0.5;
    }
    let settled = 0;
    run(link, now, 10000, () => {
      if (b.ep.inSync && b.table.rows.size === a.size && a.ep.pendingEvents === 0 && link.inFlight === 0) settled++;
      else settled = 0;
      return settled > 400;
    });
    assert.ok(a.walks >= 1, 'the owner walked its table');
    assert.ok(b.ep.inSync);
    assertReplicates(a, b.table);
    assert.equal(a.ep.heldConnections, 0);
  });

  it('sends a walk\'s records before the live events that came after them: a destroy is never overtaken', () => {
    const a = new TableOwner(1, {}, undefined, 100);
    let b = endpoint(2);
    const link = new SimLink([a, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    for (let i = 0; i < 2000; i++) a.event(makeRecord(i, EventKind.New, now), now);
    now = run(link, now, 200, () => false);
    b = endpoint(2, { epoch: 1001 });
    link.nodes[1] = b.ep;
    b.ep.start(now);
    // Each step: the owner's turn put 100 walk records in the ring; behind them, the last ten
    // of those are destroyed and 40 other connections updated (a full datagram of live
    // events is sent while the walk's last records wait for their chunk).
    let destroyed = 0;
    for (let t = 0; t < 400 && destroyed < 1500; t++) {
      link.step(now);
      now += 0.5;
      for (const w of a.walkedLast.slice(-10)) {
        a.event({ ...w, kind: EventKind.Destroy, stamp: now }, now);
        destroyed++;
      }
      for (let k = 0; k < 40; k++) if (a.has(makeRecord(1900 + k, EventKind.Update, now))) a.event(makeRecord(1900 + k, EventKind.Update, now, t + 1), now);
    }
    let settled = 0;
    run(link, now, 10000, () => {
      if (b.ep.inSync && a.ep.pendingEvents === 0 && link.inFlight === 0) settled++;
      else settled = 0;
      return settled > 400;
    });
    assert.ok(destroyed > 100, `connections destroyed right behind their walk records (${destroyed})`);
    assertReplicates(a, b.table);
  });

  it('a ring overflow streams a walk that removes on the standby what the lost events destroyed', () => {
    const a = new TableOwner(1);
    const b = endpoint(2);
    const link = new SimLink([a, b.ep]);
    a.ep.start(0);
    b.ep.start(0);
    let now = run(link, 0, 3000, () => a.ep.inSync && b.ep.inSync);
    for (let i = 0; i < 1000; i++) a.event(makeRecord(i, EventKind.New, now), now);
    now = run(link, now, 100, () => false);
    assert.equal(b.table.rows.size, 1000);
    // The datapath destroyed connections 0..99 but those events were dropped (ring full).
    a.dropEvents = true;
    for (let i = 0; i < 100; i++) a.event(makeRecord(i, EventKind.Destroy, now), now);
    a.dropEvents = false;
    now += 1;
    a.ep.rebuildLocal(null, now, now);
    now = run(link, now, 3000, () => b.table.rows.size === 900 && link.inFlight === 0 && !a.ep.bulkReady && a.walks > 0);
    assertReplicates(a, b.table);
    assert.equal(b.table.swept, 100);
    assert.ok(b.ep.inSync);
  });
});
