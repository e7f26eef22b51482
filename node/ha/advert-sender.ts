/**
 * A master's periodic VRRP advertisements from a thread of their own (failover's
 * AdvertRepeater port). The control thread runs VRRP and also parses and compiles
 * rulesets, which can hold it for about a second at the caps (docs/configuration.md): the
 * sender thread keeps advertising meanwhile, so a stall delays nothing a backup hears.
 * Receiving stays on the control thread: a stalled backup only takes over late.
 *
 * Both threads send on the control thread's raw socket (a file descriptor belongs to the
 * process): the same interface, source address, TTL/hop limit 255 and multicast loop
 * setting, and no second raw socket queueing every VRRP packet unread.
 */
import { Worker } from 'node:worker_threads';
import type { AdvertCopy, AdvertOutcome, AdvertRepeater } from '../../failover/index.js';
import { MAX_ADVERT, MAX_COPIES, SHARED_BYTES, Slot, bump, heartbeatNow, lock, sharedAdvert, unlock, type FromAdvertSender, type SharedAdvert } from './advert-sender-shared.js';
import type { AdvertSenderWorkerData } from './advert-sender-worker.js';

interface AdvertSenderOptions {
  /** The raw VRRP socket's descriptor and family (RawVrrpSocket). */
  fd: number;
  family: 4 | 6;
  /** Sends one copy from the control thread (RawVrrpSocket.sendAdvert); throws its error. */
  send(payload: Uint8Array, dst: Uint8Array): void;
  realtimePriority: number;
  /**
   * The thread stops repeating when this thread has shown no life for this long (ms): it
   * covers a long ruleset compile, not a hung control thread (vrrp.controlStallLimitMs).
   */
  stallLimitMs: number;
  /** The thread went silent for a stall beyond stallLimitMs (reported once the stall is over). */
  onSilenced?(stalledMs: number): void;
  /** The thread died or could not start: advertisements then go out from the control thread only. */
  onDead?(err: Error): void;
  workerUrl?: URL;
}

export class WorkerAdvertSender implements AdvertRepeater {
  private readonly shared: SharedAdvert;
  private readonly worker: Worker;
  private readonly listeners = new Set<(o: AdvertOutcome) => void>();
  private alive = true;
  private closing = false;
  private readonly exited: Promise<void>;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly opts: AdvertSenderOptions) {
    const sab = new SharedArrayBuffer(SHARED_BYTES);
    this.shared = sharedAdvert(sab);
    this.shared.ctl[Slot.StallLimitMs] = opts.stallLimitMs;
    this.beat();
    // Proof of life for the sender thread: this timer fires only when this thread runs.
    this.heartbeat = setInterval(() => this.beat(), Math.max(10, Math.min(250, opts.stallLimitMs / 4)));
    this.heartbeat.unref();
    const data: AdvertSenderWorkerData = { sab, fd: opts.fd, family: opts.family, realtimePriority: opts.realtimePriority };
    this.worker = new Worker(opts.workerUrl ?? new URL('./advert-sender-worker.js', import.meta.url), { workerData: data, name: 'hafw-vrrp-adverts' });
    // The control thread's shutdown ends it (close()); it never keeps the process alive.
    this.worker.unref();
    this.worker.on('message', (m: FromAdvertSender) => {
      if (m.type === 'silenced') opts.onSilenced?.(m.stalledMs);
      if (m.type !== 'outcome') return;
      const o: AdvertOutcome = { sent: m.sent, failed: m.failed, error: m.error };
      for (const l of this.listeners) l(o);
    });
    this.worker.on('error', (err) => this.dead(err));
    this.exited = new Promise((resolve) => this.worker.once('exit', (code) => {
      if (!this.closing) this.dead(new Error(`advertisement sender thread exited (code ${code})`));
      resolve();
    }));
  }

  get repeating(): boolean {
    return this.alive && Atomics.load(this.shared.ctl, Slot.Active) === 1;
  }

  repeat(copies: readonly AdvertCopy[], intervalMs: number): AdvertOutcome {
    const { ctl } = this.shared;
    // More peers than the shared memory holds, or a dead thread: send this one only; the
    // instance's own timer sends the next (repeating stays false).
    const keep = this.alive && copies.length <= MAX_COPIES && copies.every((c) => c.payload.length <= MAX_ADVERT);
    this.beat();
    lock(ctl);
    try {
      if (keep) {
        copies.forEach((c, i) => {
          this.shared.payload(i).set(c.payload);
          this.shared.dst(i).set(c.dst);
          ctl[Slot.Lengths + 2 * i] = c.payload.length;
          ctl[Slot.Lengths + 2 * i + 1] = c.dst.length;
        });
        ctl[Slot.Copies] = copies.length;
        ctl[Slot.IntervalMs] = intervalMs;
      }
      Atomics.store(ctl, Slot.Active, keep ? 1 : 0);
      // Sent here, under the lock, so it goes out now and in order with the thread's sends.
      const o: AdvertOutcome = { sent: 0, failed: 0 };
      for (const c of copies) {
        try {
          this.opts.send(c.payload, c.dst);
          o.sent++;
        } catch (err) {
          o.failed++;
          o.error = err instanceof Error ? err.message : String(err);
        }
      }
      bump(ctl);
      return o;
    } finally {
      unlock(ctl);
    }
  }

  stop(): void {
    const { ctl } = this.shared;
    if (Atomics.load(ctl, Slot.Active) === 0) return;
    lock(ctl);
    Atomics.store(ctl, Slot.Active, 0);
    bump(ctl);
    unlock(ctl);
  }

  onOutcome(cb: (o: AdvertOutcome) => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  /** Ends the thread; the socket may be closed once this resolves. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.heartbeat);
    const { ctl } = this.shared;
    if (this.alive) {
      lock(ctl);
      Atomics.store(ctl, Slot.Active, 0);
      Atomics.store(ctl, Slot.Exit, 1);
      bump(ctl);
      unlock(ctl);
    }
    const timeout = new Promise<'timeout'>((r) => setTimeout(r, 2000, 'timeout').unref());
    if ((await Promise.race([this.exited, timeout])) === 'timeout') await this.worker.terminate();
  }

  private beat(): void {
    this.shared.beat[0] = heartbeatNow();
  }

  private dead(err: Error): void {
    if (!this.alive) return;
    this.alive = false;
    // A thread that died holding the lock must not hold the control thread with it.
    Atomics.store(this.shared.ctl, Slot.Active, 0);
    Atomics.store(this.shared.ctl, Slot.Lock, 0);
    this.opts.onDead?.(err);
  }
}
