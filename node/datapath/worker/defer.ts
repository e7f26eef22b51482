/**
 * Deferral of a new connection's first packet until the peers have its state (pfsync's
 * `defer`; active/active with asymmetric paths, docs/active-active.md §4).
 *
 * The race: a SYN leaves through node X, the server's SYN-ACK comes back through node Y. If
 * it reaches Y before X's record of the connection did, Y knows nothing of the connection:
 * the handoff (handoff.ts) cannot send the reply to X, and Y's ruleset judges it alone (a
 * SYN-ACK opens no connection: dropped; the server retransmits a second later). So X holds
 * the first packet of each connection it opens until every live peer has acknowledged the
 * message that carries the connection's record, or `deferMs` has passed, whichever comes
 * first, and only then sends it on. The reply can then come back through any node.
 *
 * How X knows: the connection's New event is pushed into the sync ring; the event's
 * position is the ring's write count right after the push. The sync worker publishes, in
 * the ring's control words, the count of events whose messages every live peer has
 * acknowledged (sync-protocol/runner.ts); a packet is released once that count reaches its
 * position. Waiting costs no polling: Atomics.waitAsync on that word wakes this thread.
 *
 * Bounded: at most `maxPackets` held, each at most MAX_HELD_BYTES long (a first packet is
 * small: a SYN, a DNS query); a packet that does not fit is sent at once and counted.
 * Packets leave in the order they came (positions and deadlines both grow).
 */
import { C } from '../shared/counters.js';

/** Longest packet held (virtio header included); a longer first packet is not deferred. */
export const MAX_HELD_BYTES = 2048;

/** What the deferral reads of the sync ring (sync-protocol EventRing). */
export interface DeferRing {
  readonly written: number;
  readonly acked: number;
  waitAcked(seen: number): Promise<unknown> | null;
}

export interface DeferralOptions {
  ring: DeferRing;
  /** The longest a packet is held (ms). */
  deferMs: number;
  /** Packets held at most. */
  maxPackets: number;
  counters: Float64Array;
  /** Writes a released packet (slot: virtio header and packet) into the device. */
  inject(bytes: Uint8Array, offset: number, length: number): void;
  now(): number;
}

export class Deferral {
  private readonly arena: Uint8Array;
  private readonly lengths: Int32Array;
  private readonly positions: Uint32Array;
  private readonly deadlines: Float64Array;
  private head = 0;
  private count = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private waiting = false;
  private stopped = false;

  constructor(private readonly opts: DeferralOptions) {
    const n = opts.maxPackets;
    this.arena = new Uint8Array(n * MAX_HELD_BYTES);
    this.lengths = new Int32Array(n);
    this.positions = new Uint32Array(n);
    this.deadlines = new Float64Array(n);
  }

  /** Packets held now. */
  get held(): number {
    return this.count;
  }

  /**
   * Holds `buf[offset, offset + length)` (the packet as it will be written: virtio header
   * and packet) until the event just pushed into the ring is acknowledged: copied, the slot
   * is the reader's again once the batch ends. False: not held (full, too long, or already
   * acknowledged), the caller sends it now.
   */
  hold(buf: Uint8Array, offset: number, length: number): boolean {
    const c = this.opts.counters;
    const pos = this.opts.ring.written;
    if (this.isAcked(pos)) return false;
    if (this.count >= this.opts.maxPackets || length > MAX_HELD_BYTES) {
      c[C.defer_overflow] += 1;
      return false;
    }
    const i = (this.head + this.count) % this.opts.maxPackets;
    this.arena.set(buf.subarray(offset, offset + length), i * MAX_HELD_BYTES);
    this.lengths[i] = length;
    this.positions[i] = pos;
    this.deadlines[i] = this.opts.now() + this.opts.deferMs;
    this.count++;
    c[C.defer_held] += 1;
    this.arm();
    return true;
  }

  /** Sends what is acknowledged, and what has waited its deferMs. */
  release(): void {
    const c = this.opts.counters;
    const now = this.opts.now();
    const n = this.opts.maxPackets;
    while (this.count > 0) {
      const i = this.head;
      const acked = this.isAcked(this.positions[i]!);
      if (!acked && this.deadlines[i]! > now) break;
      c[acked ? C.defer_acked : C.defer_timeout] += 1;
      this.opts.inject(this.arena, i * MAX_HELD_BYTES, this.lengths[i]!);
      this.head = (i + 1) % n;
      this.count--;
    }
    if (this.count > 0) this.arm();
  }

  /** Sends everything held (stopping: no packet is lost to a shutdown of the deferral). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const n = this.opts.maxPackets;
    while (this.count > 0) {
      this.opts.inject(this.arena, this.head * MAX_HELD_BYTES, this.lengths[this.head]!);
      this.head = (this.head + 1) % n;
      this.count--;
    }
  }

  /** Whether the event at ring position `pos` (a write count) is acknowledged (serial order, modulo 2^32). */
  private isAcked(pos: number): boolean {
    return ((this.opts.ring.acked - pos) | 0) >= 0;
  }

  /** A wake-up at the head's deadline and on the next acknowledgement. */
  private arm(): void {
    if (this.stopped || this.count === 0) return;
    if (this.timer === undefined) {
      const wait = Math.max(0, this.deadlines[this.head]! - this.opts.now());
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.release();
      }, wait);
    }
    if (!this.waiting) {
      const w = this.opts.ring.waitAcked(this.opts.ring.acked);
      if (w === null) {
        queueMicrotask(() => this.release());
        return;
      }
      this.waiting = true;
      void w.then(() => {
        this.waiting = false;
        if (!this.stopped) this.release();
      });
    }
  }
}
