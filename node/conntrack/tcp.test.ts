import assert from 'node:assert/strict';
import { CtEventKind, CtState, CtStatus, TcpState } from './ct-types.js';
import { Harness, seg, type TcpEnds, V4, V6 } from './testing.js';

const C = 1000; // client ISN
const S = 5000; // server ISN

/** Harness plus the flow's entry; `st()` is the TCP state of the (single) entry. */
function flow(ends: TcpEnds = V4, opts = {}) {
  const h = new Harness(opts);
  const send = (from: 'c' | 's', flags: string, seq: number, ack: number, extra = {}) =>
    h.send(seg(ends, from, flags, seq, ack, extra));
  const entry = () => {
    let found = -1;
    h.ct.forEach((e) => (found = e));
    return found;
  };
  const st = () => (entry() < 0 ? -1 : h.ct.getTcpState(entry()));
  const handshake = (extraC = {}, extraS = {}) => {
    assert.equal(send('c', 'S', C, 0, extraC), CtState.New);
    assert.equal(send('s', 'SA', S, C + 1, extraS), CtState.Established);
    assert.equal(send('c', 'A', C + 1, S + 1), CtState.Established);
  };
  return { h, send, entry, st, handshake };
}

describe('TCP tracking: state transitions (Linux tcp_conntracks)', () => {
  it('SYN creates SYN_SENT as new, inserted only when committed', () => {
    const f = flow();
    const ct = f.h.ct;
    const pkt = seg(V4, 'c', 'S', C, 0);
    f.h.send(pkt, 0, false); // ruleset dropped it
    assert.equal(ct.count(), 0);
    assert.equal(f.send('c', 'S', C, 0), CtState.New);
    assert.equal(ct.count(), 1);
    assert.equal(f.st(), TcpState.SynSent);
    assert.deepEqual(f.h.kinds(), [CtEventKind.New]);
    assert.equal(ct.remainingMs(f.entry()), 120_000);
  });

  it('SYN/ACK moves to SYN_RECV and is established (reply direction)', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    assert.equal(f.send('s', 'SA', S, C + 1), CtState.Established);
    assert.equal(f.st(), TcpState.SynRecv);
    assert.ok(f.h.ct.getStatus(f.entry()) & CtStatus.SeenReply);
    assert.equal(f.h.ct.remainingMs(f.entry()), 60_000);
  });

  it('the third ACK makes ESTABLISHED and ASSURED', () => {
    const f = flow();
    f.handshake();
    assert.equal(f.st(), TcpState.Established);
    assert.ok(f.h.ct.getStatus(f.entry()) & CtStatus.Assured);
    assert.equal(f.h.ct.remainingMs(f.entry()), 5 * 24 * 3600 * 1000);
  });

  it('data shortens the timeout to "unacknowledged" until it is acked', () => {
    const f = flow();
    f.handshake();
    assert.equal(f.send('c', 'PA', C + 1, S + 1, { payload: 100 }), CtState.Established);
    assert.equal(f.h.ct.remainingMs(f.entry()), 300_000);
    assert.equal(f.send('s', 'A', S + 1, C + 101), CtState.Established);
    assert.equal(f.h.ct.remainingMs(f.entry()), 5 * 24 * 3600 * 1000);
  });

  it('closes FIN_WAIT -> CLOSE_WAIT -> LAST_ACK -> TIME_WAIT', () => {
    const f = flow();
    f.handshake();
    assert.equal(f.send('c', 'FA', C + 1, S + 1), CtState.Established);
    assert.equal(f.st(), TcpState.FinWait);
    assert.equal(f.send('s', 'A', S + 1, C + 2), CtState.Established);
    assert.equal(f.st(), TcpState.CloseWait);
    assert.equal(f.h.ct.remainingMs(f.entry()), 60_000);
    assert.equal(f.send('s', 'FA', S + 1, C + 2), CtState.Established);
    assert.equal(f.st(), TcpState.LastAck);
    assert.equal(f.h.ct.remainingMs(f.entry()), 30_000);
    assert.equal(f.send('c', 'A', C + 2, S + 2), CtState.Established);
    assert.equal(f.st(), TcpState.TimeWait);
    assert.equal(f.h.ct.remainingMs(f.entry()), 120_000);
  });

  it('FIN from both sides at once goes FIN_WAIT -> LAST_ACK -> TIME_WAIT', () => {
    const f = flow();
    f.handshake();
    f.send('c', 'FA', C + 1, S + 1);
    f.send('s', 'FA', S + 1, C + 2);
    assert.equal(f.st(), TcpState.LastAck);
    f.send('c', 'A', C + 2, S + 2);
    assert.equal(f.st(), TcpState.TimeWait);
  });

  it('an in-window RST with the exact sequence closes (CLOSE, 10 s)', () => {
    const f = flow();
    f.handshake();
    assert.equal(f.send('s', 'R', S + 1, 0), CtState.Established);
    assert.equal(f.st(), TcpState.Close);
    assert.equal(f.h.ct.remainingMs(f.entry()), 10_000);
  });

  it('RST|ACK with ack 0 from a broken stack is still accepted', () => {
    const f = flow();
    f.handshake();
    assert.equal(f.send('c', 'RA', C + 1, 0), CtState.Established);
    assert.equal(f.st(), TcpState.Close);
  });

  it('an in-window RST with an inexact sequence keeps ESTABLISHED for a challenge ACK (RFC 5961)', () => {
    const f = flow();
    f.handshake();
    assert.equal(f.send('s', 'R', S + 100, 0), CtState.Established);
    assert.equal(f.st(), TcpState.Established);
    assert.equal(f.h.ct.remainingMs(f.entry()), 10_000);
  });

  it('a RST below the acknowledged sequence is invalid', () => {
    const f = flow();
    f.handshake();
    f.send('s', 'PA', S + 1, C + 1, { payload: 50 });
    f.send('c', 'A', C + 1, S + 51);
    assert.equal(f.send('s', 'R', S + 10, 0), CtState.Invalid);
    assert.equal(f.st(), TcpState.Established);
  });

  it('with ignore-invalid-rst, a RST below the acknowledged sequence is not invalid', () => {
    const f = flow(V4, { tcpIgnoreInvalidRst: true });
    f.handshake();
    f.send('s', 'PA', S + 1, C + 1, { payload: 50 });
    f.send('c', 'A', C + 1, S + 51);
    assert.equal(f.send('s', 'R', S + 10, 0), CtState.Established);
    assert.equal(f.st(), TcpState.Established);
  });

  it('in LAST_ACK, the challenge ACK answering a new SYN is not taken for the last ACK (RFC 5961)', () => {
    const f = flow();
    f.handshake();
    f.send('c', 'FA', C + 1, S + 1);
    f.send('s', 'A', S + 1, C + 2);
    f.send('s', 'FA', S + 1, C + 2);
    assert.equal(f.st(), TcpState.LastAck);
    assert.equal(f.send('c', 'S', 777_777, 0), CtState.Established); // ignored
    assert.equal(f.send('s', 'A', S + 2, C + 2), CtState.Established); // challenge ACK
    assert.equal(f.st(), TcpState.LastAck);
  });

  it('in SYN_SENT, a RST answering the server\'s challenge ACK closes the entry though its ack is unseen (RFC 5961 §4)', () => {
    const f = flow();
    assert.equal(f.send('c', 'S', C, 0), CtState.New);
    // The server still holds an older connection on these ports and answers with an ACK.
    assert.equal(f.send('s', 'A', S, C + 1), CtState.Established); // ignored, noted
    assert.equal(f.st(), TcpState.SynSent);
    // The client's RST carries seq = the challenge ACK's ack number: accepted, entry closes.
    assert.equal(f.send('c', 'RA', C + 1, 9999), CtState.Established);
    assert.equal(f.st(), TcpState.Close);
  });

  it('in SYN_SENT, a RST whose seq does not match the challenge ACK is checked against the window', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    f.send('s', 'A', S, C + 1);
    assert.equal(f.send('c', 'RA', C + 50, 9999), CtState.Invalid);
    assert.equal(f.st(), TcpState.SynSent);
  });

  it('a RST far outside the window is invalid and changes nothing', () => {
    const f = flow();
    f.handshake();
    assert.equal(f.send('s', 'R', S + 10_000_000, 0), CtState.Invalid);
    assert.equal(f.st(), TcpState.Established);
  });

  it('a RST answering the SYN removes the entry at once', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    assert.equal(f.send('s', 'RA', 0, C + 1), CtState.Established);
    assert.equal(f.h.ct.count(), 0);
    assert.deepEqual(f.h.kinds(), [CtEventKind.New, CtEventKind.Destroy]);
  });

  it('a retransmitted SYN stays SYN_SENT, new, and does not extend the timeout', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    f.h.advance(3000);
    assert.equal(f.send('c', 'S', C, 0), CtState.New);
    assert.equal(f.st(), TcpState.SynSent);
    assert.equal(f.h.ct.remainingMs(f.entry()), 117_000);
  });

  it('a retransmitted SYN/ACK is ignored but established', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    f.send('s', 'SA', S, C + 1);
    assert.equal(f.send('s', 'SA', S, C + 1), CtState.Established);
    assert.equal(f.st(), TcpState.SynRecv);
  });

  it('after a simultaneous open, a bare RST from the side that sent the last SYN is window-checked', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    assert.equal(f.send('s', 'S', S, 0), CtState.Established); // SYN_SENT2
    // Far outside the window: it answers no SYN of the other side, so no shortcut.
    assert.equal(f.send('s', 'R', S + 999_999, 0), CtState.Invalid);
    assert.equal(f.st(), TcpState.SynSent2);
  });

  it('after a simultaneous open, a bare RST from the other side answers that SYN and closes', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    f.send('s', 'S', S, 0);
    assert.equal(f.send('c', 'R', C + 999_999, 0), CtState.Established);
    assert.equal(f.st(), TcpState.Close);
  });

  it('simultaneous open: SYN, SYN, SYN/ACK, ACK reaches ESTABLISHED and ASSURED', () => {
    const f = flow();
    assert.equal(f.send('c', 'S', C, 0), CtState.New);
    assert.equal(f.send('s', 'S', S, 0), CtState.Established);
    assert.equal(f.st(), TcpState.SynSent2);
    assert.equal(f.send('c', 'SA', C, S + 1), CtState.Established);
    assert.equal(f.st(), TcpState.SynRecv);
    assert.equal(f.send('s', 'A', S + 1, C + 1), CtState.Established);
    assert.equal(f.st(), TcpState.Established);
    assert.ok(f.h.ct.getStatus(f.entry()) & CtStatus.Assured);
  });

  it('a SYN in TIME_WAIT reopens: the old entry is destroyed and the SYN is new', () => {
    const f = flow();
    f.handshake();
    f.send('c', 'FA', C + 1, S + 1);
    f.send('s', 'FA', S + 1, C + 2);
    f.send('c', 'A', C + 2, S + 2);
    assert.equal(f.st(), TcpState.TimeWait);
    f.h.events.length = 0;
    assert.equal(f.send('c', 'S', C + 100_000, 0), CtState.New);
    assert.equal(f.st(), TcpState.SynSent);
    assert.deepEqual(f.h.kinds(), [CtEventKind.Destroy, CtEventKind.New]);
  });

  it('a SYN in ESTABLISHED is ignored, and the SYN/ACK answering it resynchronises', () => {
    const f = flow();
    f.handshake();
    // The client restarted with a new ISN; we still hold the old connection.
    assert.equal(f.send('c', 'S', 90_000, 0), CtState.Established);
    assert.equal(f.st(), TcpState.Established);
    assert.equal(f.send('s', 'SA', 70_000, 90_001), CtState.Established);
    assert.equal(f.st(), TcpState.SynRecv);
    assert.equal(f.send('c', 'A', 90_001, 70_001), CtState.Established);
    assert.equal(f.st(), TcpState.Established);
  });

  it('an ACK from the client in SYN_SENT is invalid', () => {
    const f = flow();
    f.send('c', 'S', C, 0);
    assert.equal(f.send('c', 'A', C + 1, 0), CtState.Invalid);
    assert.equal(f.st(), TcpState.SynSent);
  });

  it('a SYN/ACK for an unknown connection is invalid and creates nothing', () => {
    const f = flow();
    assert.equal(f.send('s', 'SA', S, C + 1), CtState.Invalid);
    assert.equal(f.h.ct.count(), 0);
  });

  for (const flags of ['F', 'SF', 'SR', '', 'FPU', 'SRA']) {
    it(`flag combination '${flags || 'none'}' is invalid`, () => {
      const f = flow();
      f.handshake();
      assert.equal(f.send('c', flags, C + 1, S + 1), CtState.Invalid);
    });
  }

  it('ECE, CWR and PSH are ignored by the flag check', () => {
    const f = flow();
    assert.equal(f.send('c', 'SEC', C, 0), CtState.New);
  });
});

