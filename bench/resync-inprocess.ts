/**
 * In-process resync bench (no lab, no namespaces): where a full-table resync spends its
 * time, per entry. `node dist/bench/resync-inprocess.js [entries] [rounds]`.
 *
 * The owner: a real ConnTracker filled the way a packet fills it (track + commit of UDP
 * flows, as bench/sync-injector.ts does), its SyncBridge pushing the events into the real
 * ring, drained into a SyncEndpoint (localSlot, as the sync worker's runner does). The
 * standby: a fresh SyncEndpoint (a restarted node: new epoch, empty table) whose sink is the
 * sync worker's (OpBatchWriter), the op batches applied by applyOps into a SyncBridge over
 * a second real ConnTracker, as the datapath thread does. The two endpoints are joined by a
 * lossless zero-delay link in this one thread, on a fake clock that moves `stepMs` (0.5) per
 * round of the loop (each endpoint ticks once a round, as a worker does once a turn): what
 * is timed is CPU.
 *
 * Two owners: `mirror` (the sync endpoint walks its own copy of the table, as the sync
 * worker did until 2026-12-08) and `table` (no copy: the walk is read from the table by a
 * TableWalker, the datapath thread's part, and comes to the endpoint through the ring, as
 * in a node now); the third argument picks one or `both` (default).
 *
 * Prints, per part, ns of CPU time per entry (the three parts run on three
 * threads in a node pair: owner's sync worker, standby's sync worker, standby's datapath),
 * and the fake time the walk took at one round per `stepMs`: what the pacing (chunks per
 * tick, tick interval, flow-control window) allows at that many worker turns a ms.
 */
import { buildUdp } from '../node/packet/build.js';
import { PacketInfo } from '../node/packet/packet-info.js';
import { parsePacket } from '../node/packet/parse.js';
import { ConnTracker } from '../node/conntrack/index.js';
import { datapathClock } from '../node/datapath/shared/clock.js';
import { SyncBridge } from '../node/datapath/worker/sync-bridge.js';
import { TableWalker } from '../node/datapath/worker/sync-walk.js';
import { EventRing, OpBatchWriter, SyncEndpoint, applyOps, syncClock, type StateRecord, type StateSink, type SyncConfig } from '../sync-protocol/index.js';
import { SlotReader } from '../sync-protocol/ring.js';

const key = new Uint8Array(32).fill(0x5a);

/** This process's CPU time (user + system) in ns: the machine is shared, wall time is noise. */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

export interface ResyncFigures {
  entries: number;
  /** ns per entry, by part. */
  ownerNs: number;
  /** The owner's datapath thread (table mode: the walk read from the table); 0 with a mirror. */
  ownerTableNs: number;
  standbyWorkerNs: number;
  standbyApplyNs: number;
  /** Fake ms from the standby's start to in sync (pacing bound). */
  pacedMs: number;
  datagrams: number;
  recordsPerChunk: number;
  bytesPerRecord: number;
}

/** The owner's table with `n` UDP flows and its endpoint holding them (as after live traffic). */
export function owner(n: number, cfg: Partial<SyncConfig> = {}, tableWalk = false): { ep: SyncEndpoint; ct: ConnTracker; walk?: { table(): void; drain(now: number): void } } {
  const ct = new ConnTracker({ maxEntries: n + 1024, now: datapathClock });
  const ring = new EventRing(1 << 16);
  const bridge = new SyncBridge(ct, ring);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  const none: StateSink = { apply: () => {} };
  const walker = tableWalk ? new TableWalker(ct, bridge, undefined, true) : undefined;
  const ep = new SyncEndpoint({ nodeId: 1, epoch: 100, key, ...cfg }, none, walker === undefined ? undefined : { request: (start, records) => walker.request(start, records) });
  ep.start(0);
  const buf = buildUdp({ src: '198.18.0.0', dst: '198.51.100.100', sport: 1024, dport: 9, noChecksum: true });
  const pkt = new PacketInfo();
  bridge.local = true;
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + 16384);
    const now = datapathClock();
    for (; i < end; i++) {
      // 2^17 sources per source port (198.18.0.0/15), then the next port.
      const sport = 1024 + (i >>> 17);
      buf[20] = sport >>> 8;
      buf[21] = sport & 0xff;
      buf[13] = 18 + ((i >>> 16) & 1);
      buf[14] = (i >>> 8) & 0xff;
      buf[15] = i & 0xff;
      parsePacket(pkt, buf, 0, buf.length, 0);
      ct.track(pkt, now);
      if (!ct.commit(true) || ct.result.entry < 0) throw new Error(`flow ${i} refused`);
    }
    const v = ring.slotView;
    const b = ring.slotBytes;
    for (let o = ring.peek(); o >= 0; o = ring.peek()) {
      ep.localSlot(v, b, o, 0);
      ring.advance();
    }
    ep.flush(0);
    while (ep.poll() !== undefined);
  }
  bridge.local = false;
  if (walker === undefined && ep.source.size !== n) throw new Error(`mirror holds ${ep.source.size} of ${n}`);
  const walk = walker === undefined ? undefined : {
    /** The datapath thread's turn of the walk. */
    table: () => void walker.turn(),
    /** The sync worker's: the ring into the endpoint. */
    drain: (now: number) => {
      for (let o = ring.peek(); o >= 0; o = ring.peek()) {
        ep.localSlot(ring.slotView, ring.slotBytes, o, now);
        ring.advance();
      }
    },
  };
  return { ep, ct, walk };
}

