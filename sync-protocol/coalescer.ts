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
 */
import { recordBudget, recordSize } from './wire.js';
import { EventKind, recordKey, withKind, type StateRecord } from './state-record.js';

interface Slot {
  kind: EventKind;
  rec: StateRecord;
  size: number;
  at: number;
}

export interface CoalescerOptions {
  /** MTU of the sync link (bytes of the IP packet). */
  mtu: number;
  /** Longest an event waits for company before it is sent. */
  flushDelayMs: number;
  /** Bytes of the payload taken before the records (default 0). */
  prefixBytes?: number;
}

export class Coalescer {
  private readonly pending = new Map<string, Slot>();
  private bytes = 0;
  readonly budget: number;
  /** Events absorbed by merging or cancelling (for metrics). */
  merged = 0;
  cancelled = 0;

  constructor(private readonly opts: CoalescerOptions) {
    this.budget = recordBudget(opts.mtu, opts.prefixBytes ?? 0);
    if (this.budget < 200) throw new RangeError(`MTU ${opts.mtu} too small for sync messages`);
  }

  /** Connections waiting to be sent. */
  get size(): number {
    return this.pending.size;
  }

  /** `key` is recordKey(rec), when the caller has it already. */
  push(rec: StateRecord, now: number, key: string = recordKey(rec)): void {
    const size = recordSize(rec);
    const slot = this.pending.get(key);
    if (slot === undefined) {
      this.pending.set(key, { kind: rec.kind, rec, size, at: now });
      this.bytes += size;
      return;
    }
    const prev = slot.kind;
    if (rec.kind === EventKind.Destroy) {
      if (prev === EventKind.New) {
        this.pending.delete(key);
        this.bytes -= slot.size;
        this.cancelled += 2;
        return;
      }
      slot.kind = EventKind.Destroy;
    } else if (rec.kind === EventKind.New) {
      slot.kind = EventKind.New;
    } else {
      slot.kind = prev === EventKind.New ? EventKind.New : EventKind.Update;
    }
    this.bytes += size - slot.size;
    slot.rec = rec;
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
  drain(now: number, out: StateRecord[][]): void {
    while (this.bytes >= this.budget) out.push(this.takeBatch());
    if (this.pending.size > 0 && now >= this.dueAt()) this.flush(out);
  }

  /** Appends everything pending, packed into datagrams, to `out`. */
  flush(out: StateRecord[][]): void {
    while (this.pending.size > 0) out.push(this.takeBatch());
  }

  private takeBatch(): StateRecord[] {
    const batch: StateRecord[] = [];
    let used = 0;
    for (const [key, slot] of this.pending) {
      if (batch.length > 0 && used + slot.size > this.budget) break;
      batch.push(withKind(slot.rec, slot.kind));
      used += slot.size;
      this.bytes -= slot.size;
      this.pending.delete(key);
    }
    return batch;
  }
}