describe('TCP tracking: strict and loose pickup', () => {
  it('strict (default): a mid-stream packet of an unknown connection is invalid', () => {
    const f = flow();
    assert.equal(f.send('c', 'PA', C + 1, S + 1, { payload: 10 }), CtState.Invalid);
    assert.equal(f.h.ct.count(), 0);
  });

  it('loose: a mid-stream ACK is picked up as new ESTABLISHED with the short timeout', () => {
    const f = flow(V4, { tcpLoose: true });
    assert.equal(f.send('c', 'PA', C + 1, S + 1, { payload: 10 }), CtState.New);
    assert.equal(f.st(), TcpState.Established);
    assert.equal(f.h.ct.remainingMs(f.entry()), 300_000);
    assert.equal(f.send('s', 'A', S + 1, C + 11), CtState.Established);
    assert.equal(f.send('c', 'A', C + 11, S + 1), CtState.Established);
    assert.ok(f.h.ct.getStatus(f.entry()) & CtStatus.Assured);
  });

  it('loose still refuses a mid-stream FIN or RST as the first packet', () => {
    const f = flow(V4, { tcpLoose: true });
    assert.equal(f.send('c', 'FA', C + 1, S + 1), CtState.Invalid);
    assert.equal(f.send('c', 'R', C + 1, 0), CtState.Invalid);
    assert.equal(f.h.ct.count(), 0);
  });
});

