/**
 * A frozen DATA message of sync protocol version 1, as the version before the record field
 * table wrote it (commit 4b51ff4, hand-written record codec), with the records it carries.
 * Spelled out here on purpose, independent of record-fields.ts: a node of this version and
 * one of that version must read each other's messages (a rolling upgrade), so the bytes the
 * table-driven codec writes and reads are compared with these. Never regenerate it.
 */
import type { StateRecord } from '../state-record.js';
import { optionalDefaults } from '../record-fields.js';

const seq = (first: number): Uint8Array => Uint8Array.from({ length: 16 }, (_, i) => first + i);

export const V1_KEY = Buffer.alloc(32, 0x5a);
export const V1_HEADER = { flags: 0, node: 0x01020304, epoch: 1700000000, seq: 41, time: 1733580000200.5 };

export const V1_RECORDS: StateRecord[] = [
  {
    kind: 0, family: 4, proto: 6, zone: 0, origSrc: Uint8Array.of(192, 0, 2, 10), origDst: Uint8Array.of(198, 51, 100, 20), origSport: 40001, origDport: 443,
    replySrc: Uint8Array.of(198, 51, 100, 20), replyDst: Uint8Array.of(192, 0, 2, 10), replySport: 443, replyDport: 40001, tcpState: 3,
    origTdEnd: 0x01020304, origTdMaxEnd: 0x01030304, origTdMaxWin: 65535, origTdMaxAck: 0xfffffff0, origTdScale: 7, origTdFlags: 0x1f,
    replyTdEnd: 0x0a0b0c0d, replyTdMaxEnd: 0x0a0b8c0d, replyTdMaxWin: 29200, replyTdMaxAck: 0x00010203, replyTdScale: 14, replyTdFlags: 0x03,
    status: 0x0e, mark: 0xffffffff, timeoutMs: 432000000, nat: null, stamp: 1733580000123.25,
    ...optionalDefaults(4), // fields this version added, as it reads them from a record without them
  },
  {
    kind: 1, family: 6, proto: 17, zone: 300, origSrc: seq(0x20), origDst: seq(0x30), origSport: 5353, origDport: 53,
    replySrc: seq(0x40), replyDst: seq(0x50), replySport: 53, replyDport: 61000, tcpState: 0,
    origTdEnd: 0, origTdMaxEnd: 0, origTdMaxWin: 0, origTdMaxAck: 0, origTdScale: 0, origTdFlags: 0,
    replyTdEnd: 0, replyTdMaxEnd: 0, replyTdMaxWin: 0, replyTdMaxAck: 0, replyTdScale: 0, replyTdFlags: 0,
    status: 0x18e, mark: 23, timeoutMs: 30000, nat: { kind: 1, addr: seq(0x50), port: 61000 }, stamp: 7,
    ...optionalDefaults(6),
  },
  {
    kind: 2, family: 4, proto: 1, zone: 24, origSrc: Uint8Array.of(203, 0, 113, 5), origDst: Uint8Array.of(203, 0, 113, 6), origSport: 0x1234, origDport: 0x0800,
    replySrc: Uint8Array.of(203, 0, 113, 6), replyDst: Uint8Array.of(203, 0, 113, 7), replySport: 0x1234, replyDport: 0, tcpState: 255,
    origTdEnd: 24, origTdMaxEnd: 255, origTdMaxWin: 256, origTdMaxAck: 65535, origTdScale: 23, origTdFlags: 24,
    replyTdEnd: 65536, replyTdMaxEnd: 1, replyTdMaxWin: 2, replyTdMaxAck: 3, replyTdScale: 4, replyTdFlags: 5,
    status: 0x3, mark: 0, timeoutMs: 2 ** 40, nat: { kind: 2, addr: Uint8Array.of(203, 0, 113, 7), port: 0 }, stamp: -5.5,
    ...optionalDefaults(4),
  },
];

/** encodeMessage({ ...V1_HEADER, type: DATA, records: V1_RECORDS }, V1_KEY) of that version, in hex. */
export const V1_DATA_HEX =
  '4846010100000000010203046553f100000000290000015042793a16b8bc880083d9e000981e0004060044c000020a44' +
  'c6336414199c411901bb44c633641444c000020a1901bb199c41031a010203041a0103030419ffff1afffffff007181f' +
  '1a0a0b0c0d1a0a0b8c0d1972101a000102030e030e1affffffff1a19bfcc00f6fb42793a16b8b7b400d9e000981e0106' +
  '1119012c50202122232425262728292a2b2c2d2e2f50303132333435363738393a3b3c3d3e3f1914e918355040414243' +
  '4445464748494a4b4c4d4e4f50505152535455565758595a5b5c5d5e5f183519ee480000000000000000000000000019' +
  '018e17197530d9e001830150505152535455565758595a5b5c5d5e5f19ee4807d9e000981e020401181844cb00710544' +
  'cb00710619123419080044cb00710644cb0071071912340018ff181818ff19010019ffff1718181a0001000001020304' +
  '050300fb4270000000000000d9e001830244cb00710700fbc016000000000000e170ca326dd7905fa041ee7645148843' +
  '5028397bf841fcc93c96700735ff2d33';
