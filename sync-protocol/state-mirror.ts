/**
 * The sync worker's copy of the local table, kept from the event stream it already reads:
 * the StateSource that answers NACKs with current state and streams resyncs, without asking
 * the datapath thread anything synchronously.
 */
import { EventKind, recordKey, type StateRecord, type StateSource } from './state-record.js';

export class StateMirror implements StateSource {
  private readonly map = new Map<string, StateRecord>();

  get size(): number {
    return this.map.size;
  }

  /** Follows one local event (new/update store the record, destroy forgets it). */
  note(rec: StateRecord, key: string = recordKey(rec)): void {
    if (rec.kind === EventKind.Destroy) this.map.delete(key);
    else this.map.set(key, rec);
  }

  get(key: string): StateRecord | undefined {
    return this.map.get(key);
  }

  entries(): Iterator<StateRecord> {
    return this.map.values();
  }

  clear(): void {
    this.map.clear();
  }
}
