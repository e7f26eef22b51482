/**
 * The FTP helper's NAT part on the tracker, without the datapath: a control connection with
 * a masquerade binding made by hand, the helper's rewrite decisions (what is rewritten,
 * what is dropped and counted) and the port reserved for the data connection.
 */
import assert from 'node:assert/strict';
import { CtHelperId } from '../ct-state/index.js';
import { CtState, CtStatus } from '../conntrack/ct-types.js';
import { EXPECT_TIMEOUT_MS } from '../conntrack/expectations.js';
import { Harness } from '../conntrack/testing.js';
import { buildTcp } from '../packet/build.js';
import { parseAddress } from '../packet/address.js';
import { verifyL4Checksum } from '../packet/checksum.js';
import { PacketInfo } from '../packet/packet-info.js';
import { parsePacket } from '../packet/parse.js';
import { NatBinding, NatKind, initBindingFromPacket, setSourceNat } from './binding.js';
import { ExpectedBindResult, FtpNat, bindExpected } from './ftp-nat.js';
import { PortAllocator } from './port-allocator.js';
import { Rng } from '../../inet/index.js';

const C = '10.0.0.5';
const S = '203.0.113.9';
const W = '198.51.100.2';

/** Parses bytes copied into a buffer with room to grow (as a datapath slot). */
function roomy(bytes: Uint8Array, room = 64): PacketInfo {
  const buf = new Uint8Array(bytes.length + room);
  buf.set(bytes);
  const p = new PacketInfo();
  parsePacket(p, buf, 0, bytes.length, 0);
  p.maxEnd = room > 0 ? bytes.length + room : 0;
  return p;
}

const text = (p: PacketInfo): string => Buffer.from(p.buf.subarray(p.l4Off + p.tcpHdrLen, p.end)).toString('latin1');

/** A masqueraded FTP control connection C:40000 -> S:21 (as W:40000) with the helper and NAT's hook. */
function setup() {
  const h = new Harness();
  const alloc = new PortAllocator({ key: [1, 2] });
  const first = roomy(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'S', seq: 1000 }));
  h.ct.track(first, h.now);
  const entry = h.ct.result.entry;
  const b = new NatBinding();
  initBindingFromPacket(b, first);
  setSourceNat(b, NatKind.Masquerade, parseAddress(W).bytes, 0, 40000);
  h.ct.commit(true);
  h.ct.setStatusBits(entry, CtStatus.SrcNat);
  h.ct.setHelper(entry, CtHelperId.Ftp);
  h.ct.setFtpNat(new FtpNat((e) => (e === entry ? b : null), alloc));
  h.send(buildTcp({ src: S, dst: C, sport: 21, dport: 40000, flags: 'SA', seq: 5000, ack: 1001 }));
  h.send(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'A', seq: 1001, ack: 5001 }));
  /** The client sends `payload` at seq; the packet as it leaves, or null when the helper drops it. */
  const client = (seq: number, payload: string, room = 64): PacketInfo | null => {
    const p = roomy(buildTcp({ src: C, dst: S, sport: 40000, dport: 21, flags: 'PA', seq, ack: 5001, payload }), room);
    h.ct.track(p, h.now);
    h.ct.commit(true);
    return h.ct.helperPacket(p, h.now) ? p : null;
  };
  const pool = alloc.pool(4, parseAddress(W).bytes, 0, 6);
  return { h, entry, alloc, pool, client };
}

