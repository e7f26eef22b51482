/**
 * The record's per-connection codecs, compiled once at load from the field tables
 * (record-fields.ts): slot writer and readers, CBOR writer, size and reader, the empty record
 * and the check of a cbor-x-decoded object.
 *
 * Why compiled (new Function) rather than a loop over the table: these run per connection
 * on the datapath and sync threads, and a loop reads `r[name]` with a different key per
 * field, which V8 can only do through its generic (megamorphic) property lookup, where
 * straight-line code gets a fixed-offset load: a slot writer looping over the table took
 * 860-1110 ns a record against 120-260 for the compiled one (100,000 records, best of 15).
 * The source compiled here is only ever built from the constant tables, never from input;
 * `codecSource()` shows it.
 */
import {
  MAX_RECORD_FIELDS, NAT_TABLE, RECORD_TABLE, REQUIRED_FIELDS, SLOT, SLOT_BYTES, fieldMax, type FieldSpec, type SlotName, type StateRecord,
} from './record-fields.js';

/** What the CBOR writer needs from its output (RecordWriter). */
export interface CborOut {
  /** Room for `n` more bytes. */
  room(n: number): void;
  byte(b: number): void;
  /** CBOR initial byte(s): major type `major`, argument `n` (0 <= n < 2^32). */
  head(major: number, n: number): void;
  /** A number as cbor-x writes it. */
  num(v: number): void;
  /** A byte string of `len` bytes of `src` from `from`. */
  bstrAt(src: Uint8Array, from: number, len: number): void;
}

/** What the CBOR reader needs from its input (record-reader.ts's Cursor); each throws its "other layout" token. */
export interface CborIn {
  readonly b: Uint8Array;
  at: number;
  uint(): number;
  num(): number;
  bytes(len: number): Uint8Array;
  /** A byte string of exactly `len` bytes, copied into `dst` at `at` (no view made). */
  bytesInto(len: number, dst: Uint8Array, at: number): void;
  expect(t0: number, t1: number, t2: number): void;
  byte(): number;
  /** Skips one value of a field this reader does not know: a scalar (MAX_UNKNOWN_BYTES at most for a byte string), else it throws its refusal. */
  skip(): void;
  /** Refuses the payload (a record's count of values out of bounds): throws the refusal. */
  refuse(): never;
}

const RECORD_TAG = [0xd9, 0xe0, 0x00];
const NAT_TAG = [0xd9, 0xe0, 0x01];

const natPlace = (name: string): SlotName => `nat${name[0]!.toUpperCase()}${name.slice(1)}` as SlotName;
/** Slot offset of a record field (`nat` false) or of a NAT field (`nat` true). */
const at = (f: FieldSpec, nat: boolean): number => SLOT[nat ? natPlace(f.name) : (f.name as SlotName)];
// Field names go into the compiled source as they are: they must be plain identifiers.
for (const f of [...RECORD_TABLE, ...NAT_TABLE]) if (!/^[a-z][A-Za-z0-9]*$/.test(f.name)) throw new Error(`record field name ${f.name} is not an identifier`);

/** The slot's value of place `o + off`, read with DataView `v` / bytes `b`. */
function slotGet(f: FieldSpec, off: number): string {
  switch (f.type) {
    case 'u16': return `v.getUint16(o + ${off}, true)`;
    case 'u32': return `v.getUint32(o + ${off}, true)`;
    case 'ms': case 'time': return `v.getFloat64(o + ${off}, true)`;
    default: return `b[o + ${off}]`;
  }
}

function slotSet(f: FieldSpec, off: number, val: string): string {
  switch (f.type) {
    case 'u16': return `v.setUint16(o + ${off}, ${val}, true);`;
    case 'u32': return `v.setUint32(o + ${off}, ${val}, true);`;
    case 'ms': case 'time': return `v.setFloat64(o + ${off}, ${val}, true);`;
    // Byte by byte: for 4 or 16 bytes TypedArray.prototype.set costs more than the copy
    // (a slot write took 1.5-2x as long with it, 100,000 records).
    case 'addr': return `{ const s = ${val}; for (let i = 0; i < s.length; i++) b[o + ${off} + i] = s[i]; }`;
    default: return `v.setUint8(o + ${off}, ${val});`;
  }
}

