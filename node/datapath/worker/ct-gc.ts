/**
 * Conntrack expiry on a timer, in the datapath thread (which owns the table), like Linux's
 * conntrack gc worker: without it an entry whose timeout passed is only removed when a
 * packet batch or a lookup comes across it, so an idle node keeps reporting (and holding
 * capacity for) dead connections until traffic returns.
 *
 * Each tick runs the tracker's one expiry sweep (ConnTracker.expire, shared with the
 * per-packet and per-batch sweeps and their cursor) with bounded work: a slice of the
 * table's slots, sized so the whole table is walked in about `passMs`, and at most
 * `maxExpiredPerTick` destroys. Local entries go with a Destroy event (the sync bridge
 * replicates it to the peer); replicas expire silently (their owner announces its own
 * connections' end; the bridge drops a replica's event).
 */
import type { ConnTracker } from '../../conntrack/index.js';
import { C } from '../shared/counters.js';

interface CtGcOptions {
  /** Time between ticks, ms. */
  intervalMs: number;
  /** A whole-table walk takes about this long, ms (slots per tick = capacity * intervalMs / passMs). */
  passMs: number;
  /** Destroys per tick at most: a burst of expiries is spread over ticks. */
  maxExpiredPerTick: number;
}

/**
 * 10 ticks a second, the table walked every 5 s, at most 2048 expiries a tick (20,480/s).
 * A tick reads capacity/50 slots (20,972 for a 1 M table: tens of microseconds) and, at
 * worst, destroys 2048 entries (each one event into the sync ring).
 */
export const CT_GC_DEFAULTS: CtGcOptions = { intervalMs: 100, passMs: 5000, maxExpiredPerTick: 2048 };

/** Writes the table's figures into the shared counters (read by the control thread). */
export function publishCtCounters(ct: ConnTracker, counters: Float64Array): void {
  counters[C.ct_entries] = ct.count();
  counters[C.ct_invalid] = ct.stats.invalid;
  counters[C.ct_bad_checksum] = ct.stats.badChecksum;
  counters[C.ct_expired] = ct.stats.expired;
  counters[C.ct_expired_replicas] = ct.stats.expiredReplicas;
  counters[C.ct_expectations] = ct.expectations.count();
  counters[C.ct_expect_created] = ct.stats.expectCreated;
  counters[C.ct_expect_matched] = ct.stats.expectMatched;
  counters[C.ct_expect_refused] = ct.stats.expectFull;
  const st = ct.stats;
  counters[C.ct_ftp_foreign] = st.ftpForeign;
  counters[C.ct_ftp_nat_rewritten] = st.ftpNatRewritten;
  counters[C.ct_ftp_nat_retransmitted] = st.ftpNatRetransmitted;
  counters[C.ct_ftp_nat_split] = st.ftpNatSplit;
  counters[C.ct_ftp_nat_failed] = st.ftpNatFailed;
  counters[C.ct_ftp_nat_second] = st.ftpNatSecond;
  counters[C.ct_expect_replicated] = ct.stats.expectReplicated;
  counters[C.ct_expect_replica_refused] = ct.stats.expectReplicaRefused;
}

export class ConntrackGc {
  private readonly slotsPerTick: number;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Expired by this timer (the per-batch sweep and lookups expire too). */
  expired = 0;
  ticks = 0;

  constructor(
    private readonly ct: ConnTracker,
    private readonly counters: Float64Array,
    private readonly clock: () => number,
    private readonly opts: CtGcOptions = CT_GC_DEFAULTS,
    /**
     * Free slots in the ring to the sync worker (absent: no sync). A tick destroys at most
     * half of them, so a mass expiry does not overflow the ring (which costs a full local
     * resync); what is left waits for the next tick.
     */
    private readonly ringRoom?: () => number,
  ) {
    if (!(opts.intervalMs > 0 && opts.passMs >= opts.intervalMs && opts.maxExpiredPerTick >= 1)) {
      throw new RangeError(`conntrack gc: intervalMs > 0, passMs >= intervalMs and maxExpiredPerTick >= 1 needed (got ${JSON.stringify(opts)})`);
    }
    this.slotsPerTick = Math.max(1024, Math.ceil((ct.capacity * opts.intervalMs) / opts.passMs));
  }

  /** One bounded sweep at `now`; returns how many entries it expired. */
  tick(now: number = this.clock()): number {
    this.ticks++;
    let max = this.opts.maxExpiredPerTick;
    if (this.ringRoom) max = Math.min(max, Math.floor(this.ringRoom() / 2));
    const n = max > 0 ? this.ct.expire(now, this.slotsPerTick, max) : 0;
    this.expired += n;
    publishCtCounters(this.ct, this.counters);
    return n;
  }

  /** Ticks every intervalMs on the thread's event loop (`every` is setInterval; tests pass their own). */
  start(every: (fn: () => void, ms: number) => ReturnType<typeof setInterval> = setInterval): void {
    if (this.timer !== undefined) return;
    this.timer = every(() => this.tick(), this.opts.intervalMs);
    // The thread lives as long as its message port; the timer must not hold it on stop.
    (this.timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
