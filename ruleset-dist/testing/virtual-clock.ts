/**
 * Virtual time for protocol tests: a DistClock whose time moves only when the test says,
 * firing timers (the runners' announce timers, the in-memory network's deliveries) in time
 * order. Between two timers the cores' asynchronous work (store applies, history writes)
 * is let finish, so a run is the same on every machine and takes no wall-clock waits.
 */
import type { DistClock } from '../ports.js';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  /** Repeats every `period` ms (an `every` timer). */
  period?: number;
}

export class VirtualClock implements DistClock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, Timer>();
  /** Waits until the work the last timer started is done (VirtualCluster waits for its cores). */
  settle: () => Promise<void> = flushMicrotasks;

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  every(ms: number, fn: () => void): () => void {
    const id = this.add({ at: this.t + ms, fn, period: Math.max(1, ms) });
    return () => void this.timers.delete(id);
  }

  /** Calls `fn` in `ms` (never from inside this call, even for 0). */
  after(ms: number, fn: () => void): () => void {
    const id = this.add({ at: this.t + Math.max(0, ms), fn });
    return () => void this.timers.delete(id);
  }

  /** Fires the earliest timer (moving the time to it) and settles; false when none is due by `limit`. */
  async step(limit = Infinity): Promise<boolean> {
    let next: [number, Timer] | undefined;
    for (const e of this.timers) if (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq)) next = e;
    if (!next || next[1].at > limit) return false;
    const [id, tm] = next;
    this.t = tm.at;
    if (tm.period !== undefined) {
      tm.at += tm.period;
      tm.seq = ++this.seq;
    } else this.timers.delete(id);
    tm.fn();
    await this.settle();
    return true;
  }

  /** Runs every timer due in the next `ms`, then stands at now + ms. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await this.settle();
    while (await this.step(end));
    this.t = end;
  }

  /** Runs timers until `cond` holds; throws after `ms` of virtual time without it. */
  async until(what: string, cond: () => boolean, ms = 4000): Promise<void> {
    const end = this.t + ms;
    await this.settle();
    while (!cond()) {
      if (!(await this.step(end))) throw new Error(`no ${what} within ${ms} ms of virtual time`);
    }
  }

  private add(tm: Omit<Timer, 'seq'>): number {
    const seq = ++this.seq;
    this.timers.set(seq, { ...tm, seq });
    return seq;
  }
}

/** Lets every promise continuation queued so far run (and those they queue). */
function flushMicrotasks(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** What VirtualClock.settle waits for: the listed cores' applies, until none is left. */
export function settleCores(cores: () => Iterable<{ readonly busy: boolean; idle(): Promise<void> }>): () => Promise<void> {
  return async () => {
    for (;;) {
      await flushMicrotasks();
      const busy = [...cores()].filter((c) => c.busy);
      if (busy.length === 0) return;
      await Promise.all(busy.map((c) => c.idle()));
    }
  };
}