/** A JS identifier for a field's value (NAT fields prefixed). */
const local = (f: FieldSpec, nat: boolean): string => (nat ? `nat_${f.name}` : `f_${f.name}`);
/** An object literal of the fields' locals, in table order (one hidden class for every record). */
const literal = (table: readonly FieldSpec[], nat: boolean): string => `{ ${table.map((f) => `${f.name}: ${local(f, nat)}`).join(', ')} }`;

// ---- slot <-> record ----

function writeSlotSource(): string {
  const lines = ['"use strict";'];
  for (const f of RECORD_TABLE as readonly FieldSpec[]) {
    if (f.optional === true && f.type === 'addr') {
      // All 16 bytes: whether the field is left out is judged from the slot (countSource).
      lines.push(`{ const s = r.${f.name}; for (let i = 0; i < s.length; i++) b[o + ${at(f, false)} + i] = s[i]; b.fill(0, o + ${at(f, false)} + s.length, o + ${at(f, false) + 16}); }`);
      continue;
    }
    if (f.type !== 'nat') {
      lines.push(slotSet(f, at(f, false), `r.${f.name}`));
      continue;
    }
    lines.push(`const n = r.${f.name};`, `if (n === null) {`, `  v.setUint8(o + ${SLOT.hasNat}, 0);`);
    // Without a binding the numbers are zeroed; the address is left as it was (never read).
    for (const g of NAT_TABLE) if (g.type !== 'addr') lines.push(`  ${slotSet(g, at(g, true), '0')}`);
    lines.push(`} else {`, `  v.setUint8(o + ${SLOT.hasNat}, 1);`);
    for (const g of NAT_TABLE) lines.push(`  ${slotSet(g, at(g, true), `n.${g.name}`)}`);
    lines.push('}');
  }
  return lines.join('\n');
}

function familyPreamble(): string[] {
  return [`const f_family = b[o + ${SLOT.family}];`, 'const alen = f_family === 4 ? 4 : 16;'];
}

/** readSlot: a new record (addresses copied into small arrays of their own). */
function readSlotSource(): string {
  const lines = ['"use strict";', ...familyPreamble()];
  const value = (f: FieldSpec, nat: boolean): string => (f.type === 'addr' ? `copyAddr(b, o + ${at(f, nat)}, alen)` : slotGet(f, at(f, nat)));
  for (const f of RECORD_TABLE) {
    if (f.type === 'family') continue;
    if (f.type !== 'nat') {
      lines.push(`const ${local(f, false)} = ${value(f, false)};`);
      continue;
    }
    lines.push(`let ${local(f, false)} = null;`, `if (b[o + ${SLOT.hasNat}] !== 0) {`);
    for (const g of NAT_TABLE) lines.push(`  const ${local(g, true)} = ${value(g, true)};`);
    lines.push(`  ${local(f, false)} = ${literal(NAT_TABLE, true)};`, '}');
  }
  lines.push(`return ${literal(RECORD_TABLE, false)};`);
  return lines.join('\n');
}

/** Number of address places a reused record needs (its own and its NAT part's). */
export const ADDR_PLACES = [...RECORD_TABLE, ...NAT_TABLE].filter((f) => f.type === 'addr').length;

/**
 * readSlotInto(v, b, o, r, a4, a16, nat): the slot into the reused record `r`; its address
 * fields become the arrays of `a4` (IPv4) or `a16` (IPv6), its NAT part the object `nat`.
 */
