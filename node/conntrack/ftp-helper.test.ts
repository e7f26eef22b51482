import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../packet/build.js';
import { CtHelperId } from '../ct-state/index.js';
import { CtState, CtStats, CtStatus } from './ct-types.js';
import { EXPECT_TIMEOUT_MS, Expectations } from './expectations.js';
import { Harness } from './testing.js';

const C = '192.0.2.100';
const S = '198.51.100.100';

/** A tracker with an FTP control connection C:40000 -> S:21 (handshake done, helper given). */
function control(opts = {}): { h: Harness; entry: number; send: (from: 'c' | 's', seq: number, text: string) => void } {
  const h = new Harness(opts);
  h.send(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'S', seq: 1000 }));
  const entry = h.ct.result.entry;
  h.ct.setHelper(entry, CtHelperId.Ftp);
  h.send(buildTcp({ src: S, dst: C, sport: 21, dport: 40000, flags: 'SA', seq: 5000, ack: 1001 }));
  h.send(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'A', seq: 1001, ack: 5001 }));
  const send = (from: 'c' | 's', seq: number, text: string): void => {
    const pkt = parseBuilt(from === 'c'
      ? buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'PA', seq, ack: 5001, payload: text })
      : buildTcp({ src: S, dst: C, sport: 21, dport: 40000, flags: 'PA', seq, ack: 1001, payload: text }));
    h.ct.track(pkt, h.now);
    h.ct.commit(true);
    h.ct.helperPacket(pkt, h.now);
  };
  return { h, entry, send };
}

/** The state of a new connection S:20 -> C:port. */
function dataSyn(h: Harness, port: number, sport = 20): CtState {
  return h.send(buildTcp({ src: S, dst: C, sport, dport: port, flags: 'S', seq: 9000 }));
}

describe('FTP helper on the tracker (expectations)', () => {
  it('reads only segments that start a line: data after a segment cut mid-line is skipped until a line ends', () => {
    const { h, send } = control();
    send('c', 1001, 'NOOP'); // first data, no line end: where the next line starts is unknown
    send('c', 1005, '\r\nPORT 192,0,2,100,195,80\r\n'); // not read (it might start mid-line)
    assert.equal(dataSyn(h, 50000), CtState.New);
    send('c', 1005 + 27, 'PORT 192,0,2,100,195,81\r\n'); // starts right after a newline: read
    assert.equal(dataSyn(h, 50001), CtState.Related);
  });

  it('skips out-of-order and retransmitted segments', () => {
    const { h, send } = control();
    send('c', 1001, 'USER a\r\n');
    send('c', 1001 + 8 + 100, 'PORT 192,0,2,100,195,80\r\n'); // a gap before it: not read
    assert.equal(dataSyn(h, 50000), CtState.New);
    send('c', 1001, 'PORT 192,0,2,100,195,82\r\n'); // a retransmission of old data: not read
    assert.equal(dataSyn(h, 50002), CtState.New);
  });

  it('one expectation per control connection: a newer announcement replaces the older', () => {
    const { h, entry, send } = control();
    const a = 'PORT 192,0,2,100,195,80\r\n';
    send('c', 1001, a);
    send('c', 1001 + a.length, 'PORT 192,0,2,100,195,81\r\n');
    assert.equal(h.ct.expectations.count(), 1);
    assert.equal(h.ct.expectations.portOf(entry), 50001);
    assert.equal(dataSyn(h, 50000), CtState.New);
    assert.equal(dataSyn(h, 50001), CtState.Related);
    assert.ok(h.ct.getStatus(h.ct.result.entry) & CtStatus.Expected);
  });

  it('an expectation lasts 5 minutes and goes with its control connection', () => {
    const { h, send } = control();
    send('c', 1001, 'PORT 192,0,2,100,195,80\r\n');
    h.advance(EXPECT_TIMEOUT_MS);
    assert.equal(dataSyn(h, 50000), CtState.New);
    const b = control();
    b.send('c', 1001, 'PORT 192,0,2,100,195,80\r\n');
    b.h.ct.delete(b.entry);
    assert.equal(b.h.ct.expectations.count(), 0);
  });

  it('a 227 naming another host than the server makes no expectation', () => {
    const { h, send } = control();
    send('s', 5001, '227 Entering Passive Mode (203,0,113,7,195,80)\r\n');
    assert.equal(h.ct.expectations.count(), 0);
    assert.equal(h.ct.stats.ftpForeign, 1);
  });

  it('the table holds at most its capacity; a full table refuses and counts', () => {
    const stats = new CtStats();
    const x = new Expectations(2, stats);
    const a = Uint8Array.from([192, 0, 2, 1]);
    assert.ok(x.add(1, 4, a, 0, a, 0, 4, 1000, 0));
    assert.ok(x.add(2, 4, a, 0, a, 0, 4, 1001, 0));
    assert.equal(x.add(3, 4, a, 0, a, 0, 4, 1002, 0), false);
    assert.equal(stats.expectFull, 1);
    // Expired ones make room.
    assert.ok(x.add(3, 4, a, 0, a, 0, 4, 1002, EXPECT_TIMEOUT_MS));
    assert.equal(x.count(), 1);
  });
});
