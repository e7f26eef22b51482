/**
 * SCTP beyond the ports (RFC 9260): `sctp vtag` and `sctp checksum` from the common header,
 * and `sctp chunk NAME exists|missing` with the chunk fields nft 1.0.6 names (`type`,
 * `flags`, `length` of any chunk; `data tsn|stream|ssn|ppid`, `init|init-ack init-tag|a-rwnd|
 * num-outbound-streams|num-inbound-streams|initial-tsn`, `sack cum-tsn-ack|a-rwnd|
 * num-gap-ack-blocks|num-dup-tsns`, `shutdown cum-tsn-ack`, `ecne|cwr lowest-tsn`,
 * `asconf|asconf-ack seqno` (RFC 5061), `forward-tsn new-cum-tsn` (RFC 3758)).
 *
 * A chunk is found as the kernel's exthdr expression finds it (nft_exthdr_sctp_eval): from
 * the end of the common header, chunk after chunk (each padded to 4 bytes), the first of the
 * type counts; a chunk of length 0 or the end of the packet ends the walk. A field past the
 * chunk's length or the packet's end is absent (no match). Only SCTP packets have chunks:
 * on anything else even `missing` does not match (nft's implicit `meta l4proto sctp`), and
 * neither does a non-first fragment (no transport header).
 */
import { BOOLEAN } from './tcp-options.js';
import { integerType } from '../data-types.js';
import type { DataType } from '../data-types.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import type { Registry } from '../registry.js';

const IPPROTO_SCTP = 132;

const VTAG = integerType('sctp_vtag', 32, 'SCTP verification tag (32 bits)');
const CHECKSUM = integerType('sctp_checksum', 32, 'SCTP checksum (CRC32c) as the packet carries it');

const t8 = (name: string, help: string) => integerType(`sctp_chunk_${name}`, 8, help);
const t16 = (name: string, help: string) => integerType(`sctp_chunk_${name}`, 16, help);
const t32 = (name: string, help: string) => integerType(`sctp_chunk_${name}`, 32, help);

const TYPE = t8('type', 'SCTP chunk type');
const FLAGS = t8('flags', 'SCTP chunk flags');
const LENGTH = t16('length', 'SCTP chunk length in bytes, header included');
const TSN = t32('tsn', 'SCTP transmission sequence number');
const STREAM = t16('stream', 'SCTP stream identifier');
const SSN = t16('ssn', 'SCTP stream sequence number');
const PPID = t32('ppid', 'SCTP payload protocol identifier');
const TAG = t32('init_tag', 'SCTP initiate tag');
const RWND = t32('a_rwnd', 'SCTP advertised receiver window credit');
const STREAMS = t16('streams', 'SCTP number of streams');
const COUNT = t16('count', 'SCTP number of gap ack blocks / duplicate TSNs');
const SEQNO = t32('seqno', 'SCTP ASCONF sequence number');

/** [field, type, offset in the chunk, bytes]. */
type Field = [string, DataType, number, 1 | 2 | 4];

const INIT_FIELDS: Field[] = [['init-tag', TAG, 4, 4], ['a-rwnd', RWND, 8, 4], ['num-outbound-streams', STREAMS, 12, 2], ['num-inbound-streams', STREAMS, 14, 2], ['initial-tsn', TSN, 16, 4]];

/** The chunk types nft names (RFC 9260 section 3.2, RFC 5061, RFC 3758), with their own fields. */
const CHUNKS: { name: string; type: number; fields: Field[] }[] = [
  { name: 'data', type: 0, fields: [['tsn', TSN, 4, 4], ['stream', STREAM, 8, 2], ['ssn', SSN, 10, 2], ['ppid', PPID, 12, 4]] },
  { name: 'init', type: 1, fields: INIT_FIELDS },
  { name: 'init-ack', type: 2, fields: INIT_FIELDS },
  { name: 'sack', type: 3, fields: [['cum-tsn-ack', TSN, 4, 4], ['a-rwnd', RWND, 8, 4], ['num-gap-ack-blocks', COUNT, 12, 2], ['num-dup-tsns', COUNT, 14, 2]] },
  { name: 'heartbeat', type: 4, fields: [] },
  { name: 'heartbeat-ack', type: 5, fields: [] },
  { name: 'abort', type: 6, fields: [] },
  { name: 'shutdown', type: 7, fields: [['cum-tsn-ack', TSN, 4, 4]] },
  { name: 'shutdown-ack', type: 8, fields: [] },
  { name: 'error', type: 9, fields: [] },
  { name: 'cookie-echo', type: 10, fields: [] },
  { name: 'cookie-ack', type: 11, fields: [] },
  { name: 'ecne', type: 12, fields: [['lowest-tsn', TSN, 4, 4]] },
  { name: 'cwr', type: 13, fields: [['lowest-tsn', TSN, 4, 4]] },
  { name: 'shutdown-complete', type: 14, fields: [] },
  { name: 'asconf-ack', type: 0x80, fields: [['seqno', SEQNO, 4, 4]] },
  { name: 'forward-tsn', type: 0xc0, fields: [['new-cum-tsn', TSN, 4, 4]] },
  { name: 'asconf', type: 0xc1, fields: [['seqno', SEQNO, 4, 4]] },
];

