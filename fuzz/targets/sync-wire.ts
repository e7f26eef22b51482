/**
 * The sync wire decoder (sync-protocol/wire.ts) and its record reader (record-reader.ts).
 * The decoder never throws: every refusal is a typed reason. An input is decoded twice:
 * as it is (what anyone on the sync segment reaches: the checks before the MAC) and with
 * its length field and MAC made right (what a key holder reaches: everything after).
 * Invariants: the direct record reader and cbor-x agree whenever the direct one answers,
 * and a decoded message encodes back to a message that decodes to the same thing.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  HEADER_LEN, MAC_LEN, MessageType, decodeMessage, decodeRecordsWithCborX, encodeMessage, encodeRecordsWithCborX, type Message,
} from '../../sync-protocol/wire.js';
import { readRecords } from '../../sync-protocol/record-reader.js';
import { EventKind, type StateRecord } from '../../sync-protocol/state-record.js';
import { makeRecord } from '../../sync-protocol/testing/fixtures.js';
import { FuzzInvariantError, type FuzzTarget } from '../target.js';
import { bucket } from '../outcome.js';

export const KEY = new Uint8Array(32).fill(7);

function v6Record(nat: boolean): StateRecord {
  return {
    ...makeRecord(5, EventKind.Update, 99.5), family: 6, proto: 17, zone: 3,
    origSrc: new Uint8Array(16).fill(0x20), origDst: new Uint8Array(16).fill(0x30),
    replySrc: new Uint8Array(16).fill(0x30), replyDst: new Uint8Array(16).fill(0x40),
    nat: nat ? { kind: 1, addr: new Uint8Array(16).fill(0x40), port: 40000 } : null,
  };
}

/** The datagram with its length field set to what is there and its MAC recomputed. */
export function withRightMac(input: Uint8Array, headerLen: number, lenAt: number): Uint8Array | undefined {
  if (input.length < headerLen + MAC_LEN) return undefined;
  const b = Buffer.from(input); // a copy: the input stays as the corpus has it
  const len = b.length - headerLen - MAC_LEN;
  b.writeUInt32BE(len, lenAt);
  createHmac('sha256', KEY).update(b.subarray(0, headerLen + len)).digest().copy(b, headerLen + len);
  return b;
}

function seeds(): Uint8Array[] {
  const h = { flags: 0, node: 1, epoch: 7, seq: 42, time: 1234.5 };
  const r1 = makeRecord(1, EventKind.New, 1.25);
  const r2 = { ...makeRecord(70000, EventKind.Destroy, 3), nat: { kind: 2, addr: new Uint8Array([198, 51, 100, 2]), port: 61000 } };
  const msgs: Message[] = [
    { ...h, type: MessageType.Data, records: [r1] },
    { ...h, type: MessageType.Data, records: [r1, v6Record(true), r2, v6Record(false)] },
    { ...h, type: MessageType.Data, records: [] },
    { ...h, flags: 1, type: MessageType.ResyncChunk, bulkId: 9, records: [r2, r1] },
    { ...h, type: MessageType.ResyncDone, bulkId: 9, firstSeq: 40, count: 2 },
    { ...h, type: MessageType.Ack, target: 2, targetEpoch: 3, cumAck: 41, echoTime: 1200, echoHold: 2, echoStamp: 1199 },
    { ...h, type: MessageType.Nack, target: 2, targetEpoch: 3, ranges: [5, 9, 12, 12] },
    { ...h, type: MessageType.Alive, lastSeq: 41 },
    { ...h, type: MessageType.ResyncRequest, target: 0 },
    { ...h, type: MessageType.Lost, target: 2, targetEpoch: 3, from: 1, to: 30 },
  ];
  const out: Uint8Array[] = msgs.map((m) => encodeMessage(m, KEY));
  // The same records in cbor-x's own spelling (the fallback path of the decoder).
  const viaCbor = encodeRecordsWithCborX([r1, v6Record(true)]);
  const d = Buffer.alloc(HEADER_LEN + viaCbor.length + MAC_LEN);
  Buffer.from(encodeMessage(msgs[2]!, KEY)).copy(d, 0, 0, HEADER_LEN);
  d.set(viaCbor, HEADER_LEN);
  out.push(withRightMac(d, HEADER_LEN, 20)!);
  return out;
}

/** Plain values for comparing records from the two readers (views vs copies of the bytes). */
function plain(rs: StateRecord[] | null | undefined): unknown {
  return rs?.map((r) => ({ ...r, origSrc: [...r.origSrc], origDst: [...r.origDst], replySrc: [...r.replySrc], replyDst: [...r.replyDst], nat: r.nat && { ...r.nat, addr: [...r.nat.addr] } }));
}

function payloadRecords(bytes: Uint8Array, type: number): Uint8Array | undefined {
  const prefix = type === MessageType.ResyncChunk ? 4 : type === MessageType.Data ? 0 : -1;
  if (prefix < 0 || bytes.length < HEADER_LEN + MAC_LEN + prefix) return undefined;
  return bytes.subarray(HEADER_LEN + prefix, bytes.length - MAC_LEN);
}

export const syncWire: FuzzTarget = {
  name: 'sync-wire',
  about: 'sync datagrams: header, MAC, every message type, state records (direct reader and cbor-x)',
  maxBytes: 9000,
  dictionary: ['HF', '\x01', '\xd9\xe0\x00', '\xd9\xe0\x01', '\x98\x1e', '\xf6', '\xfb', '\x44', '\x50', '\x99\xff\xff', '\x9b\xff\xff\xff\xff\xff\xff\xff\xff', '\xba\xff\xff\xff\xff'],
  setup() {
    return {
      seeds: seeds(),
      expected: () => false, // decodeMessage never throws
      run(input) {
        const raw = decodeMessage(input, KEY);
        const fixed = withRightMac(input, HEADER_LEN, 20);
        if (!fixed) return `raw ${raw.ok ? 'ok' : raw.reason}`;
        const d = decodeMessage(fixed, KEY);
        const type = fixed[3]!;
        const p = payloadRecords(fixed, type);
        let how = '';
        if (p) {
          const direct = readRecords(p);
          if (direct !== undefined) {
            const viaCbor = decodeRecordsWithCborX(p);
            try {
              assert.deepStrictEqual(plain(viaCbor), plain(direct));
            } catch (e) {
              throw new FuzzInvariantError(`the direct record reader and cbor-x disagree: ${(e as Error).message.slice(0, 400)}`);
            }
          }
          how = direct === undefined ? ' cbor-x' : ' direct';
        }
        if (!d.ok) return `raw ${raw.ok ? 'ok' : raw.reason} fixed ${d.reason}${how}`;
        const again = decodeMessage(encodeMessage(d.msg, KEY), KEY);
        if (!again.ok) throw new FuzzInvariantError(`a decoded message does not decode once encoded again: ${again.reason}`);
        try {
          assert.deepStrictEqual(JSON.parse(JSON.stringify(again.msg)), JSON.parse(JSON.stringify(d.msg)));
        } catch (e) {
          throw new FuzzInvariantError(`decode(encode(decode(x))) differs from decode(x): ${(e as Error).message.slice(0, 400)}`);
        }
        const n = 'records' in d.msg ? ` ${bucket(d.msg.records.length)} records` : '';
        return `raw ${raw.ok ? 'ok' : raw.reason} fixed ok type ${type}${n}${how}`;
      },
    };
  },
};
