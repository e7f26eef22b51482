/**
 * The timer-and-socket shell around a SyncEndpoint: reads local events from the ring, calls
 * tick() when the endpoint asks, hands received datagrams in and sends what comes out. All
 * protocol decisions stay in the endpoint; this only moves bytes and reads the clock.
 */
import { syncClock } from './lag.js';
import type { SyncEndpoint } from './endpoint.js';
import type { EventRing } from './ring.js';

export interface Sender {
  send(buf: Uint8Array): void;
}

export interface RunnerOptions {
  /**
   * Longest sleep between looks at the ring (ms). The producer wakes the runner when it
   * pushes into the empty ring (EventRing.waitNonEmpty), so this is only a safety net.
   */
  pollMs?: number;
  /**
   * Send what is batched as soon as the ring is empty (default true), instead of waiting
   * up to flushDelayMs for more: under load the ring fills while a wake-up is served, so
   * messages still leave full; at a low rate nothing waits for company (TCP_NODELAY-like).
   */
  flushWhenIdle?: boolean;
  /** Most ring events taken per wake-up, so received traffic is served in between. */
  ringBatch?: number;
  /** Called when the datapath dropped events (ring full): rebuild the local view, e.g. ask for a dump. */
  onRingOverflow?: () => void;
  clock?: () => number;
}

/** Ring positions waiting for their messages' acknowledgement, at most (older ones are merged away). */
const MAX_ACK_MARKS = 256;

export class SyncRunner {
  /**
   * Ring read counts paired with the last sequence sent when every event before them had
   * left (nothing batched): once every live peer acknowledged that sequence, the count is
   * published to the datapath (EventRing.publishAcked; the deferral waits for it).
   */
  private readonly marks: { pos: number; seq: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private parked = false;
  private readonly clock: () => number;
  private running = false;

  constructor(
    readonly endpoint: SyncEndpoint,
    private readonly out: Sender,
    private readonly ring: EventRing | null = null,
    private readonly opts: RunnerOptions = {},
  ) {
    this.clock = opts.clock ?? syncClock;
  }

  start(): void {
    this.running = true;
    this.endpoint.start(this.clock());
    this.loop();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  /** Stops, and tells the peers this node leaves (SyncEndpoint.leave): sent before the transport closes. */
  leave(): void {
    this.stop();
    this.endpoint.leave(this.clock());
    this.flushOut();
  }

  /** Feed one received datagram (from the transport's message callback); `from` is its source address. */
  onDatagram(buf: Uint8Array, from = ''): void {
    const now = this.clock();
    this.endpoint.receive(buf, now, from);
    this.flushOut();
    this.publishAcks(now);
    // An ACK opened a resync walk's window: go on right after the received traffic.
    if (this.running && this.immediate === null && this.endpoint.bulkReady) this.immediate = setImmediate(this.loop);
  }

  private loop = (): void => {
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (!this.running) return;
    let now = this.clock();
    let more = false;
    const ring = this.ring;
    if (ring !== null) {
      if (ring.takeResyncNeeded()) this.opts.onRingOverflow?.();
      const max = this.opts.ringBatch ?? 4096;
      let i = 0;
      // Each event is read where it lies in the ring, no record made (localSlot).
      const v = ring.slotView;
      const b = ring.slotBytes;
      for (; i < max; i++) {
        const o = ring.peek();
        if (o < 0) break;
        this.endpoint.localSlot(v, b, o, now);
        ring.advance();
      }
      more = i === max;
      now = this.clock();
      if (!more && i > 0 && this.opts.flushWhenIdle !== false) this.endpoint.flush(now);
    }
    this.endpoint.tick(now);
    this.flushOut();
    if (ring !== null) {
      this.markSent(ring);
      this.publishAcks(now);
    }
    if (more) {
      // Serve received traffic (ACKs, NACKs) between ring batches.
      this.immediate = setImmediate(this.loop);
      return;
    }
    if (ring !== null && !this.parked) {
      const wake = ring.waitNonEmpty();
      if (wake === null) {
        this.immediate = setImmediate(this.loop);
        return;
      }
      this.parked = true;
      void wake.then(() => {
        this.parked = false;
        this.loop();
      });
    }
    // Retransmissions waiting (sent a slice per tick), or a resync walk with its window
    // open: go on right after received traffic is served, not a timer's millisecond later.
    if (this.endpoint.resendsPending > 0 || this.endpoint.bulkReady) {
      this.immediate = setImmediate(this.loop);
      return;
    }
    const pollMs = this.opts.pollMs ?? 10;
    const wait = Math.max(0, Math.min(this.endpoint.nextTimerAt() - this.clock(), ring !== null ? pollMs : 1000));
    this.timer = setTimeout(this.loop, wait);
  };

  /** Every event read so far has left in a message (nothing batched): remember where. */
  private markSent(ring: EventRing): void {
    if (this.endpoint.pendingEvents > 0) return;
    const pos = ring.read;
    const last = this.marks[this.marks.length - 1];
    if (last !== undefined && last.pos === pos) return;
    if (last === undefined && ring.acked === pos) return;
    if (this.marks.length >= MAX_ACK_MARKS) this.marks.splice(0, this.marks.length - MAX_ACK_MARKS + 1);
    this.marks.push({ pos, seq: this.endpoint.lastSeq });
  }

  private publishAcks(now: number): void {
    const ring = this.ring;
    if (ring === null) return;
    let upTo = -1;
    while (this.marks.length > 0 && this.endpoint.acknowledged(this.marks[0]!.seq, now)) upTo = this.marks.shift()!.pos;
    if (upTo >= 0) ring.publishAcked(upTo);
  }

  private flushOut(): void {
    for (let b = this.endpoint.poll(); b !== undefined; b = this.endpoint.poll()) this.out.send(b);
  }
}
