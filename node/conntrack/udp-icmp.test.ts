import assert from 'node:assert/strict';
import { buildIcmpEcho, buildIcmpError, buildIp, buildTcp, buildUdp } from '../packet/build.js';
import { CtState, CtStatus, TcpState } from './ct-types.js';
import { Harness, seg, V4, V6 } from './testing.js';

const CL = '192.0.2.100';
const SV = '198.51.100.100';
const RT = '203.0.113.9';
const CL6 = '2001:db8:1::100';
const SV6 = '2001:db8:2::100';
const RT6 = '2001:db8:ff::1';

const udp = (src: string, dst: string, sport: number, dport: number) =>
  buildUdp({ src, dst, sport, dport, payload: 20 });

describe('UDP tracking', () => {
  it('is new until a reply, then established with seen-reply', () => {
    const h = new Harness();
    assert.equal(h.send(udp(CL, SV, 5353, 53)), CtState.New);
    assert.equal(h.send(udp(CL, SV, 5353, 53)), CtState.New);
    assert.equal(h.send(udp(SV, CL, 53, 5353)), CtState.Established);
    assert.equal(h.send(udp(CL, SV, 5353, 53)), CtState.Established);
    const e = h.ct.result.entry;
    assert.ok(h.ct.getStatus(e) & CtStatus.SeenReply);
    assert.equal(h.ct.getStatus(e) & CtStatus.Assured, 0, 'a quick request/answer is not a stream yet');
    assert.equal(h.ct.remainingMs(e), 30_000);
  });

  it('becomes assured with the stream timeout when it still talks after 2 s (Linux stream_ts)', () => {
    const h = new Harness();
    h.send(udp(CL, SV, 4000, 4001));
    h.send(udp(SV, CL, 4001, 4000));
    h.advance(2500);
    assert.equal(h.send(udp(CL, SV, 4000, 4001)), CtState.Established);
    const e = h.ct.result.entry;
    assert.ok(h.ct.getStatus(e) & CtStatus.Assured);
    assert.equal(h.ct.remainingMs(e), 120_000);
  });

  it('a packet from an unrelated port pair is a different connection', () => {
    const h = new Harness();
    h.send(udp(CL, SV, 4000, 4001));
    assert.equal(h.send(udp(SV, CL, 4001, 4002)), CtState.New);
    assert.equal(h.ct.count(), 2);
  });

  it('zones separate otherwise equal tuples', () => {
    const h = new Harness();
    h.send(udp(CL, SV, 4000, 4001), 1);
    assert.equal(h.send(udp(SV, CL, 4001, 4000), 2), CtState.New);
    assert.equal(h.send(udp(SV, CL, 4001, 4000), 1), CtState.Established);
  });
});

