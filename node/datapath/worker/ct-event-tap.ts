/**
 * Connection events for `hafw ct events` (GET /v1/ct/events), taken on the datapath thread
 * where the table lives. While nobody subscribes the tap is not hooked into the tracker at
 * all: no call, no test per event. With subscribers it wraps the tracker's event handler
 * (after state sync and NAT, which keep theirs), matches each event against every
 * subscriber's filter on a reused snapshot, and queues the few that pass.
 *
 * Bounded both ways: a token bucket (events per second, with a burst) and a queue of at
 * most `maxPending` events between two flushes. Events beyond either are dropped and
 * counted (hafw_ct_events_dropped_total); the packet path never waits for a subscriber.
 * The queue goes to the control thread in one message per wake-up of the packet loop,
 * like the ruleset log lines.
 */
import { CtEventMatcher, eventName, snapshotToJson, CtSnapshot, CtStatus, type ConnTracker, type CtEventHandler, type CtEventKind, type CtEventOut, type CtEventSubscriber } from '../../conntrack/index.js';
import { BoundedOutbox } from './bounded-outbox.js';
import { C } from '../shared/counters.js';

/** Events per second the tap passes on (burst: DEFAULT_MAX_PENDING). */
const DEFAULT_EVENTS_PER_SEC = 20000;
/** Events waiting for the next flush; beyond, they are dropped (counted). */
const DEFAULT_MAX_PENDING = 4096;

export class CtEventTap {
  private matchers: CtEventMatcher[] = [];
  private readonly outbox: BoundedOutbox<CtEventOut>;
  private readonly snap = new CtSnapshot();
  /** The handler the tap wrapped (put back when the last subscriber leaves). */
  private wrapped: CtEventHandler | null = null;
  private readonly handler: CtEventHandler = (kind, entry) => {
    this.wrapped?.(kind, entry);
    this.onEvent(kind, entry);
  };

  constructor(
    private readonly ct: ConnTracker,
    private readonly counters: Float64Array,
    /** Hands a batch of events to the control thread. */
    deliver: (events: CtEventOut[]) => void,
    private readonly clock: () => number,
    schedule: (flush: () => void) => void = (f) => void setImmediate(f),
    maxPending = DEFAULT_MAX_PENDING,
    perSec = DEFAULT_EVENTS_PER_SEC,
  ) {
    this.outbox = new BoundedOutbox(deliver, schedule, maxPending, perSec);
  }

  get active(): boolean {
    return this.matchers.length > 0;
  }

  /** The subscribers now (the control thread sends the whole list at each change); [] unhooks the tap. */
  setSubscribers(subs: CtEventSubscriber[]): void {
    this.matchers = subs.map((s) => new CtEventMatcher(s.id, s.filter));
    const hooked = this.ct.onEvent === this.handler;
    if (this.matchers.length > 0 && !hooked) {
      this.wrapped = this.ct.onEvent;
      this.ct.onEvent = this.handler;
    } else if (this.matchers.length === 0 && hooked) {
      this.ct.onEvent = this.wrapped;
      this.wrapped = null;
    }
  }

  private onEvent(kind: CtEventKind, entry: number): void {
    // A refresh of the timeout alone is no event an operator sees (ct-events.ts).
    if (this.ct.refreshOnly) return;
    const snap = this.ct.snapshot(entry, this.snap);
    let to: number[] | undefined;
    for (const m of this.matchers) {
      if (m.matches(kind, snap)) (to ??= []).push(m.id);
    }
    if (to === undefined) return;
    const now = this.clock();
    if (!this.outbox.admit(now)) {
      this.counters[C.ct_events_dropped] += 1;
      return;
    }
    this.counters[C.ct_events] += 1;
    this.outbox.push({ event: eventName(kind), id: entry, time: Date.now(), owner: (snap.status & CtStatus.Replicated) !== 0 ? 'peer' : 'local', ...snapshotToJson(snap), to });
  }

  /** Sends what is pending (one message). */
  flush(): void {
    this.outbox.flush();
  }
}