function readSlotIntoSource(): string {
  const lines = ['"use strict";', ...familyPreamble(), 'const a = f_family === 4 ? a4 : a16;'];
  const addrs: string[] = [];
  let k = 0;
  const copyLoop = (pairs: string[], indent: string): void => {
    lines.push(`${indent}for (let i = 0; i < alen; i++) {`, ...pairs.map((p) => `${indent}  ${p}`), `${indent}}`);
  };
  for (const f of RECORD_TABLE) {
    if (f.type === 'addr') {
      lines.push(`const p${k} = a[${k}]; r.${f.name} = p${k};`);
      addrs.push(`p${k}[i] = b[o + ${at(f, false)} + i];`);
      k++;
    } else if (f.type === 'family') lines.push(`r.${f.name} = f_family;`);
    else if (f.type !== 'nat') lines.push(`r.${f.name} = ${slotGet(f, at(f, false))};`);
  }
  copyLoop(addrs, '');
  const natField = RECORD_TABLE.find((f) => f.type === 'nat')!;
  lines.push(`if (b[o + ${SLOT.hasNat}] === 0) r.${natField.name} = null;`, 'else {');
  const natAddrs: string[] = [];
  for (const g of NAT_TABLE) {
    if (g.type === 'addr') {
      lines.push(`  const p${k} = a[${k}]; nat.${g.name} = p${k};`);
      natAddrs.push(`p${k}[i] = b[o + ${at(g, true)} + i];`);
      k++;
    } else lines.push(`  nat.${g.name} = ${slotGet(g, at(g, true))};`);
  }
  copyLoop(natAddrs, '  ');
  lines.push(`  r.${natField.name} = nat;`, '}', 'return r;');
  return lines.join('\n');
}

function emptyRecordSource(): string {
  const value = (f: FieldSpec): string => {
    switch (f.type) {
      case 'family': return '4';
      case 'addr': return 'new Uint8Array(4)';
      case 'nat': return 'null';
      default: return '0';
    }
  };
  return `"use strict";\nreturn { ${RECORD_TABLE.map((f) => `${f.name}: ${value(f)}`).join(', ')} };`;
}

// ---- slot -> CBOR ----

/** Bytes of a CBOR head whose argument is `n`. */
const headBytes = (n: number): number => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

/** Most bytes one field's value takes (bound for the writer's room()). */
function maxBytes(f: FieldSpec): number {
  switch (f.type) {
    case 'addr': return 17;
    case 'ms': case 'time': return 9;
    case 'nat': return 3 + headBytes(NAT_TABLE.length) + NAT_TABLE.reduce((s, g) => s + maxBytes(g), 0);
    default: return headBytes(fieldMax(f));
  }
}

/** Most bytes one record takes on the wire. */
const MAX_RECORD_BYTES = 3 + headBytes(RECORD_TABLE.length) + RECORD_TABLE.reduce((s, f) => s + maxBytes(f), 0);

/** Optional record fields (after the required ones), in table order. */
const OPTIONAL = RECORD_TABLE.slice(REQUIRED_FIELDS) as readonly FieldSpec[];

/** An expression true when optional field `f` of the slot at `o` is not its default (0 / zeros). */
function notDefault(f: FieldSpec): string {
  if (f.type !== 'addr') return `${slotGet(f, at(f, false))} !== 0`;
  const a = at(f, false);
  // Sixteen bytes (writeSlot and the readers zero what an IPv4 address does not use).
  return `(v.getUint32(o + ${a}, true) | v.getUint32(o + ${a + 4}, true) | v.getUint32(o + ${a + 8}, true) | v.getUint32(o + ${a + 12}, true)) !== 0`;
}

/** Statements setting `n` to the number of values the record in the slot needs (required ones, then up to the last optional one not 0). */
function countSource(): string[] {
  const lines = [`let n = ${REQUIRED_FIELDS};`];
  OPTIONAL.forEach((f, i) => lines.push(`if (${notDefault(f)}) n = ${REQUIRED_FIELDS + i + 1};`));
  return lines;
}

