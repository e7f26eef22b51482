/**
 * The shell around the distributor's core: it owns the transport (sockets) and the announce
 * timer, hands received datagrams and fetch requests to the core, carries the core's sends
 * out, and brings each fetch's answer back as an event. No protocol decision lives here.
 */
import { RulesetDistributor, type DistLog, type DistOptions, type RulesetStore } from './distributor.js';
import { systemClock, type DistClock, type DistLink, type FetchOut } from './ports.js';
import type { DistTransport } from './transport.js';

export class DistRunner {
  readonly core: RulesetDistributor;
  private cancelTimer?: () => void;

  /** The core reads the time from `clock` (its `now` option is set from it). */
  constructor(
    opts: DistOptions,
    store: RulesetStore,
    private readonly transport: DistTransport,
    log: DistLog,
    private readonly clock: DistClock = systemClock,
  ) {
    const link: DistLink = {
      broadcast: (bytes) => transport.broadcast(bytes),
      fetch: (req) => this.fetch(req),
    };
    this.core = new RulesetDistributor({ ...opts, now: () => clock.now() }, store, link, log);
  }

  /** Starts the core (history, first ANNOUNCE), then listens and runs the announce timer. */
  async start(sourceHash?: string): Promise<void> {
    const core = this.core;
    await core.start(sourceHash);
    this.transport.onDatagram((b, from) => core.receiveDatagram(b, from));
    this.transport.serve(async (b, from) => core.serveFetch(b, from), core.requestGate);
    this.cancelTimer = this.clock.every(core.announceIntervalMs, () => core.tick());
  }

  /** Timer first, then the core (applies and history writes finish), then the sockets. */
  async stop(): Promise<void> {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.core.stop();
    await this.transport.close();
  }

  private fetch(req: FetchOut): void {
    // Always answered asynchronously (the core asks from inside its own decisions).
    Promise.resolve()
      .then(() => this.transport.request(req.to, req.bytes, req.timeoutMs, req.gate))
      .then(
        (answer) => this.core.fetchAnswered(req.id, answer),
        (err: unknown) => this.core.fetchAnswered(req.id, err instanceof Error ? err : new Error(String(err))),
      );
  }
}
