/**
 * A connection's identity, and the two small interfaces the protocol needs from the node
 * (DESIGN §2: sync-protocol never imports node/; node/ adapts). The record itself is defined
 * by its field table (record-fields.ts).
 */

import type { StateRecord } from './record-fields.js';

export {
  EventKind, NAT_FIELDS, NAT_TABLE, RECORD_FIELDS, RECORD_TABLE, type RecordNat, type StateRecord,
} from './record-fields.js';

/**
 * Identity of a connection: zone + protocol + original tuple, packed two bytes a UTF-16 code
 * unit into one short flat string (8 units for IPv4, 20 for IPv6, so the families never
 * collide). Used for the receiver's tombs (in the sync worker, never per packet on the
 * datapath); the sender keys by its mirror's slots instead. Not for display: it is binary;
 * a hex dump of it is cheap to build where one is needed.
 */
export function recordKey(r: StateRecord): string {
  const s = r.origSrc;
  const d = r.origDst;
  if (s.length === 4) {
    return String.fromCharCode(r.zone, r.proto, r.origSport, r.origDport, (s[0]! << 8) | s[1]!, (s[2]! << 8) | s[3]!, (d[0]! << 8) | d[1]!, (d[2]! << 8) | d[3]!);
  }
  return String.fromCharCode(
    r.zone, r.proto, r.origSport, r.origDport,
    (s[0]! << 8) | s[1]!, (s[2]! << 8) | s[3]!, (s[4]! << 8) | s[5]!, (s[6]! << 8) | s[7]!,
    (s[8]! << 8) | s[9]!, (s[10]! << 8) | s[11]!, (s[12]! << 8) | s[13]!, (s[14]! << 8) | s[15]!,
    (d[0]! << 8) | d[1]!, (d[2]! << 8) | d[3]!, (d[4]! << 8) | d[5]!, (d[6]! << 8) | d[7]!,
    (d[8]! << 8) | d[9]!, (d[10]! << 8) | d[11]!, (d[12]! << 8) | d[13]!, (d[14]! << 8) | d[15]!,
  );
}

/**
 * Current local state, asked for when answering a NACK (retransmissions carry the CURRENT
 * state of the connections the lost message described) and when streaming a resync.
 */
export interface StateSource {
  /** Current state of the connection `rec` identifies (zone, protocol, original tuple), or undefined if it no longer exists. */
  get(rec: StateRecord): StateRecord | undefined;
  /** Walks the whole table; must tolerate changes during the walk (Map iterators do). */
  entries(): Iterator<StateRecord>;
  readonly size: number;
}

/** Where records received from peers go (the node's live table, marked as replicated). */
export interface StateSink {
  /**
   * Apply one record replicated from `owner`. `ageMs` is how old the state was when it left
   * the owner (owner's send time minus the record's stamp, both on the owner's clock): the
   * remaining timeout on arrival is about `timeoutMs - ageMs`. Updates of unknown
   * connections create them; destroys of unknown ones are ignored; a record whose stamp is
   * older than the applied one for the same connection is not applied (but still counts as
   * a refresh of that connection for resyncEnd). `rec` may be an object reused for the next
   * call (the table's thread reads replicas without allocating): copy what you keep.
   */
  apply(owner: number, rec: StateRecord, ageMs: number): void;
  /**
   * apply() of the record held in a ring-layout slot (ring.ts) at byte offset `o` of
   * `bytes` / `view`, valid only during the call: the receiver's path when the sink copies
   * records on anyway (the sync worker into its op batches), no record object made.
   * Omitted: the endpoint calls apply() with a reused record.
   */
  applySlot?(owner: number, view: DataView, bytes: Uint8Array, o: number, ageMs: number): void;
  /**
   * When records are applied later elsewhere (the worker hands them to the table's thread):
   * a token naming what was given to apply() so far, and appliedAt(token), the time
   * (syncClock) by which that was in the table, NaN while not yet. The endpoint times its
   * ACK echoes from there, so the lag metric covers the way into the table. Omitted: apply()
   * itself puts the record in the table.
   */
  applyToken?(): number;
  appliedAt?(token: number): number;
  /** A full table from `owner` starts streaming: remember what was refreshed from here on. */
  resyncBegin?(owner: number): void;
  /** The full table from `owner` arrived completely: replicas of `owner` not refreshed since resyncBegin are stale. */
  resyncEnd?(owner: number): void;
}