/**
 * writeCbor(w, v, b, o, kind, limit): the record in the slot at `o`, sent with kind `kind`,
 * as structure 0: its required fields, then its optional ones up to the last that is not
 * 0, and never more than `limit` values (a peer that reads only the required ones).
 */
function writeCborSource(): string {
  const lines = ['"use strict";', ...familyPreamble(), `w.room(${MAX_RECORD_BYTES});`, ...countSource(), 'if (n > limit) n = limit;'];
  const tag = (t: number[]): string => t.map((x) => `w.byte(${x});`).join(' ');
  lines.push(tag(RECORD_TAG), 'w.head(4, n);');
  const value = (f: FieldSpec, nat: boolean): string => {
    if (f.type === 'addr') return `w.bstrAt(b, o + ${at(f, nat)}, alen);`;
    if (f.type === 'event') return 'w.num(kind);';
    if (f.type === 'family') return 'w.num(f_family);';
    return `w.num(${slotGet(f, at(f, nat))});`;
  };
  RECORD_TABLE.forEach((f: FieldSpec, i) => {
    if (f.optional === true) {
      lines.push(`if (n > ${i}) ${value(f, false)}`);
      return;
    }
    if (f.type !== 'nat') {
      lines.push(value(f, false));
      return;
    }
    lines.push(`if (b[o + ${SLOT.hasNat}] === 0) w.byte(0xf6);`, 'else {', `  ${tag(NAT_TAG)}`, `  w.head(4, ${NAT_TABLE.length});`);
    for (const g of NAT_TABLE) lines.push(`  ${value(g, true)}`);
    lines.push('}');
  });
  return lines.join('\n');
}

/**
 * cborSize(v, b, o): the CBOR bytes of the record in the slot at `o` (for packing datagrams
 * without encoding twice). Exact, except `time` fields, counted at their 9-byte worst case.
 */
function cborSizeSource(): string {
  const lines = ['"use strict";', `const blen = b[o + ${SLOT.family}] === 4 ? 5 : 17;`, ...countSource()];
  let fixed = 3 + 2; // tag, and the array head (REQUIRED_FIELDS .. MAX_RECORD_FIELDS values: two bytes)
  const terms: string[] = [];
  const size = (f: FieldSpec, nat: boolean, into: string[]): number => {
    switch (f.type) {
      case 'addr': into.push('blen'); return 0;
      case 'time': return 9;
      // The sent kind (< 24) and the family are one byte each.
      case 'event': case 'family': return 1;
      default: into.push(`uintSize(${slotGet(f, at(f, nat))})`); return 0;
    }
  };
  RECORD_TABLE.forEach((f: FieldSpec, i) => {
    if (f.optional === true) {
      const t: string[] = [];
      const k = size(f, false, t);
      terms.push(`(n > ${i} ? ${[String(k), ...t].join(' + ')} : 0)`);
      return;
    }
    if (f.type !== 'nat') {
      fixed += size(f, false, terms);
      return;
    }
    const natTerms: string[] = [];
    let natFixed = 3 + headBytes(NAT_TABLE.length);
    for (const g of NAT_TABLE) natFixed += size(g, true, natTerms);
    terms.push(`(b[o + ${SLOT.hasNat}] === 0 ? 1 : ${[String(natFixed), ...natTerms].join(' + ')})`);
  });
  lines.push(`return ${[String(fixed), ...terms].join(' + ')};`);
  return lines.join('\n');
}

// ---- CBOR -> record ----

/** A statement that throws `OTHER` unless the local of `f` is in range (after c.uint(): at most 2^32 - 1). */
function cborCheck(f: FieldSpec, nat: boolean): string {
  const x = local(f, nat);
  switch (f.type) {
    case 'family': return `if (${x} !== 4 && ${x} !== 6) throw OTHER;`;
    case 'u32': return '';
    case 'ms': return `if (!Number.isSafeInteger(${x}) || ${x} < 0) throw OTHER;`;
    case 'time': return `if (!Number.isFinite(${x})) throw OTHER;`;
    case 'addr': case 'nat': return '';
    default: return `if (${x} > ${fieldMax(f)}) throw OTHER;`;
  }
}

