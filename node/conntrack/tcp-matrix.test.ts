/**
 * Every (state, direction, packet kind) of the TCP tracker, driven through real packets
 * with in-window sequence numbers, against the outcome Linux's nf_conntrack_proto_tcp
 * gives (state table plus its special cases: ignored packets, reopen, RST handling,
 * kill on a RST before any reply, simultaneous open).
 */
import assert from 'node:assert/strict';
import { CtState, TcpState } from './ct-types.js';
import { Harness, seg, V4 } from './testing.js';

const C0 = 1000;
const S0 = 5000;

type Setup = { name: string; steps: [from: 'c' | 's', flags: string, seq: number, ack: number][]; cNext: number; sNext: number };

const SETUPS: Record<string, Setup> = {
  SS: { name: 'SYN_SENT', steps: [['c', 'S', C0, 0]], cNext: C0 + 1, sNext: S0 },
  SR: { name: 'SYN_RECV', steps: [['c', 'S', C0, 0], ['s', 'SA', S0, C0 + 1]], cNext: C0 + 1, sNext: S0 + 1 },
  ES: {
    name: 'ESTABLISHED',
    steps: [['c', 'S', C0, 0], ['s', 'SA', S0, C0 + 1], ['c', 'A', C0 + 1, S0 + 1]],
    cNext: C0 + 1,
    sNext: S0 + 1,
  },
  FW: {
    name: 'FIN_WAIT',
    steps: [['c', 'S', C0, 0], ['s', 'SA', S0, C0 + 1], ['c', 'A', C0 + 1, S0 + 1], ['c', 'FA', C0 + 1, S0 + 1]],
    cNext: C0 + 2,
    sNext: S0 + 1,
  },
  CW: {
    name: 'CLOSE_WAIT',
    steps: [
      ['c', 'S', C0, 0], ['s', 'SA', S0, C0 + 1], ['c', 'A', C0 + 1, S0 + 1], ['c', 'FA', C0 + 1, S0 + 1],
      ['s', 'A', S0 + 1, C0 + 2],
    ],
    cNext: C0 + 2,
    sNext: S0 + 1,
  },
  LA: {
    name: 'LAST_ACK',
    steps: [
      ['c', 'S', C0, 0], ['s', 'SA', S0, C0 + 1], ['c', 'A', C0 + 1, S0 + 1], ['c', 'FA', C0 + 1, S0 + 1],
      ['s', 'A', S0 + 1, C0 + 2], ['s', 'FA', S0 + 1, C0 + 2],
    ],
    cNext: C0 + 2,
    sNext: S0 + 2,
  },
  TW: {
    name: 'TIME_WAIT',
    steps: [
      ['c', 'S', C0, 0], ['s', 'SA', S0, C0 + 1], ['c', 'A', C0 + 1, S0 + 1], ['c', 'FA', C0 + 1, S0 + 1],
      ['s', 'A', S0 + 1, C0 + 2], ['s', 'FA', S0 + 1, C0 + 2], ['c', 'A', C0 + 2, S0 + 2],
    ],
    cNext: C0 + 2,
    sNext: S0 + 2,
  },
  CL: {
    name: 'CLOSE',
    steps: [['c', 'S', C0, 0], ['s', 'SA', S0, C0 + 1], ['c', 'A', C0 + 1, S0 + 1], ['c', 'R', C0 + 1, 0]],
    cNext: C0 + 1,
    sNext: S0 + 1,
  },
  S2: { name: 'SYN_SENT2', steps: [['c', 'S', C0, 0], ['s', 'S', S0, 0]], cNext: C0 + 1, sNext: S0 + 1 },
};

const STATE: Record<string, TcpState> = {
  SS: TcpState.SynSent, SR: TcpState.SynRecv, ES: TcpState.Established, FW: TcpState.FinWait,
  CW: TcpState.CloseWait, LA: TcpState.LastAck, TW: TcpState.TimeWait, CL: TcpState.Close, S2: TcpState.SynSent2,
};

