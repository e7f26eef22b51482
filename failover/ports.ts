/**
 * The small interfaces failover/ needs from the node (DESIGN §2: failover/ never
 * imports node/; node/ adapts its raw sockets, netlink and sync worker to these).
 */

import type { MacAddress } from './garp.js';
import type { IpBytes } from './ip-address.js';

export type TimerHandle = unknown;

export interface TimerOptions {
  precise?: boolean;
}

/** Monotonic milliseconds and one-shot timers (real: performance.now + setTimeout). */
export interface Clock {
  now(): number;
  /**
   * Calls fn at (or soon after) the absolute time `at`. `precise`: as close after `at` as
   * the clock can manage, at some cost (the real clock waits out the last millisecond
   * instead of relying on a timer's 1 ms granularity); for deadlines that are rare and
   * on the takeover's path (a backup's Master_Down_Timer), not for periodic work.
   */
  setTimer(at: number, fn: () => void, opts?: TimerOptions): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/**
 * Sends one VRRP message (the IP payload) to dst: a raw IPPROTO_VRRP socket bound to
 * the VRRP interface, TTL / hop limit 255 (RFC 5798 §5.1.1.3), multicast loop off.
 */
export interface PacketSender {
  /**
   * Throws when the advertisement did not leave the node (the socket's error: ENOBUFS, an
   * output filter, the interface gone). The instance counts it and tells the router, which
   * demotes itself after repeated failures (vrrp-timers.ts); never swallow it here.
   */
  sendAdvert(payload: Uint8Array, dst: IpBytes): void;
  /**
   * Optional: synchronously hand every advertisement already waiting in the receive
   * socket to the instance. Called before a timer is acted on, so that an event loop
   * that stalled (GC, a busy datapath) does not declare a master dead whose
   * advertisements are sitting unread in the socket buffer.
   */
  drainReceived?(): void;
}

/** One copy of an advertisement: its bytes (the IP payload) and where it goes. */
export interface AdvertCopy {
  payload: Uint8Array;
  dst: IpBytes;
}

/** What became of one advertisement's copies: it failed if any of them failed. */
export interface AdvertOutcome {
  sent: number;
  failed: number;
  /** The last failed copy's error. */
  error?: string;
}

/**
 * Optional: keeps a master's advertisement going out every interval from a thread of its
 * own, so that a stall of the thread that runs the instance (a heavy ruleset compile, a
 * long GC) does not silence the master and make a backup take over. The instance tells it
 * every change; while it repeats, the instance does not send the periodic ones itself.
 */
export interface AdvertRepeater {
  /**
   * Sends `copies` now, before returning (with the outcome), and then, while its thread
   * lives, again every `intervalMs` until the next repeat() or stop(). Replaces what was
   * being repeated.
   */
  repeat(copies: readonly AdvertCopy[], intervalMs: number): AdvertOutcome;
  /** No repeated advertisement leaves after this returns (a resign's priority 0 follows). */
  stop(): void;
  /** True while repeating; false after stop() or when its thread is gone (the instance then sends itself). */
  readonly repeating: boolean;
  /** Outcomes of the repeated sends, as they happen; returns the unsubscribe function. */
  onOutcome(cb: (o: AdvertOutcome) => void): () => void;
}

/** Sends complete Ethernet frames (AF_PACKET) on an interface: GARP and NA. */
export interface FrameSender {
  sendFrame(ifname: string, frame: Uint8Array): void;
}

/** Whether this node's state table is complete (the sync worker's resync finished). */
export interface SyncReadinessSource {
  readonly inSync: boolean;
  /** Subscribes; returns the unsubscribe function. */
  onChange(cb: (inSync: boolean) => void): () => void;
}

/** Carrier / operstate of the tracked interfaces (netlink in the node). */
export interface LinkStateSource {
  isUp(ifname: string): boolean;
  onChange(cb: (ifname: string, up: boolean) => void): () => void;
}

/** MAC address of an interface, for announcement frames. */
export type MacSource = (ifname: string) => MacAddress | undefined;

/** A fake clock for tests and simulations: time moves only when told. */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void; precise: boolean }>();
  constructor(start = 0) { this.t = start; }
  now(): number { return this.t; }
  setTimer(at: number, fn: () => void, opts?: TimerOptions): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at, fn, precise: opts?.precise === true });
    return id;
  }
  /** Deadlines of the pending timers, and whether each was asked to be precise. */
  get pending(): { at: number; precise: boolean }[] {
    return [...this.timers.values()].map((t) => ({ at: t.at, precise: t.precise }));
  }
  clearTimer(handle: TimerHandle): void { this.timers.delete(handle as number); }
  get pendingTimers(): number { return this.timers.size; }
  /** Advances to `to`, firing due timers in time order (and those they arm). */
  advanceTo(to: number): void {
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, tm] of this.timers) if (tm.at < nextAt || (tm.at === nextAt && id < nextId)) { nextAt = tm.at; nextId = id; }
      if (nextId < 0 || nextAt > to) break;
      const tm = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.t = Math.max(this.t, tm.at);
      tm.fn();
    }
    this.t = Math.max(this.t, to);
  }
  advance(ms: number): void { this.advanceTo(this.t + ms); }
}