function cborRead(f: FieldSpec): string {
  switch (f.type) {
    case 'addr': return 'c.bytes(alen)';
    case 'ms': case 'time': return 'c.num()';
    default: return 'c.uint()';
  }
}

/**
 * The record's array head: `n`, its count of values, REQUIRED_FIELDS to MAX_RECORD_FIELDS
 * (else the payload is refused), in the writer's spelling (one byte 0x98 and the count).
 */
function headSource(): string[] {
  if (REQUIRED_FIELDS < 24 || MAX_RECORD_FIELDS > 255) throw new Error('record head spelling');
  return [
    'if (c.byte() !== 0x98) throw OTHER;',
    'const n = c.byte();',
    `if (n < ${REQUIRED_FIELDS} || n > ${MAX_RECORD_FIELDS}) c.refuse();`,
  ];
}

/** Statements skipping the values after the ones this reader knows (fields of a newer version). */
function skipSource(): string {
  return `for (let i = ${RECORD_TABLE.length}; i < n; i++) c.skip();`;
}

/** readCbor(c, OTHER): one record in the writer's layout, addresses as views of the input. */
function readCborSource(): string {
  const lines = ['"use strict";', `c.expect(${RECORD_TAG.join(', ')});`, ...headSource()];
  const head = (n: number): string => (n < 24 ? `c.byte() !== ${0x80 | n}` : `c.byte() !== 0x98 || c.byte() !== ${n}`);
  RECORD_TABLE.forEach((f: FieldSpec, i) => {
    if (f.optional === true) {
      const x = local(f, false);
      const none = f.type === 'addr' ? 'new Uint8Array(alen)' : '0';
      lines.push(`let ${x} = ${none};`, `if (n > ${i}) {`, `  ${x} = ${cborRead(f)};`, `  ${cborCheck(f, false)}`, '}');
      return;
    }
    if (f.type !== 'nat') {
      lines.push(`const ${local(f, false)} = ${cborRead(f)};`, cborCheck(f, false));
      if (f.type === 'family') lines.push(`const alen = ${local(f, false)} === 4 ? 4 : 16;`);
      return;
    }
    lines.push(`let ${local(f, false)} = null;`, 'if (c.b[c.at] === 0xf6) c.at++;', 'else {', `  c.expect(${NAT_TAG.join(', ')});`, `  if (${head(NAT_TABLE.length)}) throw OTHER;`);
    for (const g of NAT_TABLE) lines.push(`  const ${local(g, true)} = ${cborRead(g)};`, `  ${cborCheck(g, true)}`);
    lines.push(`  ${local(f, false)} = ${literal(NAT_TABLE, true)};`, '}');
  });
  lines.push(skipSource(), `return ${literal(RECORD_TABLE, false)};`);
  return lines.filter((l) => l.trim() !== '').join('\n');
}

/**
 * readCborSlot(c, OTHER, v, b, o): one record in the writer's layout, checked exactly as
 * readCbor checks it, written into the slot at `o` of `b` / `v` instead of a new record:
 * the receiver's path, no object per record (addresses are copied, not viewed).
 */
