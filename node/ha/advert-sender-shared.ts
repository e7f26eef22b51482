/**
 * The memory the control thread and the advertisement sender thread share: a lock, what
 * to send (the encoded copies and their destinations) and whether to send it. Both
 * threads send on the same raw socket only while holding the lock, so after stop()
 * returns no repeated advertisement can follow (a resign's priority-0 one comes next).
 */

/** Int32 slots at the start of the buffer. */
export const enum Slot {
  /** 0 free, 1 held. */
  Lock = 0,
  /** Bumped on every change; the sender sleeps on it (Atomics.wait) between sends. */
  Gen = 1,
  /** 1 while the sender repeats the current advertisement. */
  Active = 2,
  /** 1: the sender's loop ends. */
  Exit = 3,
  IntervalMs = 4,
  /** Copies of the advertisement (one per destination). */
  Copies = 5,
  /** The sender falls silent when the control thread's heartbeat is older than this. */
  StallLimitMs = 6,
  /** Per copy: payload length, then destination length (4 or 16). */
  Lengths = 7,
}

/** Unicast peers a sender keeps copies for (more are sent from the control thread only). */
export const MAX_COPIES = 8;
/** A VRRPv3 advertisement with 255 IPv6 addresses is 8 + 255 * 16 = 4088 bytes. */
export const MAX_ADVERT = 4096;
const HEADER_BYTES = Math.ceil(((Slot.Lengths + 2 * MAX_COPIES) * 4) / 8) * 8;
const BEAT_BYTES = 8;
const COPIES_AT = HEADER_BYTES + BEAT_BYTES;
export const SHARED_BYTES = COPIES_AT + MAX_COPIES * (MAX_ADVERT + 16);

export interface SharedAdvert {
  ctl: Int32Array;
  /** [0]: when the control thread last showed life (heartbeatNow()). */
  beat: Float64Array;
  payload(i: number): Uint8Array;
  dst(i: number): Uint8Array;
}

export function sharedAdvert(sab: SharedArrayBuffer): SharedAdvert {
  return {
    ctl: new Int32Array(sab, 0, HEADER_BYTES / 4),
    beat: new Float64Array(sab, HEADER_BYTES, 1),
    payload: (i) => new Uint8Array(sab, COPIES_AT + i * (MAX_ADVERT + 16), MAX_ADVERT),
    dst: (i) => new Uint8Array(sab, COPIES_AT + i * (MAX_ADVERT + 16) + MAX_ADVERT, 16),
  };
}

/**
 * A monotonic time both threads agree on: each thread's performance.now() counts from its
 * own start, its timeOrigin says when that was. (Date.now() would jump with the wall clock.)
 */
export function heartbeatNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Takes the lock. It is held only around a few sendto() calls, so waiting is short; the
 * wait (rather than a spin) lets a descheduled holder run on a busy machine.
 */
export function lock(ctl: Int32Array): void {
  while (Atomics.compareExchange(ctl, Slot.Lock, 0, 1) !== 0) Atomics.wait(ctl, Slot.Lock, 1, 1);
}

export function unlock(ctl: Int32Array): void {
  Atomics.store(ctl, Slot.Lock, 0);
  Atomics.notify(ctl, Slot.Lock, 1);
}

/** Tells the sender something changed (new advertisement, stop, exit). */
export function bump(ctl: Int32Array): void {
  Atomics.add(ctl, Slot.Gen, 1);
  Atomics.notify(ctl, Slot.Gen);
}

/** Messages from the sender thread. */
export type FromAdvertSender =
  | { type: 'ready' }
  | { type: 'outcome'; sent: number; failed: number; error?: string }
  /** The control thread's heartbeat is older than the stall limit: repeated sends stop. */
  | { type: 'silenced'; stalledMs: number };
