/**
 * Per-connection coalescing of state events between two flushes, and packing of what is
 * left into datagrams of at most the sync link's MTU.
 *
 * Rules within one batch (the peer only ever sees the net effect, like conntrackd's cache
 * but bounded by one flush interval):
 *   update + update  -> the latest update
 *   new + update     -> new, with the latest data
 *   new + destroy    -> nothing (the peer never heard of it)
 *   update + destroy -> destroy
 *   destroy + new    -> new (same tuple reused; the receiver replaces its entry)
 * A batch is flushed when it fills a datagram, or `flushDelayMs` after its oldest event.
 *
 * The rules apply per key. The endpoint keys by the slot of its mirror that holds the
 * connection (items are slot numbers, so nothing per event is an object): a tuple reused
 * after a destroy gets another slot, and the two go out as destroy then new, which the
 * receiver applies in order to the same end.
 */
import { recordBudget } from './wire.js';
import { EventKind } from './state-record.js';

/** What the coalescer holds for one connection (the endpoint: the mirror slot holding it). */
interface Pending<T> {
  kind: EventKind;
  item: T;
  size: number;
  at: number;
}

/** One datagram's worth: items and the kind each is sent with (parallel arrays). */
export interface Batch<T> {
  items: T[];
  kinds: EventKind[];
}

export interface CoalescerOptions {
  /** MTU of the sync link (bytes of the IP packet). */
  mtu: number;
  /** Longest an event waits for company before it is sent. */
  flushDelayMs: number;
  /** Bytes of the payload taken before the records (default 0). */
  prefixBytes?: number;
}

export class Coalescer<T> {
  private readonly pending = new Map<string | number, Pending<T>>();
  private bytes = 0;
  readonly budget: number;
  /** Events absorbed by merging or cancelling (for metrics). */
  merged = 0;
  cancelled = 0;
  /** Called with an item that leaves without being sent (new + destroy cancelled out). */
  onDrop: ((item: T) => void) | null = null;

  constructor(private readonly opts: CoalescerOptions) {
    this.budget = recordBudget(opts.mtu, opts.prefixBytes ?? 0);
    if (this.budget < 200) throw new RangeError(`MTU ${opts.mtu} too small for sync messages`);
  }

  /** Connections waiting to be sent. */
  get size(): number {
    return this.pending.size;
  }

  /** An event of kind `kind` for the connection `key`, carried by `item` of `size` encoded bytes. */
  push(key: string | number, kind: EventKind, item: T, size: number, now: number): void {
    const slot = this.pending.get(key);
    if (slot === undefined) {
      this.pending.set(key, { kind, item, size, at: now });
      this.bytes += size;
      return;
    }
    const prev = slot.kind;
    if (kind === EventKind.Destroy) {
      if (prev === EventKind.New) {
        this.pending.delete(key);
        this.bytes -= slot.size;
        this.cancelled += 2;
        if (slot.item !== item) this.onDrop?.(slot.item);
        this.onDrop?.(item);
        return;
      }
      slot.kind = EventKind.Destroy;
    } else if (kind === EventKind.New) {
      slot.kind = EventKind.New;
    } else {
      slot.kind = prev === EventKind.New ? EventKind.New : EventKind.Update;
    }
    this.bytes += size - slot.size;
    if (slot.item !== item) this.onDrop?.(slot.item);
    slot.item = item;
    slot.size = size;
    this.merged++;
  }

  /** When the oldest pending event must go (Infinity when nothing is pending). */
  dueAt(): number {
    const first = this.pending.values().next();
    return first.done ? Infinity : first.value.at + this.opts.flushDelayMs;
  }

  /**
   * Appends the batches ready at `now` to `out`: every full datagram, and everything
   * pending once the oldest event has waited `flushDelayMs`.
   */
  drain(now: number, out: Batch<T>[]): void {
    while (this.bytes >= this.budget) out.push(this.takeBatch());
    if (this.pending.size > 0 && now >= this.dueAt()) this.flush(out);
  }

  /** Appends everything pending, packed into datagrams, to `out`. */
  flush(out: Batch<T>[]): void {
    while (this.pending.size > 0) out.push(this.takeBatch());
  }

  private takeBatch(): Batch<T> {
    const batch: Batch<T> = { items: [], kinds: [] };
    let used = 0;
    for (const [key, slot] of this.pending) {
      if (batch.items.length > 0 && used + slot.size > this.budget) break;
      batch.items.push(slot.item);
      batch.kinds.push(slot.kind);
      used += slot.size;
      this.bytes -= slot.size;
      this.pending.delete(key);
    }
    return batch;
  }
}
