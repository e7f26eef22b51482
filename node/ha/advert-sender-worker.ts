/**
 * The advertisement sender thread: while the control thread says so, it sends the current
 * advertisement every interval on the VRRP socket, whatever the control thread is doing
 * (a ruleset compile can hold it for a second). It makes no decision: what to send, and
 * whether, is written by the control thread into shared memory (advert-sender-shared.ts).
 * It sleeps in Atomics.wait, so it needs no event loop; outcomes go back by message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { native, setRealtimePriority } from '../native/index.js';
import { formatIp } from '../../failover/index.js';
import { Slot, heartbeatNow, lock, sharedAdvert, unlock } from './advert-sender-shared.js';
import type { FromAdvertSender } from './advert-sender-shared.js';

export interface AdvertSenderWorkerData {
  sab: SharedArrayBuffer;
  fd: number;
  family: 4 | 6;
  realtimePriority: number;
}

const data = workerData as AdvertSenderWorkerData;
const shared = sharedAdvert(data.sab);
const { ctl } = shared;
const post = (m: FromAdvertSender): void => parentPort!.postMessage(m);

// The control thread's scheduling (SCHED_RR, or nice) is inherited when this thread is
// created; asked again here so a real-time priority holds even if it was set later.
if (data.realtimePriority > 0) {
  try {
    setRealtimePriority(data.realtimePriority);
  } catch {
    // Inherited nice stays; the control thread has already logged why real-time failed.
  }
}

/** While silenced: the control thread showed no life for longer than the stall limit. */
let silenced = false;

/**
 * Sends every copy under the lock, unless stopped or changed since `gen`, or the control
 * thread has stalled beyond its limit: a hung control thread cannot react to anything (a
 * link lost, a better router), so it must not hold mastership through this thread; going
 * silent lets a backup take over as it would have without this thread.
 */
function sendRound(gen: number): { sent: number; failed: number; error?: string } | undefined {
  lock(ctl);
  try {
    if (Atomics.load(ctl, Slot.Gen) !== gen || ctl[Slot.Active] !== 1 || ctl[Slot.Exit] === 1) return undefined;
    const stalledMs = heartbeatNow() - shared.beat[0]!;
    if (stalledMs > ctl[Slot.StallLimitMs]!) {
      if (!silenced) post({ type: 'silenced', stalledMs: Math.round(stalledMs) });
      silenced = true;
      return undefined;
    }
    silenced = false;
    const o: { sent: number; failed: number; error?: string } = { sent: 0, failed: 0 };
    const n = ctl[Slot.Copies]!;
    for (let i = 0; i < n; i++) {
      const len = ctl[Slot.Lengths + 2 * i]!;
      const dst = shared.dst(i).subarray(0, ctl[Slot.Lengths + 2 * i + 1]!);
      try {
        native().sendTo(data.fd, data.family, shared.payload(i), 0, len, formatIp(dst));
        o.sent++;
      } catch (err) {
        o.failed++;
        o.error = err instanceof Error ? err.message : String(err);
      }
    }
    return o;
  } finally {
    unlock(ctl);
  }
}

post({ type: 'ready' });
let seen = -1;
let next = Infinity;
for (;;) {
  if (Atomics.load(ctl, Slot.Exit) === 1) break;
  const gen = Atomics.load(ctl, Slot.Gen);
  const now = performance.now();
  if (gen !== seen) {
    // The control thread has just sent this advertisement itself: the next one is due an
    // interval from now.
    seen = gen;
    next = Atomics.load(ctl, Slot.Active) === 1 ? now + ctl[Slot.IntervalMs]! : Infinity;
  }
  if (now < next) {
    Atomics.wait(ctl, Slot.Gen, gen, next === Infinity ? undefined : next - now);
    continue;
  }
  const o = sendRound(gen);
  const interval = ctl[Slot.IntervalMs]!;
  // Late (this thread was not scheduled): send now and keep the interval from here, no burst.
  next += interval;
  if (next <= performance.now()) next = performance.now() + interval;
  if (o) post({ type: 'outcome', ...o });
}