function readCborSlotSource(): string {
  const lines = ['"use strict";', `c.expect(${RECORD_TAG.join(', ')});`, ...headSource()];
  const head = (n: number): string => (n < 24 ? `c.byte() !== ${0x80 | n}` : `c.byte() !== 0x98 || c.byte() !== ${n}`);
  const field = (f: FieldSpec, nat: boolean, indent: string): void => {
    if (f.type === 'addr') {
      lines.push(`${indent}c.bytesInto(alen, b, o + ${at(f, nat)});`);
      return;
    }
    lines.push(`${indent}const ${local(f, nat)} = ${cborRead(f)};`, `${indent}${cborCheck(f, nat)}`);
    if (f.type === 'family') lines.push(`${indent}const alen = ${local(f, nat)} === 4 ? 4 : 16;`);
    lines.push(`${indent}${slotSet(f, at(f, nat), local(f, nat))}`);
  };
  RECORD_TABLE.forEach((f: FieldSpec, i) => {
    if (f.optional === true) {
      // Left out: its default. A slot's address is zeroed whole (an IPv4 one's other 12 bytes too).
      lines.push(`if (n > ${i}) {`);
      if (f.type === 'addr') lines.push(`  b.fill(0, o + ${at(f, false)}, o + ${at(f, false) + 16});`);
      field(f, false, '  ');
      lines.push('} else {', `  ${f.type === 'addr' ? `b.fill(0, o + ${at(f, false)}, o + ${at(f, false) + 16});` : slotSet(f, at(f, false), '0')}`, '}');
      return;
    }
    if (f.type !== 'nat') {
      field(f, false, '');
      return;
    }
    lines.push('if (c.b[c.at] === 0xf6) {', '  c.at++;', `  v.setUint8(o + ${SLOT.hasNat}, 0);`);
    for (const g of NAT_TABLE) if (g.type !== 'addr') lines.push(`  ${slotSet(g, at(g, true), '0')}`);
    lines.push('} else {', `  c.expect(${NAT_TAG.join(', ')});`, `  if (${head(NAT_TABLE.length)}) throw OTHER;`);
    for (const g of NAT_TABLE) field(g, true, '  ');
    lines.push(`  v.setUint8(o + ${SLOT.hasNat}, 1);`, '}');
  });
  lines.push(skipSource());
  return lines.filter((l) => l.trim() !== '').join('\n');
}

/** checkObject(o, isUint, isAddr, copy): a cbor-x-decoded object as a record (addresses copied), or null. */
function checkObjectSource(): string {
  const lines = ['"use strict";', 'if (typeof o !== "object" || o === null) return null;'];
  const check = (f: FieldSpec, src: string, nat: boolean): void => {
    const x = local(f, nat);
    // An optional field left out (undefined) is its default.
    const get = f.optional === true ? `(${src}.${f.name} === undefined ? ${f.type === 'addr' ? 'new Uint8Array(f_family === 4 ? 4 : 16)' : '0'} : ${src}.${f.name})` : `${src}.${f.name}`;
    switch (f.type) {
      case 'family':
        lines.push(`const ${x} = ${get};`, `if (${x} !== 4 && ${x} !== 6) return null;`);
        break;
      case 'addr':
        lines.push(`const ${x} = ${get};`, `if (!isAddr(${x}, f_family)) return null;`);
        break;
      case 'time':
        lines.push(`const ${x} = ${get};`, `if (typeof ${x} !== "number" || !Number.isFinite(${x})) return null;`);
        break;
      default:
        lines.push(`const ${x} = ${get};`, `if (!isUint(${x}, ${fieldMax(f)})) return null;`);
    }
  };
  // The family first: it fixes every address's length.
  check(RECORD_TABLE.find((f) => f.type === 'family')!, 'o', false);
  for (const f of RECORD_TABLE) {
    if (f.type === 'family') continue;
    if (f.type !== 'nat') {
      check(f, 'o', false);
      continue;
    }
    const x = local(f, false);
    lines.push(`const ${x}_in = o.${f.name};`, `let ${x} = null;`, `if (${x}_in !== null) {`, `  if (typeof ${x}_in !== "object" || ${x}_in === undefined) return null;`);
    const before = lines.length;
    for (const g of NAT_TABLE) check(g, `${x}_in`, true);
    for (let i = before; i < lines.length; i++) lines[i] = `  ${lines[i]}`;
    const copied = NAT_TABLE.map((g) => `${g.name}: ${g.type === 'addr' ? `copy(${local(g, true)})` : local(g, true)}`);
    lines.push(`  ${x} = { ${copied.join(', ')} };`, '}');
  }
  const fields = RECORD_TABLE.map((f) => `${f.name}: ${f.type === 'addr' ? `copy(${local(f, false)})` : local(f, false)}`);
  lines.push(`return { ${fields.join(', ')} };`);
  return lines.join('\n');
}

