/**
 * What a peer needs to rebuild one tracked connection, and the two small interfaces the
 * protocol needs from the node (DESIGN §2: sync-protocol never imports node/; node/ adapts).
 *
 * Records are treated as immutable once handed to the protocol: the coalescer, the resend
 * queue and the state mirror keep references, never copies.
 */

/** What happened to the connection on its owner. */
export const enum EventKind {
  New = 0,
  Update = 1,
  Destroy = 2,
}

/** NAT binding of a connection (optional: absent when the connection is not NATed). */
export interface NatBinding {
  /** Bit 0: source NAT, bit 1: destination NAT (like the kernel's IPS_SRC_NAT / IPS_DST_NAT). */
  kind: number;
  /** Translated address (4 or 16 bytes). */
  addr: Uint8Array;
  /** Translated port (or ICMP id). */
  port: number;
}

export interface StateRecord {
  kind: EventKind;
  /** 4 or 6. */
  family: number;
  /** IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6...). */
  proto: number;
  /** Conntrack zone: same tuple in two zones are two connections. */
  zone: number;
  /** Original direction tuple: addresses are 4 or 16 bytes; ports, or ICMP id in sport and type<<8|code in dport. */
  origSrc: Uint8Array;
  origDst: Uint8Array;
  origSport: number;
  origDport: number;
  /** Reply direction tuple (differs from the inverted original when NATed). */
  replySrc: Uint8Array;
  replyDst: Uint8Array;
  replySport: number;
  replyDport: number;
  /** TCP tracker state (0 for other protocols). */
  tcpState: number;
  /** Window tracking of the original direction (RFC 9293 sequence space, as in nf_conntrack_proto_tcp). */
  origTdEnd: number;
  origTdMaxEnd: number;
  origTdMaxWin: number;
  /** td_maxack (highest ACK seen; used by the window check's lower bound). */
  origTdMaxAck: number;
  origTdScale: number;
  origTdFlags: number;
  /** Window tracking of the reply direction. */
  replyTdEnd: number;
  replyTdMaxEnd: number;
  replyTdMaxWin: number;
  replyTdMaxAck: number;
  replyTdScale: number;
  replyTdFlags: number;
  /** Status bits (seen reply, assured, ...). */
  status: number;
  mark: number;
  /** Remaining timeout in ms at the moment `stamp` was taken. */
  timeoutMs: number;
  nat: NatBinding | null;
  /**
   * Sender-local monotonic time (ms) of the change this record describes. Never compared
   * with another host's clock: see lag.ts. Also a per-connection version: a record with an
   * older stamp than the one applied must not overwrite it (retransmissions can arrive late).
   */
  stamp: number;
}

/** Field order of a record on the wire: the cbor-x record structure declared up front (wire.ts). */
export const RECORD_FIELDS: readonly string[] = [
  'kind', 'family', 'proto', 'zone',
  'origSrc', 'origDst', 'origSport', 'origDport',
  'replySrc', 'replyDst', 'replySport', 'replyDport',
  'tcpState',
  'origTdEnd', 'origTdMaxEnd', 'origTdMaxWin', 'origTdMaxAck', 'origTdScale', 'origTdFlags',
  'replyTdEnd', 'replyTdMaxEnd', 'replyTdMaxWin', 'replyTdMaxAck', 'replyTdScale', 'replyTdFlags',
  'status', 'mark', 'timeoutMs', 'nat', 'stamp',
];
export const NAT_FIELDS: readonly string[] = ['kind', 'addr', 'port'];

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
