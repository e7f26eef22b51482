/**
 * The ruleset-distribution frame codec (ruleset-dist/codec.ts) and the payload checks of
 * messages.ts. decodeFrame refuses with FrameError and nothing else. As for sync, a frame
 * is decoded as it is and with its length and MAC made right; an accepted payload goes
 * through the message checks, and what the distributor would apply from it (an UPDATE's
 * ops, a FETCH_RESP's text) through a rule engine, which may refuse only with RulesetError.
 */
import { FrameError, HEADER_BYTES, decodeFrame, encodeFrame } from '../../ruleset-dist/codec.js';
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
  ];
}

export const rulesetDist: FuzzTarget = {
  name: 'ruleset-dist',
  about: 'ruleset-dist frames: magic, length, MAC, JSON payload, message checks, ops/text applied to an engine',
  maxBytes: 16384,
  dictionary: ['HRD1', '"version"', '"ops"', '"text"', '"nonce"', '"add"', '"delete"', '"rule"', '"element"', '"flush"', 'null', '[]', '{}', '1e999', '"\\u0000"'],
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
        const fixed = withRightMac(input, HEADER_BYTES, 20);
        if (!fixed) return `raw ${raw}`;
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
        return `raw ${raw} type ${f.type} ${what}`;
      },
    };
  },
};

