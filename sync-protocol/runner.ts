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
  /** Longest sleep between looks at the ring (ms): the producer never wakes us. */
  pollMs?: number;
  /** Most ring events taken per wake-up, so received traffic is served in between. */
  ringBatch?: number;
  /** Called when the datapath dropped events (ring full): rebuild the local view, e.g. ask for a dump. */
  onRingOverflow?: () => void;
  clock?: () => number;
}

export class SyncRunner {
  private timer: NodeJS.Timeout | null = null;
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
    this.timer = null;
  }

  /** Feed one received datagram (from the transport's message callback). */
  onDatagram(buf: Uint8Array): void {
    this.endpoint.receive(buf, this.clock());
    this.flushOut();
  }

  private loop = (): void => {
    this.timer = null;
    if (!this.running) return;
    let now = this.clock();
    if (this.ring !== null) {
      if (this.ring.takeResyncNeeded()) this.opts.onRingOverflow?.();
      const max = this.opts.ringBatch ?? 4096;
      for (let i = 0; i < max; i++) {
        const r = this.ring.pop();
        if (r === undefined) break;
        this.endpoint.localEvent(r, now);
      }
      now = this.clock();
    }
    this.endpoint.tick(now);
    this.flushOut();
    const pollMs = this.opts.pollMs ?? 1;
    const wait = Math.max(0, Math.min(this.endpoint.nextTimerAt() - this.clock(), this.ring !== null ? pollMs : 1000));
    this.timer = setTimeout(this.loop, wait);
  };

  private flushOut(): void {
    for (let b = this.endpoint.poll(); b !== undefined; b = this.endpoint.poll()) this.out.send(b);
  }
}
