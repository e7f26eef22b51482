/**
 * The replicated connection record, defined once: every field's name, type and meaning.
 * Everything else that knows the record's fields is derived from these two tables:
 * - the record's TypeScript type (StateRecord, RecordNat: mapped types below);
 * - the ring slot layout (SLOT, SLOT_BYTES: slotLayout() below);
 * - the slot reader and writer and the CBOR writer and reader (record-codec.ts, which
 *   compiles straight-line code from the tables once at load);
 * - the wire-format tables of docs/sync-protocol.md (recordFieldsMarkdown(); a test checks
 *   the document against it).
 *
 * The wire form of a record is a CBOR array of its values in table order (cbor-x's record
 * structure 0; the NAT part is structure 1). The order is therefore part of the protocol:
 * a field is only ever appended, and never moved or removed, or an older peer reads one
 * field as another.
 *
 * Compatibility rule (rolling upgrades): the first REQUIRED_FIELDS fields are in every
 * record; the fields after them are optional, each with a default (0, an address of
 * zeros). A writer leaves out the trailing fields that hold their defaults (a record of a
 * connection without a helper is the 30 fields an older node wrote), and a reader takes any
 * record of REQUIRED_FIELDS to MAX_RECORD_FIELDS values: fields it does not know (appended
 * by a newer node) are skipped, fields it knows but the record leaves out take their
 * defaults. A field appended later must therefore be optional, its default meaning "as
 * before", and a CBOR scalar (integer, float, simple value or byte string of at most
 * MAX_UNKNOWN_BYTES), so a reader skips it without knowing it.
 */

/**
 * How a field is held and sent:
 * - `event`: the EventKind (u8; 0..2). `family`: 4 or 6 (u8); fixes the length of every
 *   `addr` of the record.
 * - `u8`, `u16`, `u32`: unsigned integers of that width (CBOR unsigned integer).
 * - `addr`: an address, 4 bytes (IPv4) or 16 (IPv6) by the record's family (CBOR byte string).
 * - `ms`: a non-negative whole number of milliseconds up to 2^53 (f64 in the slot; on the
 *   wire a CBOR integer, or a float64 above 2^32 as cbor-x writes it).
 * - `time`: any finite double (f64; CBOR integer when whole and within 32 bits, else float64).
 * - `nat`: the NAT part, `null` when the connection is not NATed (CBOR null or NAT_TABLE's
 *   record, structure 1).
 */
export type FieldType = 'event' | 'family' | 'u8' | 'u16' | 'u32' | 'addr' | 'ms' | 'time' | 'nat';

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** Optional (after the required fields): may be left out, and then is 0 / zeros. */
  readonly optional?: true;
  /** Largest value a receiver accepts, when below the type's own bound. */
  readonly max?: number;
  readonly doc: string;
}