describe('TCP tracking: windows', () => {
  // The server advertises a window of 1000 (no scaling): the client may send up to
  // td_maxend = 1001 + 1000 = 2001.
  const small = () => {
    const f = flow();
    f.handshake({ window: 1000 }, { window: 1000 });
    return f;
  };

  it('a segment starting at the right window edge is accepted', () => {
    const f = small();
    assert.equal(f.send('c', 'PA', 2001, S + 1, { payload: 1 }), CtState.Established);
  });

  it('a segment a little past the edge is ignored (not invalid), like Linux', () => {
    const f = small();
    const before = f.h.ct.remainingMs(f.entry());
    f.h.advance(1000);
    assert.equal(f.send('c', 'PA', 2002, S + 1, { payload: 1 }), CtState.Established);
    assert.equal(f.h.ct.remainingMs(f.entry()), before - 1000, 'an ignored segment refreshes nothing');
  });

  it('a segment far past the edge is invalid', () => {
    const f = small();
    assert.equal(f.send('c', 'PA', 2001 + 5000, S + 1, { payload: 1 }), CtState.Invalid);
  });

  it('an ACK of data never sent is invalid', () => {
    const f = small();
    assert.equal(f.send('c', 'A', C + 1, S + 2), CtState.Invalid);
  });

  it('old data (below the window) is ignored, not invalid', () => {
    const f = small();
    f.send('c', 'PA', C + 1, S + 1, { payload: 900 });
    f.send('s', 'A', S + 1, C + 901, { window: 1000 });
    f.send('c', 'PA', C + 901, S + 1, { payload: 900 });
    f.send('s', 'A', S + 1, C + 1801, { window: 1000 });
    f.send('c', 'PA', C + 1801, S + 1, { payload: 900 });
    f.send('s', 'A', S + 1, C + 2701, { window: 1000 });
    // A retransmission of the first bytes, far below td_end - receiver's max window.
    assert.equal(f.send('c', 'PA', C + 1, S + 1, { payload: 10 }), CtState.Established);
  });

  it('sequence numbers wrap around 2^32', () => {
    const f = flow();
    const isn = 0xffffff00;
    assert.equal(f.send('c', 'S', isn, 0), CtState.New);
    f.send('s', 'SA', S, isn + 1);
    f.send('c', 'A', isn + 1, S + 1);
    // 0x200 bytes from 0xffffff01 end at 0x101, across the wrap.
    assert.equal(f.send('c', 'PA', isn + 1, S + 1, { payload: 0x200 }), CtState.Established);
    assert.equal(f.send('s', 'A', S + 1, (isn + 1 + 0x200) >>> 0), CtState.Established);
    assert.equal(f.send('c', 'PA', (isn + 1 + 0x200) >>> 0, S + 1, { payload: 10 }), CtState.Established);
    assert.equal(f.send('c', 'FA', (isn + 1 + 0x210) >>> 0, S + 1), CtState.Established);
    assert.equal(f.st(), TcpState.FinWait);
    // Acking beyond what was sent after the wrap is still caught.
    assert.equal(f.send('s', 'A', S + 1, 0x5000), CtState.Invalid);
  });

  it('window scaling: a scaled window admits data beyond the raw 16-bit value', () => {
    const f = flow();
    f.handshake({ wscale: 7, window: 1000 }, { wscale: 7, window: 1000 });
    f.send('s', 'A', S + 1, C + 1, { window: 1000 }); // 1000 << 7 = 128000
    assert.equal(f.send('c', 'PA', C + 1 + 100_000, S + 1, { payload: 100 }), CtState.Established);
  });

  it('window scaling is off unless both sides offer it', () => {
    const f = flow();
    f.handshake({ wscale: 7, window: 1000 }, { window: 1000 });
    f.send('s', 'A', S + 1, C + 1, { window: 1000 });
    assert.equal(f.send('c', 'PA', C + 1 + 100_000, S + 1, { payload: 100 }), CtState.Invalid);
  });

  it('be-liberal accepts out-of-window data but still tracks state', () => {
    const f = flow(V4, { tcpBeLiberal: true });
    f.handshake({ window: 1000 }, { window: 1000 });
    assert.equal(f.send('c', 'PA', 2001 + 5000, S + 1, { payload: 1 }), CtState.Established);
    assert.equal(f.send('c', 'FA', 2001 + 5001, S + 1), CtState.Established);
    assert.equal(f.st(), TcpState.FinWait);
  });

  it('SACK blocks may acknowledge up to what was sent, not beyond', () => {
    const f = flow();
    f.handshake({ sackPerm: true }, { sackPerm: true });
    f.send('c', 'PA', C + 1, S + 1, { payload: 100 });
    const sack = (l: number, r: number) => {
      const b = new Uint8Array(10);
      b[0] = 5;
      b[1] = 10;
      new DataView(b.buffer).setUint32(2, l);
      new DataView(b.buffer).setUint32(6, r);
      return b;
    };
    assert.equal(f.send('s', 'A', S + 1, C + 1, { options: sack(C + 51, C + 101) }), CtState.Established);
    assert.equal(f.send('s', 'A', S + 1, C + 1, { options: sack(C + 51, C + 5000) }), CtState.Invalid);
  });
});

describe('TCP tracking over IPv6 with extension headers', () => {
  it('tracks a handshake behind hop-by-hop and destination options headers', () => {
    const ends: TcpEnds = { ...V6, ext: [{ type: 'hop' }, { type: 'dst' }] };
    const f = flow(ends);
    f.handshake();
    assert.equal(f.st(), TcpState.Established);
    assert.ok(f.h.ct.getStatus(f.entry()) & CtStatus.Assured);
    // Same flow without the extension headers is the same connection.
    assert.equal(f.h.send(seg(V6, 'c', 'PA', C + 1, S + 1, { payload: 5 })), CtState.Established);
    assert.equal(f.h.ct.count(), 1);
  });

  it('keeps IPv4 and IPv6 flows with the same ports apart', () => {
    const h = new Harness();
    h.send(seg(V4, 'c', 'S', C, 0));
    h.send(seg(V6, 'c', 'S', C, 0));
    assert.equal(h.ct.count(), 2);
  });
});
