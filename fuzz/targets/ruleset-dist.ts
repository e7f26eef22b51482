/**
 * The ruleset-distribution frame codec (ruleset-dist/codec.ts) and the payload checks of
 * messages.ts. decodeFrame refuses with FrameError and nothing else. As for sync, a frame
 * is decoded as it is and with its length and MAC made right; an accepted payload goes
 * through the message checks, and what the distributor would apply from it (an UPDATE's
 * ops, a FETCH_RESP's text) through a rule engine, which may refuse only with RulesetError.
 * The same bytes are also read as a TCP stream frame (the 56-byte authenticated head, then
 * the whole frame), raw and with both MACs and the length made right.
 */
import { createHmac } from 'node:crypto';
import {
  FrameError, HEADER_BYTES, MAC_BYTES, STREAM_HEAD_BYTES, decodeFrame, decodeStreamFrame, decodeStreamHead, encodeFrame, encodeStreamFrame,
} from '../../ruleset-dist/codec.js';
import { MSG_ANNOUNCE, MSG_FETCH_REQ, MSG_FETCH_RESP, MSG_UPDATE, asAnnounce, asFetchRequest, asFetchResponse, asUpdate } from '../../ruleset-dist/messages.js';
import { RulesetEngine, RulesetError } from '../../node/ruleset/index.js';
import type { FuzzTarget } from '../target.js';
import { KEY, withRightMac } from './sync-wire.js';

const BASE = `table inet filter {
  set allowed { type ipv4_addr; elements = { 192.0.2.10 } }
  chain input { type filter hook input priority 0; policy drop; ip saddr @allowed accept }
}`;
const HASH = 'a'.repeat(64);

function seeds(): Uint8Array[] {
  const f = (type: number, payload: unknown) => encodeFrame(KEY, { type: type as 1, nodeId: 2, epoch: 5, seq: 9, payload });
  return [
    f(MSG_ANNOUNCE, { name: 'fw-a', version: 3, hash: HASH, role: 'master', ready: true }),
    f(MSG_UPDATE, {
      version: 4, baseVersion: 3, baseHash: HASH, hash: 'b'.repeat(64), origin: 'fw-a', summary: 'add element', time: 1700000000000,
      ops: [{ add: { element: { family: 'inet', table: 'filter', name: 'allowed', elem: ['192.0.2.11'] } } }],
    }),
    f(MSG_UPDATE, { version: 5, baseVersion: 4, baseHash: HASH, hash: HASH, origin: 'fw-a', summary: 'x', time: 1, ops: 'add rule inet filter input tcp dport 22 accept' }),
    f(MSG_FETCH_REQ, { version: 0, nonce: 'n1' }),
    f(MSG_FETCH_RESP, { nonce: 'n1', version: 3, hash: HASH, text: BASE, origin: 'fw-a', summary: 'load', time: 1 }),
    f(MSG_FETCH_RESP, { nonce: 'n1', error: 'no such version' }),
    encodeStreamFrame(KEY, { type: MSG_FETCH_REQ, nodeId: 2, epoch: 5, seq: 10, payload: { version: 0, nonce: 'n2' } }),
    encodeStreamFrame(KEY, { type: MSG_FETCH_RESP, nodeId: 3, epoch: 6, seq: 11, payload: { nonce: 'n2', version: 3, hash: HASH, text: BASE, origin: 'fw-a', summary: 'load', time: 1 } }),
  ];
}

/** A stream frame's length field, head MAC and final MAC made right for these bytes. */
function withRightStreamMacs(input: Uint8Array): Uint8Array | undefined {
  if (input.length < STREAM_HEAD_BYTES + MAC_BYTES) return undefined;
  const b = Buffer.from(input);
  const len = b.length - STREAM_HEAD_BYTES - MAC_BYTES;
  b.writeUInt32BE(len, 20);
  createHmac('sha256', KEY).update(b.subarray(0, HEADER_BYTES)).digest().copy(b, HEADER_BYTES);
  createHmac('sha256', KEY).update(b.subarray(0, STREAM_HEAD_BYTES + len)).digest().copy(b, STREAM_HEAD_BYTES + len);
  return b;
}

/** How the stream codec takes the bytes: FrameError reasons only. */
function streamOutcome(input: Uint8Array): string {
  const reason = (fn: () => unknown): string => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      return e.reason;
    }
  };
  const head = reason(() => decodeStreamHead(KEY, input.subarray(0, STREAM_HEAD_BYTES)));
  const whole = reason(() => decodeStreamFrame(KEY, input));
  const fixed = withRightStreamMacs(input);
  return `stream head ${head} frame ${whole}${fixed ? ` fixed ${reason(() => decodeStreamFrame(KEY, fixed))}` : ''}`;
}

export const rulesetDist: FuzzTarget = {
  name: 'ruleset-dist',
  about: 'ruleset-dist frames: magic, length, MAC, JSON payload, message checks, ops/text applied to an engine',
  maxBytes: 16384,
  dictionary: ['HRD1', 'HRS1', '"version"', '"ops"', '"text"', '"nonce"', '"add"', '"delete"', '"rule"', '"element"', '"flush"', 'null', '[]', '{}', '1e999', '"\\u0000"'],
  setup() {
    let engine = new RulesetEngine();
    const fresh = () => {
      // An engine per applied payload would cost most of the time: reload only after a change.
      if (engine.generation !== 1) {
        engine = new RulesetEngine();
        engine.load(BASE, 'base.nft');
      }
      return engine;
    };
    engine.load(BASE, 'base.nft');
    const apply = (what: () => void): string => {
      try {
        what();
        return 'applied';
      } catch (e) {
        if (e instanceof RulesetError) return 'refused by engine';
        throw e;
      }
    };
    return {
      seeds: seeds(),
      expected: (e) => e instanceof FrameError,
      run(input) {
        let raw = 'ok';
        try {
          decodeFrame(KEY, input);
        } catch (e) {
          if (!(e instanceof FrameError)) throw e;
          raw = e.reason;
        }
        const stream = streamOutcome(input);
        const fixed = withRightMac(input, HEADER_BYTES, 20);
        if (!fixed) return `raw ${raw} ${stream}`;
        const f = decodeFrame(KEY, fixed); // FrameError here is a clean refusal
        let what = 'not well-formed';
        if (f.type === MSG_ANNOUNCE && asAnnounce(f.payload)) what = 'announce';
        else if (f.type === MSG_FETCH_REQ && asFetchRequest(f.payload)) what = 'fetch request';
        else if (f.type === MSG_UPDATE) {
          const u = asUpdate(f.payload);
          if (u) what = `update ${apply(() => fresh().transaction(u.ops as never, undefined, '<update>'))}`;
        } else if (f.type === MSG_FETCH_RESP) {
          const r = asFetchResponse(f.payload);
          if (r?.text !== undefined) what = `fetch response ${apply(() => fresh().load(r.text!, '<fetched>'))}`;
          else if (r) what = 'fetch response error';
        }
        return `raw ${raw} type ${f.type} ${what} ${stream}`;
      },
    };
  },
};

