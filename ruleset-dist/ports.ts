/**
 * The ports of the distributor's core (distributor.ts), which does no I/O of its own: it
 * reads the time from a clock, and sends datagrams and fetch requests through a DistLink.
 * Received datagrams, fetch requests and fetch answers come back in as calls on the core.
 * The shell that owns the sockets and the timer is runner.ts; tests drive cores on virtual
 * time over an in-memory network (testing/).
 */
import type { StreamGate } from './transport.js';

/** Milliseconds since the epoch and a periodic timer (real: Date.now and setInterval). */
export interface DistClock {
  now(): number;
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

export const systemClock: DistClock = {
  now: () => Date.now(),
  every(ms, fn) {
    const t = setInterval(fn, ms);
    // The announce timer alone must not keep the process alive.
    t.unref?.();
    return () => clearInterval(t);
  },
};

/** One fetch exchange the core asks for; its answer or failure comes back as `fetchAnswered(id, ...)`. */
export interface FetchOut {
  id: number;
  to: string;
  bytes: Uint8Array;
  timeoutMs: number;
  /** Checks the answer's head before its body is read. */
  gate: StreamGate;
}

/** What the core sends. Implementations never call back into the core synchronously. */
export interface DistLink {
  /** One datagram to every peer (ANNOUNCE, UPDATE). */
  broadcast(bytes: Uint8Array): void;
  fetch(req: FetchOut): void;
}