export const RECORD_TABLE = [
  { name: 'kind', type: 'event', doc: 'what happened on the owner: 0 new, 1 update, 2 destroy' },
  { name: 'family', type: 'family', doc: '4 or 6: every address of the record is 4 or 16 bytes' },
  { name: 'proto', type: 'u8', doc: 'IP protocol (6 tcp, 17 udp, 1 icmp, 58 icmpv6, ...)' },
  { name: 'zone', type: 'u16', doc: 'conntrack zone: the same tuple in two zones is two connections' },
  { name: 'origSrc', type: 'addr', doc: 'original direction: source address' },
  { name: 'origDst', type: 'addr', doc: 'original direction: destination address' },
  { name: 'origSport', type: 'u16', doc: 'original direction: source port (ICMP: id)' },
  { name: 'origDport', type: 'u16', doc: 'original direction: destination port (ICMP: type<<8 \\| code)' },
  { name: 'replySrc', type: 'addr', doc: 'reply direction: source address (differs from the inverted original when NATed)' },
  { name: 'replyDst', type: 'addr', doc: 'reply direction: destination address' },
  { name: 'replySport', type: 'u16', doc: 'reply direction: source port' },
  { name: 'replyDport', type: 'u16', doc: 'reply direction: destination port' },
  { name: 'tcpState', type: 'u8', doc: 'TCP tracker state (0 for other protocols)' },
  { name: 'origTdEnd', type: 'u32', doc: 'window tracking, original direction (Linux `ip_ct_tcp_state`): td_end' },
  { name: 'origTdMaxEnd', type: 'u32', doc: 'original direction: td_maxend' },
  { name: 'origTdMaxWin', type: 'u32', doc: 'original direction: td_maxwin' },
  { name: 'origTdMaxAck', type: 'u32', doc: 'original direction: td_maxack (highest ACK seen: the window check\'s lower bound)' },
  { name: 'origTdScale', type: 'u8', doc: 'original direction: window scale' },
  { name: 'origTdFlags', type: 'u8', doc: 'original direction: tracker flags' },
  { name: 'replyTdEnd', type: 'u32', doc: 'window tracking, reply direction: td_end' },
  { name: 'replyTdMaxEnd', type: 'u32', doc: 'reply direction: td_maxend' },
  { name: 'replyTdMaxWin', type: 'u32', doc: 'reply direction: td_maxwin' },
  { name: 'replyTdMaxAck', type: 'u32', doc: 'reply direction: td_maxack' },
  { name: 'replyTdScale', type: 'u8', doc: 'reply direction: window scale' },
  { name: 'replyTdFlags', type: 'u8', doc: 'reply direction: tracker flags' },
  { name: 'status', type: 'u32', doc: 'status bits (seen reply, assured, ...)' },
  { name: 'mark', type: 'u32', doc: 'connection mark' },
  { name: 'timeoutMs', type: 'ms', doc: 'remaining timeout at `stamp`' },
  { name: 'nat', type: 'nat', doc: 'NAT binding, null when not NATed (fields below)' },
  { name: 'stamp', type: 'time', doc: 'sender-local monotonic ms of the change: the version of this connection\'s state (never compared with another host\'s clock)' },
  // Optional fields (the compatibility rule above): each left out when 0.
  { name: 'helper', type: 'u8', optional: true, doc: 'conntrack helper (`ct helper set`): 0 none, 1 ftp; a receiver ignores one it does not know' },
  { name: 'expectPort', type: 'u16', optional: true, doc: 'the helper\'s pending expectation (an FTP data connection announced, not yet seen): destination port, 0 when none' },
  { name: 'expectMs', type: 'ms', optional: true, doc: 'the expectation\'s remaining lifetime at `stamp` (a receiver caps it at its helper\'s 5 minutes)' },
  { name: 'expectSrc', type: 'addr', optional: true, doc: 'the expected connection\'s source address (the other end of the control connection)' },
  { name: 'expectDst', type: 'addr', optional: true, doc: 'the expected connection\'s destination address (the end that announced it)' },
  { name: 'origSeqPos', type: 'u32', optional: true, doc: 'TCP sequence adjustment, original direction (Linux `nf_ct_seqadj`, a helper rewriting payload): correction_pos' },
  { name: 'origSeqBefore', type: 'u32', optional: true, doc: 'original direction: offset_before, added modulo 2^32 (a negative offset as its two\'s complement)' },
  { name: 'origSeqAfter', type: 'u32', optional: true, doc: 'original direction: offset_after, modulo 2^32' },
  { name: 'replySeqPos', type: 'u32', optional: true, doc: 'reply direction: correction_pos' },
  { name: 'replySeqBefore', type: 'u32', optional: true, doc: 'reply direction: offset_before, modulo 2^32' },
  { name: 'replySeqAfter', type: 'u32', optional: true, doc: 'reply direction: offset_after, modulo 2^32' },
  // An expectation made by the FTP helper's NAT rewrite (an announcement rewritten through
  // NAT) travels in these, with `expectPort` 0: a peer that does not know them installs no
  // expectation (as before them) rather than one it would relate but not translate.
  // `expectMs`, `expectSrc` and `expectDst` describe it as for any expectation.
  { name: 'expectNatPort', type: 'u16', optional: true, doc: 'the pending expectation\'s destination port when the helper made it through NAT (then `expectPort` is 0), 0 when none; the receiver reserves it on `expectDst` as the owner did' },
  { name: 'expectNatFlags', type: 'u8', optional: true, max: 7, doc: 'its translation (Linux nf_nat_follow_master): bit 0 decided by the expectation, bit 1 destination to `expectNatDst`:`expectNatDport`, bit 2 source to `expectNatSrc`' },
  { name: 'expectNatDst', type: 'addr', optional: true, doc: 'the data connection\'s translated destination: the announcer\'s own address (an end of the control connection)' },
  { name: 'expectNatDport', type: 'u16', optional: true, doc: 'the data connection\'s translated destination port: the port the announcer gave' },
  { name: 'expectNatSrc', type: 'addr', optional: true, doc: 'the data connection\'s translated source: the address the announcer knows the other end by (an end of the control connection)' },
] as const satisfies readonly FieldSpec[];