describe('FTP NAT (nat/ftp-nat.ts) on the tracker', () => {
  it('rewrites PORT to the masquerade address and reserves the port there until the expectation goes', () => {
    const { h, entry, pool, client } = setup();
    const out = client(1001, 'PORT 10,0,0,5,195,80\r\n');
    assert.ok(out);
    assert.equal(text(out), 'PORT 198,51,100,2,195,80\r\n');
    assert.ok(verifyL4Checksum(out));
    assert.ok(pool.isTaken(50000), 'the announced port is held on the public address');
    assert.equal(h.ct.expectations.portOf(entry), 50000);
    assert.equal(h.ct.seqAdjOf(entry)?.after[0], 4, 'the offset lives on the entry');
    // Expired unused: the port goes back.
    h.advance(EXPECT_TIMEOUT_MS);
    h.ct.expectations.expire(h.now);
    assert.equal(pool.isTaken(50000), false);
  });

  it('the announced port taken on the public address: the next free one after it is reserved and announced instead', () => {
    const { h, entry, alloc, pool, client } = setup();
    assert.ok(pool.take(50000));
    assert.ok(pool.take(50001));
    const out = client(1001, 'PORT 10,0,0,5,195,80\r\n');
    assert.ok(out);
    assert.equal(text(out), 'PORT 198,51,100,2,195,82\r\n', '50002: 195 * 256 + 82');
    assert.ok(pool.isTaken(50002));
    assert.equal(h.ct.expectations.portOf(entry), 50002);
    assert.equal(alloc.stats.allocated, 1, 'reserved through the allocator, counted with its other ports');
  });

  it('a newer PORT replaces the expectation and gives the older port back; the entry\'s end gives the newer back', () => {
    const { h, entry, pool, client } = setup();
    const a = 'PORT 10,0,0,5,195,80\r\n';
    assert.ok(client(1001, a));
    assert.ok(client(1001 + a.length, 'PORT 10,0,0,5,195,81\r\n'));
    assert.deepEqual([pool.isTaken(50000), pool.isTaken(50001)], [false, true]);
    assert.equal(h.ct.seqAdjOf(entry)?.after[0], 8);
    h.ct.delete(entry);
    assert.equal(pool.isTaken(50001), false);
    assert.equal(h.ct.seqAdjOf(entry), undefined, 'the adjustment goes with the entry');
  });

  it('the data connection takes the expectation: its binding holds the port and translates to the client', () => {
    const { h, alloc, pool, client } = setup();
    assert.ok(client(1001, 'PORT 10,0,0,5,195,80\r\n'));
    const syn = roomy(buildTcp({ src: S, dst: W, sport: 20, dport: 50000, flags: 'S', seq: 9000 }));
    assert.equal(h.ct.track(syn, h.now), CtState.Related);
    const x = h.ct.expectedNat(h.ct.result.entry);
    assert.ok(x !== null);
    const b = new NatBinding();
    assert.equal(bindExpected(b, syn, x, alloc), ExpectedBindResult.Ok);
    x.clear();
    assert.equal(b.dstPool, pool);
    assert.equal(b.natDport, 50000);
    assert.deepEqual(Array.from(b.addrs.subarray(48, 52)), [10, 0, 0, 5]);
    alloc.releaseBinding(b);
    assert.equal(pool.isTaken(50000), false, 'released with the data connection\'s binding');
  });

  it('a taken expectation nobody binds gives its port back at the next packet', () => {
    const { h, pool, client } = setup();
    assert.ok(client(1001, 'PORT 10,0,0,5,195,80\r\n'));
    h.send(buildTcp({ src: S, dst: W, sport: 20, dport: 50000, flags: 'S', seq: 9000 }));
    assert.ok(pool.isTaken(50000));
    h.send(buildTcp({ src: S, dst: W, sport: 21, dport: 40001, flags: 'S', seq: 1 }));
    assert.equal(pool.isTaken(50000), false);
  });

  it('a retransmission of the rewritten segment is rewritten alike; one that no longer holds it there is dropped', () => {
    const { h, client } = setup();
    const a = 'PORT 10,0,0,5,195,80\r\n';
    const first = client(1001, a)!;
    const again = client(1001, a)!;
    assert.deepEqual(again.buf.subarray(0, again.end), first.buf.subarray(0, first.end));
    assert.equal(h.ct.stats.ftpNatRetransmitted, 1);
    assert.equal(client(1001, 'NOOP\r\nPORT 10,0,0,5,195,80\r\n'), null, 'something else where the rewritten text was');
    assert.equal(client(1001 + 8, '0,5,195,80\r\n'), null, 'starts inside the rewritten text');
    assert.equal(h.ct.stats.ftpNatFailed, 2);
    assert.ok(client(1001 + a.length, 'LIST\r\n'), 'after the rewritten text: fine');
  });

  it('one rewrite per segment: a second announcement passes as it is, counted; a foreign address is not rewritten', () => {
    const { h, entry, client } = setup();
    const two = client(1001, 'PORT 10,0,0,5,195,80\r\nPORT 10,0,0,5,195,81\r\n')!;
    assert.equal(text(two), 'PORT 198,51,100,2,195,80\r\nPORT 10,0,0,5,195,81\r\n');
    assert.equal(h.ct.stats.ftpNatSecond, 1);
    assert.equal(h.ct.expectations.portOf(entry), 50000);
    const foreign = client(1001 + 44, 'PORT 10,0,0,99,195,82\r\n')!;
    assert.equal(text(foreign), 'PORT 10,0,0,99,195,82\r\n');
    assert.equal(h.ct.stats.ftpForeign, 1);
  });

  it('no room to grow, or no port free on the public address: dropped and counted, no port kept', () => {
    const { h, pool, client } = setup();
    assert.equal(client(1001, 'PORT 10,0,0,5,195,80\r\n', 0), null, 'no room');
    assert.equal(h.ct.stats.ftpNatFailed, 1);
    assert.equal(pool.isTaken(50000), false);
    for (let p = 1024; p <= 65535; p++) pool.take(p);
    assert.equal(client(1001, 'PORT 10,0,0,5,195,80\r\n'), null, 'no port');
    assert.equal(h.ct.stats.ftpNatFailed, 2);
  });

  it('a PORT cut by the segment end is dropped; an unrelated unfinished line is not', () => {
    const { h, client } = setup();
    assert.equal(client(1001, 'PO'), null);
    assert.equal(client(1001, 'PORT 10,0,0'), null);
    assert.equal(h.ct.stats.ftpNatSplit, 2);
    assert.ok(client(1001, 'NOOP'));
    const t = setup();
    assert.equal(t.client(1001, 'NOOP\r\nPORT 10'), null, 'a whole keyword after a complete line is cut');
    assert.ok(t.client(1001, 'NOOP\r\nP'), 'a first letter after a complete line is no announcement yet');
    assert.equal(t.h.ct.stats.ftpNatSplit, 1);
  });

  it('hostile segments (random announcements, bytes, lengths; seeded) never throw; what passes is well formed', () => {
    const rng = new Rng(0x5eed);
    const pick = <T>(a: readonly T[]): T => a[rng.u32() % a.length]!;
    const pieces = ['PORT 10,0,0,5,195,80', 'PORT 10,0,0,5,0,1', 'port 10,0,0,5,255,255', 'EPRT |1|10.0.0.5|50000|', 'EPRT !1!10.0.0.5!7!',
      'PORT 10,0,0,5,195', 'PORT 999,0,0,5,1,1', 'NOOP', 'PORT 10,0,0,99,1,1', '\r\n', '\n', 'PO', 'EPRT |2|::1|1|'];
    let passed = 0;
    let dropped = 0;
    for (let i = 0; i < 120; i++) {
      const { h, client } = setup();
      let seq = 1001;
      for (let k = 0; k < 6; k++) {
        let t = '';
        const n = 1 + (rng.u32() % 4);
        for (let j = 0; j < n; j++) t += rng.u32() % 5 === 0 ? String.fromCharCode(...Array.from({ length: rng.u32() % 12 }, () => rng.u32() % 256)) : pick(pieces) + (rng.u32() % 3 === 0 ? '' : '\r\n');
        const start = rng.u32() % 4 === 0 ? seq - (rng.u32() % 30) : seq; // sometimes an overlap or a retransmission
        const out = client(start >>> 0, t, rng.u32() % 8 === 0 ? 0 : 64);
        if (out === null) {
          dropped++;
          continue;
        }
        passed++;
        const q = new PacketInfo();
        parsePacket(q, out.buf.slice(0, out.end), 0, out.end, 0);
        assert.ok(verifyL4Checksum(q), `checksum after ${JSON.stringify(t)}`);
        assert.equal(q.payloadLen, out.payloadLen);
        if (start === seq) seq = (seq + t.length) >>> 0;
      }
      h.ct.delete(h.ct.result.entry);
    }
    assert.ok(passed > 0 && dropped > 0, `passed ${passed}, dropped ${dropped}`);
  });
});
