/**
 * What the packet path hands to the control thread for subscribers (connection events,
 * traces): bounded by a rate (token bucket) and by how many may wait, and sent as one
 * message per turn of the event loop, not one per packet.
 */
import { TokenBucket } from '../../ruleset/modules/limit.js';

export class BoundedOutbox<T> {
  private pending: T[] = [];
  private scheduled = false;
  private readonly bucket: TokenBucket;

  constructor(
    /** Hands a batch to the control thread. */
    private readonly deliver: (items: T[]) => void,
    private readonly schedule: (flush: () => void) => void,
    private readonly maxPending: number,
    perSec: number,
  ) {
    this.bucket = new TokenBucket(perSec / 1000, maxPending);
  }

  /** Whether one more may go now; false: the caller drops it (and counts that), before building it. */
  admit(nowMs: number): boolean {
    return this.pending.length < this.maxPending && this.bucket.take(nowMs);
  }

  /** Queues an admitted item; the first of a turn schedules the flush. */
  push(item: T): void {
    this.pending.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Sends what is waiting (one message). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    this.deliver(items);
  }
}