/** The compiled sources, for reading and debugging (`console.log(codecSource().writeSlot)`). */
export function codecSource(): Record<string, string> {
  return {
    writeSlot: writeSlotSource(),
    readSlot: readSlotSource(),
    readSlotInto: readSlotIntoSource(),
    emptyRecord: emptyRecordSource(),
    writeCbor: writeCborSource(),
    cborSize: cborSizeSource(),
    readCbor: readCborSource(),
    readCborSlot: readCborSlotSource(),
    checkObject: checkObjectSource(),
  };
}

const compile = (params: string[], body: string, ...bound: unknown[]): unknown => {
  const names = params.slice(0, bound.length);
  const args = params.slice(bound.length);
  return new Function(...names, `return function (${args.join(', ')}) {\n${body}\n};`)(...bound);
};

/** Copies `len` bytes at `from` of `b` into a new small array (on V8's heap: free for the young generation). */
function copyAddr(b: Uint8Array, from: number, len: number): Uint8Array {
  const a = new Uint8Array(len);
  for (let i = 0; i < len; i++) a[i] = b[from + i]!;
  return a;
}

function uintSize(v: number): number {
  if (!Number.isInteger(v)) return 9;
  if (v < 0) v = -1 - v;
  return v < 24 ? 1 : v < 256 ? 2 : v < 65536 ? 3 : v < 4294967296 ? 5 : 9;
}

const src = codecSource();

/** Writes a record into the slot at byte offset `o`; no allocation. */
export const writeSlot = compile(['v', 'b', 'o', 'r'], src.writeSlot!) as (v: DataView, b: Uint8Array, o: number, r: StateRecord) => void;
/** A new record from the slot at byte offset `o`. */
export const readSlot = compile(['copyAddr', 'v', 'b', 'o'], src.readSlot!, copyAddr) as (v: DataView, b: Uint8Array, o: number) => StateRecord;
export const readSlotInto = compile(['v', 'b', 'o', 'r', 'a4', 'a16', 'nat'], src.readSlotInto!) as (
  v: DataView, b: Uint8Array, o: number, r: StateRecord, a4: readonly Uint8Array[], a16: readonly Uint8Array[], nat: NonNullable<StateRecord['nat']>,
) => StateRecord;
/** A record of zeros (IPv4, no NAT), with the same hidden class as every other record. */
export const emptyRecord = compile([], src.emptyRecord!) as () => StateRecord;
export const writeCbor = compile(['w', 'v', 'b', 'o', 'kind', 'limit'], src.writeCbor!) as (w: CborOut, v: DataView, b: Uint8Array, o: number, kind: number, limit: number) => void;
export const cborSize = compile(['uintSize', 'v', 'b', 'o'], src.cborSize!, uintSize) as (v: DataView, b: Uint8Array, o: number) => number;
export const readCbor = compile(['c', 'OTHER'], src.readCbor!) as (c: CborIn, other: symbol) => StateRecord;
export const readCborSlot = compile(['c', 'OTHER', 'v', 'b', 'o'], src.readCborSlot!) as (c: CborIn, other: symbol, v: DataView, b: Uint8Array, o: number) => void;
export const checkObject = compile(['o', 'isUint', 'isAddr', 'copy'], src.checkObject!) as (
  o: unknown, isUint: (v: unknown, max: number) => boolean, isAddr: (v: unknown, family: number) => boolean, copy: (b: Uint8Array) => Uint8Array,
) => StateRecord | null;

export { SLOT_BYTES };