/** Fields every record has (the version-1 record); the rest are optional (the rule above). */
export const REQUIRED_FIELDS: number = RECORD_TABLE.filter((f: FieldSpec) => f.optional !== true).length;
/**
 * Most values a record may have: room for fields appended by newer versions (skipped
 * unread), and a bound on what one record costs a reader.
 */
export const MAX_RECORD_FIELDS = 64;
/** Longest byte string an unknown trailing field may be (a reader skips it unread). */
export const MAX_UNKNOWN_BYTES = 64;
{
  // Optional fields come after every required one, and are never nat (the codec relies on it).
  const t: readonly FieldSpec[] = RECORD_TABLE;
  for (let i = 0; i < t.length; i++) {
    if ((i < REQUIRED_FIELDS) === (t[i]!.optional === true) || (t[i]!.optional === true && t[i]!.type === 'nat')) throw new Error(`record field ${t[i]!.name}: optional fields go last`);
  }
  if (t.length > MAX_RECORD_FIELDS) throw new Error('record table longer than MAX_RECORD_FIELDS');
}

/** The NAT part of a record (structure 1). */
export const NAT_TABLE = [
  { name: 'kind', type: 'u8', max: 3, doc: 'bit 0 source NAT, bit 1 destination NAT (like the kernel\'s IPS_SRC_NAT / IPS_DST_NAT)' },
  { name: 'addr', type: 'addr', doc: 'translated address: the source\'s when the source is translated, else the destination\'s' },
  { name: 'port', type: 'u16', doc: 'translated port (or ICMP id), same side as addr' },
] as const satisfies readonly FieldSpec[];

/** What happened to the connection on its owner. */
export const enum EventKind {
  New = 0,
  Update = 1,
  Destroy = 2,
}

type ValueOf<F extends FieldSpec> =
  F['type'] extends 'event' ? EventKind
    : F['type'] extends 'addr' ? Uint8Array
      : F['type'] extends 'nat' ? RecordNat | null
        : number;

/** The NAT part of a record (NAT_TABLE). Not node/nat's NatBinding: this is only what travels. */
export type RecordNat = { -readonly [F in (typeof NAT_TABLE)[number] as F['name']]: ValueOf<F> };

/**
 * What a peer needs to rebuild one tracked connection (RECORD_TABLE). Records are treated as
 * immutable once handed to the protocol: the coalescer, the resend queue and the state
 * mirror keep references, never copies.
 */
export type StateRecord = { -readonly [F in (typeof RECORD_TABLE)[number] as F['name']]: ValueOf<F> };

export type RecordFieldName = (typeof RECORD_TABLE)[number]['name'];

type OptionalName = Extract<(typeof RECORD_TABLE)[number], { optional: true }>['name'];
/** The optional fields of a record, each at its default (0, an address of zeros of the family's length). */
export function optionalDefaults(family: number): Pick<StateRecord, OptionalName> {
  const o: Record<string, unknown> = {};
  for (const f of RECORD_TABLE as readonly FieldSpec[]) if (f.optional === true) o[f.name] = f.type === 'addr' ? new Uint8Array(family === 4 ? 4 : 16) : 0;
  return o as Pick<StateRecord, OptionalName>;
}
export type NatFieldName = (typeof NAT_TABLE)[number]['name'];

/** Field order of a record on the wire: the cbor-x record structures declared up front (wire.ts). */
export const RECORD_FIELDS: readonly RecordFieldName[] = RECORD_TABLE.map((f) => f.name);
export const NAT_FIELDS: readonly NatFieldName[] = NAT_TABLE.map((f) => f.name);

/** The largest value a field of this type may carry (integers), as receivers check it. */
export function fieldMax(f: FieldSpec): number {
  if (f.max !== undefined) return f.max;
  switch (f.type) {
    case 'event': return EventKind.Destroy;
    case 'u8': return 0xff;
    case 'u16': return 0xffff;
    case 'u32': return 0xffffffff;
    case 'ms': return Number.MAX_SAFE_INTEGER;
    default: return NaN;
  }
}

// ---- ring slot layout ----

/** Names of the slot's places: the record's fields, the NAT part flattened (natKind, ...) and its presence flag. */
export type SlotName = Exclude<RecordFieldName, 'nat'> | 'hasNat' | `nat${Capitalize<NatFieldName>}`;