const KINDS = ['S', 'SA', 'FA', 'A', 'R'] as const;

/**
 * Expected outcome per state for [orig S, SA, FA, A, R, reply S, SA, FA, A, R]:
 * a state name (accepted or ignored, entry in that state), 'IV' (invalid, unchanged),
 * 'gone' (accepted, entry destroyed: RST before any reply), 'new' (a SYN reopening a
 * closed connection: old entry destroyed, packet is NEW in a fresh SYN_SENT entry).
 */
const EXPECT: Record<string, string[]> = {
  SS: ['SS', 'IV', 'IV', 'IV', 'gone', 'S2', 'SR', 'IV', 'SS', 'gone'],
  SR: ['SR', 'SR', 'FW', 'ES', 'CL', 'IV', 'SR', 'FW', 'SR', 'CL'],
  ES: ['ES', 'IV', 'FW', 'ES', 'CL', 'IV', 'ES', 'FW', 'ES', 'CL'],
  FW: ['FW', 'IV', 'LA', 'CW', 'CL', 'IV', 'FW', 'LA', 'CW', 'CL'],
  CW: ['CW', 'IV', 'LA', 'CW', 'CL', 'IV', 'CW', 'LA', 'CW', 'CL'],
  LA: ['LA', 'IV', 'LA', 'TW', 'CL', 'IV', 'LA', 'LA', 'TW', 'CL'],
  TW: ['new', 'IV', 'TW', 'TW', 'CL', 'new', 'TW', 'TW', 'TW', 'CL'],
  CL: ['new', 'IV', 'CL', 'CL', 'CL', 'IV', 'CL', 'CL', 'CL', 'CL'],
  S2: ['S2', 'SR', 'IV', 'IV', 'CL', 'S2', 'SR', 'IV', 'S2', 'CL'],
};

describe('TCP tracker: every state x direction x packet kind (Linux outcomes)', () => {
  for (const [st, setup] of Object.entries(SETUPS)) {
    for (let i = 0; i < 10; i++) {
      const from = i < 5 ? 'c' : 's';
      const kind = KINDS[i % 5];
      const expect = EXPECT[st][i];
      it(`${setup.name}: ${from === 'c' ? 'original' : 'reply'} ${kind} -> ${expect}`, () => {
        const h = new Harness();
        for (const [f, fl, sq, ak] of setup.steps) assert.notEqual(h.send(seg(V4, f, fl, sq, ak)), CtState.Invalid);
        let entry = -1;
        h.ct.forEach((e) => (entry = e));
        assert.equal(h.ct.getTcpState(entry), STATE[st], 'setup reaches the state');
        const mine = from === 'c' ? setup.cNext : setup.sNext;
        const theirs = from === 'c' ? setup.sNext : setup.cNext;
        // SYNs reuse the sender's ISN (a retransmission); others carry the next sequence.
        const seq = kind === 'S' || kind === 'SA' ? (from === 'c' ? C0 : S0) : mine;
        const ack = kind === 'S' ? 0 : theirs;
        const res = h.send(seg(V4, from, kind, seq, ack));
        if (expect === 'IV') {
          assert.equal(res, CtState.Invalid);
          assert.equal(h.ct.getTcpState(entry), STATE[st]);
        } else if (expect === 'gone') {
          assert.notEqual(res, CtState.Invalid);
          assert.equal(h.ct.count(), 0);
        } else if (expect === 'new') {
          assert.equal(res, CtState.New);
          assert.equal(h.ct.count(), 1);
          assert.equal(h.ct.getTcpState(h.ct.result.entry), TcpState.SynSent);
          assert.equal(h.ct.result.dir, 0);
        } else {
          assert.notEqual(res, CtState.Invalid);
          assert.equal(h.ct.getTcpState(entry), STATE[expect]);
        }
      });
    }
  }
});
