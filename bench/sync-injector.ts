/**
 * The sync bench's load source (bench/sync-bench.ts), run inside a node's datapath thread.
 * Not part of the node: bench/sync-inject-preload.ts registers it through the datapath's
 * extension seam (node/datapath/worker/extensions.ts) when the bench starts the lab's nodes with
 * `--import` of that preload; a node started any other way never loads this file.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { PacketInfo } from '../node/packet/packet-info.js';
import { parsePacket } from '../node/packet/parse.js';
import { buildUdp } from '../node/packet/build.js';
import { datapathClock } from '../node/datapath/shared/clock.js';
import type { ConnTracker } from '../node/conntrack/index.js';
import type { SyncBridge } from '../node/datapath/worker/sync-bridge.js';
import { syncClock } from '../sync-protocol/index.js';

/** A latency histogram in 0.01 ms bins up to 100 ms (bench only). */
class LagBins {
  private readonly bins = new Uint32Array(10_001);
  n = 0;
  max = 0;
  add(ms: number): void {
    const v = Math.max(0, ms);
    this.bins[Math.min(10_000, Math.floor(v * 100))]!++;
    this.n++;
    if (v > this.max) this.max = v;
  }
  q(p: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.ceil(p * this.n);
    let c = 0;
    for (let i = 0; i < this.bins.length; i++) if ((c += this.bins[i]!) >= rank) return Math.min((i + 1) / 100, this.max);
    return this.max;
  }
}

/**
 * Load source for state sync (bench/sync-bench.ts), watching the directory the preload was
 * given (HAFW_SYNC_BENCH_INJECT=<directory>, read by the preload only). It creates new UDP connections in this
 * thread's real table the way a packet does (track + commit, events marked local), so the
 * real ring, sync worker, link and receiver carry them: the counterpart of `conntrack -R`
 * loading the kernel table for conntrackd's baseline. (The lab's load generator, real
 * datagrams through the TUN device, cannot offer more than ~14k new connections/s here.)
 *
 * Requests come from `<dir>/<pid>.json` (polled every 50 ms; a new id starts a run):
 * - `{"id", "count", "rate" (per second, 0 = as fast as possible), "sport"}`: inject;
 *   connection i is 198.18.0.0+i:sport -> 198.51.100.100:9 (each run its own sport);
 * - `{"id", "watchApplied": n}`: note when n more replicas than now have been applied here;
 * - `{"id", "watchLag": ms}`: for `ms`, the lag of every replica applied here (host clock).
 * When done, `<dir>/<pid>.status.json` gets `{"id", "injected", "refused", "startAt", "endAt"}`
 * or `{"id", "applied", "reachedAt"}` (syncClock ms, comparable across processes of a host), or
 * `{"id", "samples", "p50", "p99", "max", "ownerP99", "ownerMax"}` (ms; owner*: the part before the
 * message left the owner).
 */
export class BenchInjector {
  private static readonly SLICE = 2048;
  private readonly buf = buildUdp({ src: '198.18.0.0', dst: '198.51.100.100', sport: 1024, dport: 9, noChecksum: true });
  private readonly pkt = new PacketInfo();
  private readonly ctrlFile: string;
  private readonly statusFile: string;
  private lastId = -1;
  private run = { id: 0, count: 0, rate: 0, done: 0, refused: 0, startAt: 0 };
  private watch = { id: 0, base: 0, target: 0, until: 0 };
  private busy = false;

  constructor(
    private readonly ct: ConnTracker,
    private readonly bridge: SyncBridge,
    dir: string,
  ) {
    this.ctrlFile = `${dir}/${process.pid}.json`;
    this.statusFile = `${dir}/${process.pid}.status.json`;
  }

  start(): void {
    setInterval(() => this.poll(), 50).unref();
  }