describe('ICMP and ICMPv6 echo', () => {
  for (const [name, src, dst] of [['ICMP', CL, SV], ['ICMPv6', CL6, SV6]]) {
    it(`${name}: request new, reply established, next request established`, () => {
      const h = new Harness();
      assert.equal(h.send(buildIcmpEcho({ src, dst, id: 77, seq: 1 })), CtState.New);
      assert.equal(h.send(buildIcmpEcho({ src: dst, dst: src, id: 77, seq: 1, reply: true })), CtState.Established);
      assert.equal(h.send(buildIcmpEcho({ src, dst, id: 77, seq: 2 })), CtState.Established);
      assert.equal(h.ct.remainingMs(h.ct.result.entry), 30_000);
      assert.equal(h.ct.count(), 1);
    });

    it(`${name}: an echo reply nobody asked for is invalid`, () => {
      const h = new Harness();
      assert.equal(h.send(buildIcmpEcho({ src: dst, dst: src, id: 5, reply: true })), CtState.Invalid);
      assert.equal(h.ct.count(), 0);
    });

    it(`${name}: a different identifier is a different connection`, () => {
      const h = new Harness();
      h.send(buildIcmpEcho({ src, dst, id: 1 }));
      assert.equal(h.send(buildIcmpEcho({ src: dst, dst: src, id: 2, reply: true })), CtState.Invalid);
    });
  }

  it('ICMP timestamp request/reply pair is tracked like echo', () => {
    const h = new Harness();
    const ts = (src: string, dst: string, type: number) => {
      const p = new Uint8Array(20);
      p[0] = type;
      p[5] = 9; // id 9
      return buildIp({ src, dst, proto: 1, payload: p });
    };
    assert.equal(h.send(ts(CL, SV, 13)), CtState.New);
    assert.equal(h.send(ts(SV, CL, 14)), CtState.Established);
  });

  it('ICMP types above 18 are invalid', () => {
    const h = new Harness();
    const p = new Uint8Array(8);
    p[0] = 42;
    assert.equal(h.send(buildIp({ src: CL, dst: SV, proto: 1, payload: p })), CtState.Invalid);
  });

  it('ICMP carried in IPv6 and ICMPv6 carried in IPv4 are invalid', () => {
    const h = new Harness();
    const p = new Uint8Array(8);
    p[0] = 8;
    assert.equal(h.send(buildIp({ src: CL6, dst: SV6, proto: 1, payload: p })), CtState.Invalid);
    p[0] = 128;
    assert.equal(h.send(buildIp({ src: CL, dst: SV, proto: 58, payload: p })), CtState.Invalid);
  });

  it('ICMPv6 neighbour discovery and MLD are untracked', () => {
    const h = new Harness();
    for (const type of [130, 131, 132, 133, 134, 135, 136, 143]) {
      const p = new Uint8Array(24);
      p[0] = type;
      assert.equal(h.send(buildIp({ src: CL6, dst: SV6, proto: 58, payload: p })), CtState.Untracked, `type ${type}`);
    }
    assert.equal(h.ct.count(), 0);
  });
});

