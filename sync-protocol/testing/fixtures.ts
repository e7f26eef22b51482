/**
 * Test doubles shared by the sync-protocol tests: record factory, a replica table with the
 * apply rules a node must follow, and a simulated lossy link driven by a fake
 * clock. Not exported from index.ts.
 */
import { EventKind, recordKey, type StateRecord, type StateSink } from '../state-record.js';
import { optionalDefaults } from '../record-fields.js';
import { Rng } from '../../inet/index.js';

/** A TCP connection record numbered `i` (distinct tuple per i). */
export function makeRecord(i: number, kind: EventKind, stamp: number, version = 0): StateRecord {
  const src = new Uint8Array([10, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]);
  const dst = new Uint8Array([192, 0, 2, 100]);
  return {
    kind, family: 4, proto: 6, zone: 0,
    origSrc: src, origDst: dst, origSport: 1024 + (i % 60000), origDport: 443,
    replySrc: dst, replyDst: src, replySport: 443, replyDport: 1024 + (i % 60000),
    tcpState: 3,
    origTdEnd: (i * 7919 + version) >>> 0, origTdMaxEnd: (i * 7919 + 65535) >>> 0, origTdMaxWin: 65535, origTdMaxAck: (i * 104729 + 1) >>> 0, origTdScale: 7, origTdFlags: 0x1f,
    replyTdEnd: (i * 104729) >>> 0, replyTdMaxEnd: (i * 104729 + 29200) >>> 0, replyTdMaxWin: 29200, replyTdMaxAck: (i * 7919) >>> 0, replyTdScale: 7, replyTdFlags: 0x1f,
    status: 0x0e, mark: version, timeoutMs: 432000000, nat: null, stamp, ...optionalDefaults(4),
  };
}

/** The apply rules of a replica table (what node/ must implement behind StateSink). */
export class ReplicaTable implements StateSink {
  readonly rows = new Map<string, { rec: StateRecord; owner: number; gen: number }>();
  private readonly beginGen = new Map<number, number>();
  private gen = 0;
  applied = 0;
  swept = 0;
  ended = 0;

  apply(owner: number, rec: StateRecord): void {
    this.applied++;
    const key = recordKey(rec);
    const row = this.rows.get(key);
    if (row !== undefined && rec.stamp < row.rec.stamp) {
      // Late copy of older state: not applied, but the connection exists on the owner, so it
      // counts as refreshed for a resync in progress.
      row.gen = ++this.gen;
      return;
    }
    if (rec.kind === EventKind.Destroy) {
      this.rows.delete(key);
      return;
    }
    // The record may be reused by the caller (SlotReader): keep a copy.
    const copy = { ...rec, origSrc: rec.origSrc.slice(), origDst: rec.origDst.slice(), replySrc: rec.replySrc.slice(), replyDst: rec.replyDst.slice(), nat: rec.nat === null ? null : { ...rec.nat, addr: rec.nat.addr.slice() } };
    this.rows.set(key, { rec: copy, owner, gen: ++this.gen });
  }
  resyncBegin(owner: number): void {
    this.beginGen.set(owner, ++this.gen);
  }
  resyncEnd(owner: number): void {
    this.ended++;
    const g = this.beginGen.get(owner) ?? 0;
    for (const [k, row] of this.rows) {
      if (row.owner === owner && row.gen < g) {
        this.rows.delete(k);
        this.swept++;
      }
    }
  }
}

export interface LinkOptions {
  loss?: number;
  dup?: number;
  /** Probability that a datagram gets an extra random delay of up to jitterMs (reordering). */
  reorder?: number;
  delayMs?: number;
  jitterMs?: number;
  seed?: number;
}

export interface SimNode {
  receive(b: Uint8Array, now: number): void;
  tick(now: number): void;
  poll(): Uint8Array | undefined;
}

/** A broadcast medium between nodes with loss, duplication and reordering. */
export class SimLink {
  private q: { at: number; to: number; bytes: Uint8Array }[] = [];
  private readonly rng: Rng;
  delivered = 0;
  dropped = 0;
  /** When set, datagrams from this node index are dropped (a dead or partitioned node). */
  down = new Set<number>();
  /** Every datagram ever sent, for replay attacks in tests. */
  readonly sent: Uint8Array[] = [];

  constructor(public nodes: SimNode[], private readonly o: LinkOptions = {}) {
    this.rng = new Rng(o.seed ?? 1);
  }

  private transmit(from: number, bytes: Uint8Array, now: number): void {
    this.sent.push(bytes);
    if (this.down.has(from)) return;
    for (let to = 0; to < this.nodes.length; to++) {
      if (to === from || this.down.has(to)) continue;
      const copies = this.rng.next() < (this.o.dup ?? 0) ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        if (this.rng.next() < (this.o.loss ?? 0)) {
          this.dropped++;
          continue;
        }
        let at = now + (this.o.delayMs ?? 0.1);
        if (this.rng.next() < (this.o.reorder ?? 0)) at += this.rng.next() * (this.o.jitterMs ?? 5);
        this.q.push({ at, to, bytes });
      }
    }
  }

  /** Injects a datagram (e.g. a forged or replayed one) to node `to`. */
  inject(to: number, bytes: Uint8Array, now: number): void {
    this.q.push({ at: now, to, bytes });
  }

  /** One step of the fake clock: timers, then delivery of everything due. */
  step(now: number): void {
    for (let i = 0; i < this.nodes.length; i++) {
      this.nodes[i]!.tick(now);
      this.drain(i, now);
    }
    const due = this.q.filter((m) => m.at <= now).sort((a, b) => a.at - b.at);
    if (due.length > 0) this.q = this.q.filter((m) => m.at > now);
    for (const m of due) {
      this.delivered++;
      this.nodes[m.to]!.receive(m.bytes, now);
      this.drain(m.to, now);
    }
  }

  drain(i: number, now: number): void {
    for (let b = this.nodes[i]!.poll(); b !== undefined; b = this.nodes[i]!.poll()) this.transmit(i, b, now);
  }

  get inFlight(): number {
    return this.q.length;
  }
}

/**
 * A seeded churn of new / update / destroy events over `n` connections, `perMs` events a
 * (simulated) ms, handed to `emit`; between bursts the link delivers to node `drainIndex`
 * and steps. Returns the simulated time it ended at.
 */
export function churn(emit: (r: StateRecord, now: number) => void, link: SimLink, drainIndex: number, n: number, from: number, seed: number, perMs = 40): number {
  const rng = new Rng(seed);
  const alive = new Map<number, number>();
  let now = from;
  let made = 0;
  let events = 0;
  while (made < n || events < n * 2) {
    for (let k = 0; k < perMs / 2; k++) {
      const roll = rng.next();
      if (made < n && (roll < 0.5 || alive.size === 0)) {
        alive.set(made, 0);
        emit(makeRecord(made, EventKind.New, now), now);
        made++;
      } else if (alive.size > 0) {
        const id = [...alive.keys()][rng.int(Math.min(alive.size, 64))]!;
        if (roll < 0.9) {
          const v = alive.get(id)! + 1;
          alive.set(id, v);
          emit(makeRecord(id, EventKind.Update, now, v), now);
        } else {
          alive.delete(id);
          emit(makeRecord(id, EventKind.Destroy, now), now);
        }
      }
      events++;
    }
    link.drain(drainIndex, now);
    link.step(now);
    now += 0.5;
  }
  return now;
}