  private poll(): void {
    if (this.busy) return;
    let req: { id: number; count?: number; rate?: number; sport?: number; watchApplied?: number; watchLag?: number };
    try {
      req = JSON.parse(readFileSync(this.ctrlFile, 'utf8')) as typeof req;
    } catch {
      return;
    }
    if (req.id === this.lastId) return;
    this.lastId = req.id;
    this.busy = true;
    if (req.watchLag !== undefined) {
      this.lagWatch(req.id, Math.min(Math.max(0, req.watchLag), 60_000));
      return;
    }
    if (req.watchApplied !== undefined) {
      this.watch = { id: req.id, base: this.bridge.counts.applied, target: req.watchApplied, until: syncClock() + 60_000 };
      this.watchTick();
      return;
    }
    const count = Math.min(Math.max(0, (req.count ?? 0) | 0), 1 << 17);
    const sport = (req.sport ?? 1024) & 0xffff;
    this.buf[20] = sport >>> 8;
    this.buf[21] = sport & 0xff;
    this.run = { id: req.id, count, rate: Math.max(0, req.rate ?? 0), done: 0, refused: 0, startAt: syncClock() };
    this.injectTick();
  }

  /**
   * True replication lag for `ms`: apply time here minus the owner's stamp, for every replica
   * applied. Both are syncClock readings of one host (the lab), so no estimate is involved:
   * the bench compares it with the protocol's own ACK-echo measurement.
   */
  private lagWatch(id: number, ms: number): void {
    // 0.01 ms bins; the last one holds everything above 100 ms. Total lag, and its part
    // before the message left the owner (its `ageMs`: ring, worker, batching).
    const total = new LagBins();
    const owner = new LagBins();
    this.bridge.onApplied = (stamp, at, ageMs) => {
      total.add(at - stamp);
      owner.add(ageMs);
    };
    setTimeout(() => {
      this.bridge.onApplied = null;
      this.busy = false;
      this.report({ id, samples: total.n, p50: total.q(0.5), p99: total.q(0.99), max: total.max, ownerP99: owner.q(0.99), ownerMax: owner.max });
    }, ms);
  }

  private watchTick = (): void => {
    const w = this.watch;
    const applied = this.bridge.counts.applied - w.base;
    const now = syncClock();
    if (applied < w.target && now < w.until) {
      setTimeout(this.watchTick, 1);
      return;
    }
    this.busy = false;
    this.report({ id: w.id, applied, reachedAt: now });
  };

  private injectTick = (): void => {
    const r = this.run;
    const due = r.rate > 0 ? Math.min(r.count, Math.floor(((syncClock() - r.startAt) * r.rate) / 1000) + 1) : r.count;
    // Never overflow the ring (that costs a full-table rebuild): a load at the most the
    // sync worker takes, as `conntrack -R` is paced by the kernel's netlink answers.
    const end = Math.min(due, r.done + BenchInjector.SLICE, r.done + Math.max(0, this.bridge.ringRoom - 1024));
    const now = datapathClock();
    const b = this.buf;
    this.bridge.local = true;
    try {
      for (let i = r.done; i < end; i++) {
        // Source 198.18.0.0/15 + i (IPv4 header at 0: source address at 12..15).
        b[13] = 18 + ((i >>> 16) & 1);
        b[14] = (i >>> 8) & 0xff;
        b[15] = i & 0xff;
        parsePacket(this.pkt, b, 0, b.length, 0);
        this.ct.track(this.pkt, now);
        if (!this.ct.commit(true) || this.ct.result.entry < 0) r.refused++;
      }
    } finally {
      this.bridge.local = false;
    }
    const ringLimited = end < Math.min(due, r.done + BenchInjector.SLICE);
    r.done = end;
    if (r.done < r.count) {
      if ((r.rate > 0 && r.done >= due) || ringLimited) setTimeout(this.injectTick, 1);
      else setImmediate(this.injectTick);
      return;
    }
    this.busy = false;
    this.report({ id: r.id, injected: r.done - r.refused, refused: r.refused, startAt: r.startAt, endAt: syncClock(), ringFull: this.bridge.counts.ringFull });
  };

  /** Whole file at once (rename), so the bench never reads half of it. */
  private report(status: Record<string, number>): void {
    writeFileSync(`${this.statusFile}.tmp`, JSON.stringify(status));
    renameSync(`${this.statusFile}.tmp`, this.statusFile);
  }
}