describe('ICMP errors', () => {
  it('port unreachable quoting a tracked UDP flow is related', () => {
    const h = new Harness();
    const out = udp(CL, SV, 4000, 53);
    h.send(out);
    const entry = h.ct.result.entry;
    const err = buildIcmpError({ src: SV, dst: CL, type: 3, code: 3, quote: out });
    assert.equal(h.send(err), CtState.Related);
    assert.equal(h.ct.result.entry, entry);
    assert.equal(h.ct.result.dir, 1);
  });

  it('time exceeded from a router on the path is related, and does not refresh the entry', () => {
    const h = new Harness();
    const out = udp(CL, SV, 33434, 33435);
    h.send(out);
    const e = h.ct.result.entry;
    h.advance(10_000);
    assert.equal(h.send(buildIcmpError({ src: RT, dst: CL, type: 11, quote: out })), CtState.Related);
    assert.equal(h.ct.remainingMs(e), 20_000);
  });

  it('an error quoting the reply direction is related too', () => {
    const h = new Harness();
    h.send(udp(CL, SV, 4000, 53));
    const back = udp(SV, CL, 53, 4000);
    h.send(back);
    assert.equal(h.send(buildIcmpError({ src: RT, dst: SV, type: 3, code: 1, quote: back })), CtState.Related);
    assert.equal(h.ct.result.dir, 0);
  });

  it('an error quoting an unknown flow is invalid', () => {
    const h = new Harness();
    h.send(udp(CL, SV, 4000, 53));
    const other = udp(CL, SV, 4001, 53);
    assert.equal(h.send(buildIcmpError({ src: SV, dst: CL, type: 3, code: 3, quote: other })), CtState.Invalid);
  });

  it('an error not addressed to the quoted packet\'s sender is invalid', () => {
    const h = new Harness();
    const out = udp(CL, SV, 4000, 53);
    h.send(out);
    assert.equal(h.send(buildIcmpError({ src: SV, dst: '192.0.2.77', type: 3, code: 3, quote: out })), CtState.Invalid);
  });

  it('an error quoting a TCP segment is related and leaves the TCP state alone', () => {
    const h = new Harness();
    const syn = seg(V4, 'c', 'S', 1000, 0);
    h.send(syn);
    const e = h.ct.result.entry;
    assert.equal(h.send(buildIcmpError({ src: RT, dst: CL, type: 3, code: 4, rest: 1400, quote: syn })), CtState.Related);
    assert.equal(h.ct.getTcpState(e), TcpState.SynSent);
  });

  it('an error quoting an echo request is related', () => {
    const h = new Harness();
    const ping = buildIcmpEcho({ src: CL, dst: SV, id: 9 });
    h.send(ping);
    assert.equal(h.send(buildIcmpError({ src: RT, dst: CL, type: 11, quote: ping })), CtState.Related);
  });

  it('an error quoting an ICMP error is invalid', () => {
    const h = new Harness();
    const out = udp(CL, SV, 4000, 53);
    h.send(out);
    const err1 = buildIcmpError({ src: SV, dst: CL, type: 3, code: 3, quote: out });
    assert.equal(h.send(buildIcmpError({ src: RT, dst: SV, type: 11, quote: err1 })), CtState.Invalid);
  });

  it('an error with a quote too short for the ports is invalid', () => {
    const h = new Harness();
    const out = udp(CL, SV, 4000, 53);
    h.send(out);
    assert.equal(h.send(buildIcmpError({ src: SV, dst: CL, type: 3, code: 3, quote: out, quoteLen: 22 })), CtState.Invalid);
  });

  it('ICMPv6 packet too big quoting TCP over IPv6 with extension headers is related', () => {
    const h = new Harness();
    const ends = { ...V6, ext: [{ type: 'hop' as const }, { type: 'routing' as const, body: new Uint8Array(6) }, { type: 'dst' as const }] };
    const data = buildTcp({ src: CL6, dst: SV6, sport: ends.cport, dport: ends.sport, flags: 'S', seq: 1, ext: ends.ext });
    assert.equal(h.send(data), CtState.New);
    const err = buildIcmpError({ src: RT6, dst: CL6, type: 2, rest: 1280, quote: data });
    assert.equal(h.send(err), CtState.Related);
    const unknown = buildTcp({ src: CL6, dst: SV6, sport: 1, dport: 2, flags: 'S', ext: ends.ext });
    assert.equal(h.send(buildIcmpError({ src: RT6, dst: CL6, type: 1, quote: unknown })), CtState.Invalid);
  });
});

describe('packets conntrack does not follow', () => {
  it('fragments carry no ct (Linux tracks only reassembled packets)', async () => {
    const { fragmentPacket } = await import('../packet/build.js');
    const h = new Harness();
    const big = buildUdp({ src: CL, dst: SV, sport: 1, dport: 2, payload: 3000 });
    const frags = fragmentPacket(big, 1000);
    assert.ok(frags.length > 1);
    for (const f of frags) assert.equal(h.send(f), CtState.Invalid);
    assert.equal(h.ct.stats.fragments, frags.length);
    assert.equal(h.ct.count(), 0);
  });

  it('other protocols are tracked by addresses (generic, 600 s)', () => {
    const h = new Harness();
    assert.equal(h.send(buildIp({ src: CL, dst: SV, proto: 47, payload: new Uint8Array(8) })), CtState.New);
    assert.equal(h.send(buildIp({ src: SV, dst: CL, proto: 47, payload: new Uint8Array(8) })), CtState.Established);
    assert.equal(h.ct.remainingMs(h.ct.result.entry), 600_000);
  });

  it('notrack: untracked() marks the packet without touching the table', () => {
    const h = new Harness();
    assert.equal(h.ct.untracked(), CtState.Untracked);
    assert.equal(h.ct.result.entry, -1);
    assert.equal(h.ct.count(), 0);
  });
});