/** Bytes a field takes in a slot (an address always 16, an IPv4 one in its first 4). */
function slotWidth(type: FieldType): number {
  switch (type) {
    case 'ms': case 'time': return 8;
    case 'addr': return 16;
    case 'u32': return 4;
    case 'u16': return 2;
    default: return 1;
  }
}

export interface SlotPlace {
  readonly name: SlotName;
  readonly type: FieldType;
  readonly at: number;
}

/**
 * The slot layout: the fields (NAT part flattened, plus `hasNat`) placed widest first, in
 * table order within a width, so every number is aligned to its size and nothing is padded
 * between fields; the slot is rounded up to 8 bytes. Little-endian. Only threads of one
 * process share slots (ring, the sync worker's mirror, its apply batches), so the layout
 * may change between versions; the wire form may not.
 */
function slotLayout(): { places: readonly SlotPlace[]; bytes: number } {
  const flat: { name: SlotName; type: FieldType }[] = [];
  for (const f of RECORD_TABLE) {
    if (f.type !== 'nat') {
      flat.push({ name: f.name, type: f.type });
      continue;
    }
    flat.push({ name: 'hasNat', type: 'u8' });
    for (const n of NAT_TABLE) flat.push({ name: `nat${n.name[0]!.toUpperCase()}${n.name.slice(1)}` as SlotName, type: n.type });
  }
  const sorted = flat.map((p, i) => ({ ...p, i })).sort((a, b) => slotWidth(b.type) - slotWidth(a.type) || a.i - b.i);
  let at = 0;
  const places = sorted.map((p) => {
    const place = { name: p.name, type: p.type, at };
    at += slotWidth(p.type);
    return place;
  });
  return { places, bytes: (at + 7) & ~7 };
}

const layout = slotLayout();

/** Every place of the slot, in slot order. */
export const SLOT_PLACES: readonly SlotPlace[] = layout.places;
/** Bytes of one slot. */
export const SLOT_BYTES: number = layout.bytes;
/** Byte offset of each place in a slot: every reader and writer of slots names them from here. */
export const SLOT: Readonly<Record<SlotName, number>> = Object.freeze(
  Object.fromEntries(layout.places.map((p) => [p.name, p.at])) as Record<SlotName, number>,
);

// ---- documentation ----

const WIRE_TYPE: Record<FieldType, string> = {
  event: 'uint',
  family: 'uint',
  u8: 'uint',
  u16: 'uint',
  u32: 'uint',
  addr: 'bytes (4 or 16)',
  ms: 'uint (float64 from 2^32)',
  time: 'double (integer when whole, within ±2^32)',
  nat: 'null or structure 1',
};

function accepted(f: FieldSpec): string {
  if (f.type === 'family') return '4, 6';
  if (f.type === 'addr') return 'length by family';
  if (f.type === 'time') return 'finite';
  if (f.type === 'nat') return '';
  return `0 .. ${f.type === 'ms' ? '2^53 − 1' : fieldMax(f)}`;
}

function fieldRows(table: readonly FieldSpec[]): string[] {
  return table.map((f, i) => `| ${i} | ${f.name}${f.optional === true ? ' (optional)' : ''} | ${WIRE_TYPE[f.type]} | ${accepted(f)} | ${f.doc} |`);
}

/** The slot layout table of docs/sync-protocol.md §11 (between its ring-slot markers). */
export function slotLayoutMarkdown(): string {
  return [
    `Slot layout (${SLOT_BYTES} bytes, little-endian; an IPv4 address in the first 4 of its 16 bytes):`,
    '',
    '| offset | place | bytes |',
    '|---|---|---|',
    ...SLOT_PLACES.map((p) => `| ${p.at} | ${p.name} | ${slotWidth(p.type)} |`),
  ].join('\n');
}

/** The wire tables of docs/sync-protocol.md §6 (between its record-fields markers), from the tables above. */
export function recordFieldsMarkdown(): string {
  const head = ['| # | field | CBOR | accepted | meaning |', '|---|---|---|---|---|'];
  return [
    `Structure 0, the state record (array of its values in this order: fields 0 to ${REQUIRED_FIELDS - 1} always, the optional ones after them up to the last that is not 0; a reader takes ${REQUIRED_FIELDS} to ${MAX_RECORD_FIELDS} values and skips those it does not know):`,
    '',
    ...head,
    ...fieldRows(RECORD_TABLE),
    '',
    'Structure 1, the NAT binding:',
    '',
    ...head,
    ...fieldRows(NAT_TABLE),
  ].join('\n');
}