/** One resync of the owner's table to a restarted standby; CPU per part. */
export function resyncOnce(a: SyncEndpoint, n: number, epoch: number, cfg: Partial<SyncConfig> = {}, stepMs = 0.5, walk?: { table(): void; drain(now: number): void }): ResyncFigures {
  const ct = new ConnTracker({ maxEntries: n + 1024, now: datapathClock });
  const bridge = new SyncBridge(ct, new EventRing(64));
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  const ops = new OpBatchWriter();
  const reader = new SlotReader();
  const sink: StateSink = {
    apply: (owner: number, rec: StateRecord, ageMs: number) => ops.apply(owner, rec, ageMs),
    applySlot: (owner: number, _v: DataView, bytes: Uint8Array, o: number, ageMs: number) => ops.applySlot(owner, bytes, o, ageMs),
    resyncBegin: (owner: number) => ops.begin(owner),
    resyncEnd: (owner: number) => ops.end(owner),
  };
  const b = new SyncEndpoint({ nodeId: 2, epoch, key, ...cfg }, sink);
  const step = stepMs;
  // Both clocks run from a.lastNow onward; the owner's endpoint was made earlier at time 0.
  let now = Math.max(1, (a as unknown as { lastNow: number }).lastNow + 1);
  b.start(now);
  const t0 = now;
  let ownerNs = 0;
  let tableNs = 0;
  let workerNs = 0;
  let applyNs = 0;
  let datagrams = 0;
  let chunks = 0;
  let chunkRecords = 0;
  let chunkBytes = 0;
  const deliver = (from: SyncEndpoint, to: SyncEndpoint, toIsB: boolean): void => {
    for (let d = from.poll(); d !== undefined; d = from.poll()) {
      datagrams++;
      if (toIsB && d[3] === 6) {
        chunks++;
        chunkBytes += d.length;
      }
      to.receive(d, now);
    }
  };
  const applied0 = bridge.counts.applied;
  for (let round = 0; round < 1_000_000; round++) {
    let s = cpuNs();
    if (walk !== undefined) {
      walk.table();
      const t = cpuNs();
      tableNs += t - s;
      s = t;
      walk.drain(now);
      a.flush(now);
    }
    a.tick(now);
    let e = cpuNs();
    ownerNs += e - s;
    deliver(a, b, true);
    s = cpuNs();
    workerNs += s - e;
    if (ops.count > 0) {
      const { buf, count } = ops.take();
      applyOps(buf, 0, count, bridge, reader);
      ops.recycle(buf);
    }
    e = cpuNs();
    applyNs += e - s;
    b.tick(now);
    s = cpuNs();
    workerNs += s - e;
    deliver(b, a, false);
    ownerNs += cpuNs() - s;
    if (b.inSync && b.stats.resyncsCompleted > 0 && ops.count === 0 && bridge.counts.applied - applied0 >= n) break;
    now += step;
  }
  chunkRecords = bridge.counts.applied - applied0;
  if (chunkRecords < n) throw new Error(`standby applied ${chunkRecords} of ${n}`);
  return {
    entries: n,
    ownerNs: ownerNs / n,
    ownerTableNs: tableNs / n,
    standbyWorkerNs: workerNs / n,
    standbyApplyNs: applyNs / n,
    pacedMs: now - t0,
    datagrams,
    recordsPerChunk: chunkRecords / Math.max(1, chunks),
    bytesPerRecord: chunkBytes / Math.max(1, chunkRecords),
  };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 170_000);
  const rounds = Number(process.argv[3] ?? 3);
  const modes = (process.argv[4] ?? 'both') === 'both' ? ['mirror', 'table'] : [process.argv[4]!];
  for (const mode of modes) {
  const t = syncClock();
  const { ep, walk } = owner(n, {}, mode === 'table');
  console.log(`${mode}: owner table of ${n} entries built in ${Math.round(syncClock() - t)} ms`);
  for (let r = 0; r < rounds; r++) {
    const f = resyncOnce(ep, n, 1000 + r, {}, 0.5, walk);
    const total = f.ownerNs + f.ownerTableNs + f.standbyWorkerNs + f.standbyApplyNs;
    console.log(
      `${mode} round ${r + 1}: ns/entry owner worker ${f.ownerNs.toFixed(0)}, owner datapath ${f.ownerTableNs.toFixed(0)}, standby worker ${f.standbyWorkerNs.toFixed(0)}, standby apply ${f.standbyApplyNs.toFixed(0)} ` +
        `(sum ${total.toFixed(0)}: ${Math.round(1e9 / total)} entries/s on one core; slowest part ${Math.round(1e9 / Math.max(f.ownerNs, f.standbyWorkerNs, f.standbyApplyNs))}/s); ` +
        `pacing allows ${f.pacedMs.toFixed(0)} ms (${Math.round(n / (f.pacedMs / 1000))}/s); ${f.datagrams} datagrams, ${f.recordsPerChunk.toFixed(1)} records/chunk, ${f.bytesPerRecord.toFixed(1)} bytes/record`,
    );
  }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