const u16 = (b: Uint8Array, o: number) => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/** The SCTP common header's offset, or -1 when the packet has none. */
function sctpAt(p: PacketInfo): number {
  return p.l4Valid && p.l4proto === IPPROTO_SCTP ? p.l4Off : -1;
}

/**
 * The first chunk of `type`: its offset, -1 when there is none (or, with `need` > 0, when the
 * first one does not hold `need` bytes), -2 when the packet is not SCTP.
 */
function chunkAt(p: PacketInfo, type: number, need: number): number {
  const l4 = sctpAt(p);
  if (l4 < 0) return -2;
  const b = p.buf;
  const end = p.end;
  // Each step moves on by at least 4 bytes (length 0 ends the walk): bounded by the packet.
  for (let off = l4 + 12; off + 4 <= end; ) {
    const len = u16(b, off + 2);
    if (len === 0) return -1;
    if (b[off] === type) return need === 0 || (need <= len && off + len <= end) ? off : -1;
    off += (len + 3) & ~3;
  }
  return -1;
}

export function registerSctpChunks(r: Registry): void {
  for (const [field, type, rel] of [['vtag', VTAG, 4], ['checksum', CHECKSUM, 8]] as const) {
    r.registerMatch({
      name: `sctp ${field}`,
      keywords: ['sctp', field],
      left: { payload: { protocol: 'sctp', field } },
      type,
      families: ['ip', 'ip6', 'inet'],
      help: `SCTP ${field === 'vtag' ? 'verification tag' : 'checksum'} from the common header; matches only SCTP packets`,
      load(ctx, out, off) {
        const at = sctpAt(ctx.pkt);
        if (at < 0) return false;
        out[off] = u32(ctx.pkt.buf, at + rel);
        return true;
      },
    });
  }
  for (const c of CHUNKS) {
    r.registerMatch({
      name: `sctp chunk ${c.name}`,
      keywords: ['sctp', 'chunk', c.name],
      left: { 'sctp chunk': { name: c.name } },
      type: BOOLEAN,
      families: ['ip', 'ip6', 'inet'],
      help: `whether the SCTP packet carries a ${c.name} chunk: \`sctp chunk ${c.name} exists\` or \`missing\``,
      load(ctx, out, off) {
        const at = chunkAt(ctx.pkt, c.type, 0);
        if (at === -2) return false;
        out[off] = at >= 0 ? 1 : 0;
        return true;
      },
    });
    const fields: Field[] = [['type', TYPE, 0, 1], ['flags', FLAGS, 1, 1], ['length', LENGTH, 2, 2], ...c.fields];
    for (const [field, type, rel, bytes] of fields) {
      r.registerMatch({
        name: `sctp chunk ${c.name} ${field}`,
        keywords: ['sctp', 'chunk', c.name, field],
        left: { 'sctp chunk': { name: c.name, field } },
        type,
        families: ['ip', 'ip6', 'inet'],
        help: `the ${field} of the first SCTP ${c.name} chunk (no such chunk or field: no match)`,
        load(ctx, out, off) {
          const p = ctx.pkt;
          const at = chunkAt(p, c.type, rel + bytes);
          if (at < 0) return false;
          const q = at + rel;
          out[off] = bytes === 1 ? p.buf[q]! : bytes === 2 ? u16(p.buf, q) : u32(p.buf, q);
          return true;
        },
      });
    }
  }
}
