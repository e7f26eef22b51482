/**
 * Crafted packet sequences for the conntrack differential test (ct-differential.lab.test.ts):
 * each scenario is one conversation between a client (192.0.2.0/24, 2001:db8:1::/64) and a
 * server (198.51.100.0/24, 2001:db8:2::/64) on ports of its own, so all scenarios can share
 * one capture and one fresh table without touching each other. Every packet has correct
 * checksums (the kernel validates them).
 */
import { buildIcmpEcho, buildIcmpError, buildTcp, buildUdp, fragmentPacket, type Ipv6ExtHeader, type TcpOptions } from '../node/packet/build.js';
import { rng } from '../inet/index.js';

export interface Scenario {
  name: string;
  packets: Uint8Array[];
  /** Which table setting the scenario is for; default both. */
  only?: 'strict' | 'loose';
}

interface Side {
  addr: string;
  port: number;
  /** Next sequence number this side sends. */
  seq: number;
  win: number;
}

type SegOpts = Partial<Pick<TcpOptions, 'seq' | 'ack' | 'window' | 'mss' | 'wscale' | 'sackPerm' | 'timestamp' | 'ext'>> & { len?: number };

/** A TCP conversation that keeps each side's sequence numbers, like the two stacks would. */
class TcpFlow {
  readonly c: Side;
  readonly s: Side;
  ext?: Ipv6ExtHeader[];

  constructor(client: string, server: string, cport: number, sport: number, cisn = 1_000_000, sisn = 5_000_000) {
    this.c = { addr: client, port: cport, seq: cisn, win: 64240 };
    this.s = { addr: server, port: sport, seq: sisn, win: 65160 };
  }

  private seg(from: Side, to: Side, flags: string, o: SegOpts): Uint8Array {
    const len = o.len ?? 0;
    const seq = o.seq ?? from.seq;
    const pkt = buildTcp({
      src: from.addr,
      dst: to.addr,
      sport: from.port,
      dport: to.port,
      flags,
      seq: seq >>> 0,
      ack: flags.includes('A') ? (o.ack ?? to.seq) >>> 0 : 0,
      window: o.window ?? from.win,
      payload: len,
      ...(o.mss !== undefined ? { mss: o.mss } : {}),
      ...(o.wscale !== undefined ? { wscale: o.wscale } : {}),
      ...(o.sackPerm ? { sackPerm: true } : {}),
      ...(o.timestamp ? { timestamp: o.timestamp } : {}),
      ...(o.ext ?? this.ext ? { ext: o.ext ?? this.ext } : {}),
    });
    if (o.seq === undefined) from.seq = (from.seq + len + (flags.includes('S') ? 1 : 0) + (flags.includes('F') ? 1 : 0)) >>> 0;
    return pkt;
  }

  c2s(flags: string, o: SegOpts = {}): Uint8Array {
    return this.seg(this.c, this.s, flags, o);
  }

  s2c(flags: string, o: SegOpts = {}): Uint8Array {
    return this.seg(this.s, this.c, flags, o);
  }

  /** SYN, SYN/ACK, ACK as Linux sends them (MSS, SACK permitted, window scale 7). */
  handshake(wscale = 7): Uint8Array[] {
    return [
      this.c2s('S', { mss: 1460, sackPerm: true, wscale }),
      this.s2c('SA', { mss: 1460, sackPerm: true, wscale }),
      this.c2s('A', { window: 502 }),
    ];
  }
}

/** `router`: a hop on the server's side; `lanRouter`: one on the client's side. */
const V4 = { c: '192.0.2.100', s: '198.51.100.100', router: '198.51.100.254', lanRouter: '192.0.2.254' };
const V6 = { c: '2001:db8:1::100', s: '2001:db8:2::100', router: '2001:db8:2::fe', lanRouter: '2001:db8:1::fe' };

let nextPort = 20000;
const port = (): number => nextPort++;

function tcpScenarios(fam: typeof V4): Scenario[] {
  const v = fam === V4 ? 'v4' : 'v6';
  const flow = (cisn?: number, sisn?: number) => new TcpFlow(fam.c, fam.s, port(), 80, cisn, sisn);
  const out: Scenario[] = [];

  {
    const f = flow();
    out.push({
      name: `${v} tcp: handshake, data both ways, client closes first`,
      packets: [
        ...f.handshake(),
        f.c2s('PA', { len: 100, window: 502 }),
        f.s2c('A', { window: 509 }),
        f.s2c('PA', { len: 1000, window: 509 }),
        f.c2s('A', { window: 502 }),
        f.c2s('FA', { window: 502 }),
        f.s2c('A', { window: 509 }),
        f.s2c('FA', { window: 509 }),
        f.c2s('A', { window: 502 }),
        // TIME_WAIT: a SYN with a higher sequence number reopens (RFC 1122 4.2.2.13).
        f.c2s('S', { seq: f.c.seq + 1_000_000, mss: 1460 }),
      ],
    });
  }
  {
    const f = flow();
    out.push({
      name: `${v} tcp: server closes first`,
      packets: [...f.handshake(), f.s2c('PA', { len: 50, window: 509 }), f.s2c('FA', { window: 509 }), f.c2s('A', { window: 502 }), f.c2s('FA', { window: 502 }), f.s2c('A', { window: 509 })],
    });
  }
  {
    const f = flow();
    const h = f.handshake();
    const cf = f.c2s('FA', { window: 502 });
    const sf = f.s2c('FA', { window: 509, ack: f.c.seq - 1 });
    out.push({ name: `${v} tcp: simultaneous close`, packets: [...h, cf, sf, f.c2s('A', { window: 502 }), f.s2c('A', { window: 509 })] });
  }
  {
    const f = flow();
    out.push({
      name: `${v} tcp: RST from the server closes; the client's next SYN does not reopen (Linux reopens only after its own RST or a FIN)`,
      packets: [...f.handshake(), f.c2s('PA', { len: 10, window: 502 }), f.s2c('R', {}), f.c2s('A', { window: 502 }), f.c2s('S', { seq: f.c.seq + 1_000_000, mss: 1460 })],
    });
  }
  {
    const f = flow();
    out.push({
      name: `${v} tcp: the client's RST closes; its next SYN on the same ports is a new connection`,
      packets: [...f.handshake(), f.c2s('PA', { len: 10, window: 502 }), f.s2c('A', { window: 509 }), f.c2s('R', {}), f.c2s('S', { seq: f.c.seq + 1_000_000, mss: 1460 }), f.s2c('SA', { mss: 1460 })],
    });
  }
  {
    const f = flow();
    const synC = f.c2s('S', { mss: 1460 });
    const synS = f.s2c('S', { mss: 1460 });
    out.push({ name: `${v} tcp: simultaneous open, then a bare RST far off from the last SYN's sender is invalid`, packets: [synC, synS, f.s2c('R', { seq: f.s.seq + 999_999 }), f.s2c('R', {})] });
  }
  {
    const f = flow();
    const synC = f.c2s('S', { mss: 1460 });
    const synS = f.s2c('S', { mss: 1460 });
    out.push({ name: `${v} tcp: simultaneous open, then a bare RST from the other side answers that SYN`, packets: [synC, synS, f.c2s('R', { seq: f.c.seq + 999_999 })] });
  }
  {
    const f = flow();
    const h = f.handshake();
    out.push({
      name: `${v} tcp: RST far outside the window is invalid and the connection lives on`,
      packets: [...h, f.s2c('R', { seq: f.s.seq + 0x40000000 }), f.c2s('PA', { len: 10, window: 502 }), f.s2c('A', { window: 509 })],
    });
  }
  {
    const f = flow();
    const syn = f.c2s('S', { mss: 1460, sackPerm: true, wscale: 7 });
    out.push({
      name: `${v} tcp: SYN retransmitted before the answer`,
      packets: [syn, syn, f.s2c('SA', { mss: 1460, sackPerm: true, wscale: 7 }), f.c2s('A', { window: 502 })],
    });
  }
  {
    const f = flow();
    const synC = f.c2s('S', { mss: 1460, wscale: 7 });
    const synS = f.s2c('S', { mss: 1460, wscale: 7 });
    out.push({
      name: `${v} tcp: simultaneous open`,
      packets: [synC, synS, f.c2s('SA', { seq: f.c.seq - 1, mss: 1460, wscale: 7 }), f.s2c('SA', { seq: f.s.seq - 1, mss: 1460, wscale: 7 }), f.c2s('A', { window: 502 }), f.s2c('A', { window: 509 })],
    });
  }
  {
    const f = flow();
    const h = f.handshake();
    out.push({
      name: `${v} tcp: data far beyond the receiver's window is invalid`,
      packets: [...h, f.c2s('PA', { len: 100, seq: f.c.seq + 10_000_000, window: 502 }), f.c2s('PA', { len: 100, window: 502 }), f.s2c('A', { window: 509 })],
    });
  }
  {
    // Window scale 7 on both sides: a 4000-unit window means 512000 bytes, so data
    // 300000 bytes ahead of what was acknowledged is inside it (RFC 7323 §2.2).
    const f = flow();
    const h = f.handshake(7);
    const grow = f.s2c('A', { window: 4000 });
    const ahead = f.c2s('PA', { len: 1000, seq: f.c.seq + 300_000, window: 502 });
    out.push({ name: `${v} tcp: window scaling widens the window`, packets: [...h, grow, ahead, f.s2c('A', { window: 4000, ack: f.c.seq + 301_000 })] });
  }
  {
    // The same packets without the window scale option: 4000 bytes of window (65160 at
    // most, from the SYN/ACK), so the jump is far over the receiver's window.
    const f = flow();
    const h = [f.c2s('S', { mss: 1460, sackPerm: true }), f.s2c('SA', { mss: 1460, sackPerm: true }), f.c2s('A', { window: 502 })];
    const grow = f.s2c('A', { window: 4000 });
    out.push({ name: `${v} tcp: without window scaling the same jump is invalid`, packets: [...h, grow, f.c2s('PA', { len: 1000, seq: f.c.seq + 300_000, window: 502 }), f.c2s('PA', { len: 10, window: 502 })] });
  }
  {
    // Linux tolerates a sender overshooting the receive window by at most the largest
    // window seen (nf_conntrack_proto_tcp.c "exceeded receive window"): such a segment
    // is not invalid, but it does not move the window either.
    const f = flow();
    const h = [f.c2s('S', { mss: 1460 }), f.s2c('SA', { mss: 1460 }), f.c2s('A', {})];
    out.push({ name: `${v} tcp: a segment slightly over the window is tolerated`, packets: [...h, f.c2s('PA', { len: 1000, seq: f.c.seq + 70_000 }), f.c2s('PA', { len: 10 })] });
  }
  {
    const f = flow(0xffffff00, 0xfffffff0);
    out.push({
      name: `${v} tcp: sequence numbers wrap around 2^32`,
      packets: [...f.handshake(), f.c2s('PA', { len: 1000, window: 502 }), f.s2c('PA', { len: 1000, window: 509 }), f.c2s('PA', { len: 1000, window: 502 }), f.s2c('A', { window: 509 }), f.c2s('FA', { window: 502 }), f.s2c('FA', { window: 509 }), f.c2s('A', { window: 502 })],
    });
  }
  {
    const f = flow();
    f.handshake();
    out.push({
      name: `${v} tcp: mid-stream data of a connection never seen`,
      packets: [f.c2s('PA', { len: 100, window: 502 }), f.s2c('A', { window: 509 }), f.s2c('PA', { len: 200, window: 509 }), f.c2s('A', { window: 502 })],
    });
  }
  {
    const f = flow();
    f.handshake();
    out.push({ name: `${v} tcp: a FIN of a connection never seen`, packets: [f.c2s('FA', { window: 502 }), f.s2c('A', { window: 509 })] });
  }
  {
    const f = flow();
    out.push({ name: `${v} tcp: SYN/ACK without a SYN`, packets: [f.s2c('SA', { mss: 1460 }), f.c2s('A', {})] });
  }
  {
    const f = flow();
    out.push({ name: `${v} tcp: a lone RST`, packets: [f.c2s('R', {})] });
  }
  {
    const f = flow();
    const h = f.handshake();
    // The server's data acknowledged beyond what the client has sent: invalid ACK.
    out.push({ name: `${v} tcp: ACK of data never sent is invalid`, packets: [...h, f.s2c('PA', { len: 10, ack: f.c.seq + 500_000, window: 509 }), f.c2s('PA', { len: 10, window: 502 })] });
  }
  return out;
}

function udpIcmpScenarios(fam: typeof V4): Scenario[] {
  const v = fam === V4 ? 'v4' : 'v6';
  const out: Scenario[] = [];
  {
    const p = port();
    const q = buildUdp({ src: fam.c, dst: fam.s, sport: p, dport: 53, payload: 30 });
    const a = buildUdp({ src: fam.s, dst: fam.c, sport: 53, dport: p, payload: 60 });
    out.push({ name: `${v} udp: unreplied stays new, a reply makes it established`, packets: [q, q, q, a, q, a] });
  }
  {
    const p = port();
    out.push({ name: `${v} udp: a reply that comes from another port is a new flow`, packets: [buildUdp({ src: fam.c, dst: fam.s, sport: p, dport: 53, payload: 8 }), buildUdp({ src: fam.s, dst: fam.c, sport: 54, dport: p, payload: 8 })] });
  }
  {
    const id = port();
    const req = (seq: number) => buildIcmpEcho({ src: fam.c, dst: fam.s, id, seq, payload: 56 });
    const rep = (seq: number) => buildIcmpEcho({ src: fam.s, dst: fam.c, id, seq, reply: true, payload: 56 });
    out.push({ name: `${v} icmp: echo request, reply, next request`, packets: [req(1), rep(1), req(2), rep(2)] });
  }
  {
    const id = port();
    out.push({ name: `${v} icmp: an echo reply nobody asked for`, packets: [buildIcmpEcho({ src: fam.s, dst: fam.c, id, seq: 1, reply: true, payload: 8 })] });
  }
  {
    // A router on the server side answers the client's SYN with "unreachable": related.
    const f = new TcpFlow(fam.c, fam.s, port(), 81);
    const syn = f.c2s('S', { mss: 1460 });
    const unreach = buildIcmpError({ src: fam.router, dst: fam.c, type: fam === V4 ? 3 : 1, code: fam === V4 ? 1 : 3, quote: syn });
    out.push({ name: `${v} icmp error quoting a tracked TCP connection is related`, packets: [syn, unreach] });
  }
  {
    const p = port();
    const q = buildUdp({ src: fam.c, dst: fam.s, sport: p, dport: 5000, payload: 1400 });
    // Packet too big (v6) / fragmentation needed (v4) from a router, quoting the datagram.
    const ptb = fam === V4 ? buildIcmpError({ src: fam.router, dst: fam.c, type: 3, code: 4, rest: 1280, quote: q }) : buildIcmpError({ src: fam.router, dst: fam.c, type: 2, rest: 1280, quote: q });
    out.push({ name: `${v} icmp "too big" quoting a tracked UDP flow is related`, packets: [q, ptb] });
  }
  {
    // The quoted packet belongs to no connection.
    const ghost = buildUdp({ src: fam.c, dst: fam.s, sport: port(), dport: 5001, payload: 8 });
    out.push({ name: `${v} icmp error quoting an unknown flow`, packets: [buildIcmpError({ src: fam.router, dst: fam.c, type: fam === V4 ? 3 : 1, code: fam === V4 ? 3 : 4, quote: ghost })] });
  }
  {
    // Time exceeded quoting the server's reply direction, sent towards the server.
    const p = port();
    const q = buildUdp({ src: fam.c, dst: fam.s, sport: p, dport: 5002, payload: 8 });
    const a = buildUdp({ src: fam.s, dst: fam.c, sport: 5002, dport: p, payload: 8 });
    const te = buildIcmpError({ src: fam.lanRouter, dst: fam.s, type: fam === V4 ? 11 : 3, quote: a });
    out.push({ name: `${v} icmp time exceeded quoting the reply direction is related`, packets: [q, a, te] });
  }
  {
    const id = port();
    const req = buildIcmpEcho({ src: fam.c, dst: fam.s, id, seq: 1, payload: 8 });
    const err = buildIcmpError({ src: fam.router, dst: fam.c, type: fam === V4 ? 3 : 1, code: fam === V4 ? 1 : 3, quote: req });
    out.push({ name: `${v} icmp error quoting a tracked echo is related`, packets: [req, err] });
  }
  return out;
}

function ipv6ExtScenarios(): Scenario[] {
  const out: Scenario[] = [];
  {
    const f = new TcpFlow(V6.c, V6.s, port(), 443);
    f.ext = [{ type: 'dst' }];
    out.push({ name: 'v6 tcp behind a destination options header', packets: [...f.handshake(), f.c2s('PA', { len: 100, window: 502 }), f.s2c('A', { window: 509 })] });
  }
  {
    const f = new TcpFlow(V6.c, V6.s, port(), 443);
    f.ext = [{ type: 'hop' }, { type: 'dst' }];
    out.push({ name: 'v6 tcp behind hop-by-hop and destination options headers', packets: [...f.handshake(), f.s2c('PA', { len: 10, window: 509 })] });
  }
  {
    const p = port();
    out.push({
      name: 'v6 udp behind a hop-by-hop header',
      packets: [buildUdp({ src: V6.c, dst: V6.s, sport: p, dport: 53, payload: 20, ext: [{ type: 'hop' }] }), buildUdp({ src: V6.s, dst: V6.c, sport: 53, dport: p, payload: 20 })],
    });
  }
  return out;
}

/**
 * Fragments: Linux reassembles before conntrack (nf_defrag_ipv4/ipv6), and so does hafw:
 * the fragments before the last are seen by no rule, the datagram once whole.
 */
export function fragmentScenarios(): Scenario[] {
  const p4 = port();
  const big4 = buildUdp({ src: V4.c, dst: V4.s, sport: p4, dport: 9, payload: 600 });
  const p6 = port();
  const big6 = buildUdp({ src: V6.c, dst: V6.s, sport: p6, dport: 9, payload: 600 });
  const back6 = buildUdp({ src: V6.s, dst: V6.c, sport: 9, dport: p6, payload: 10 });
  const p4b = port();
  const three = fragmentPacket(buildUdp({ src: V4.c, dst: V4.s, sport: p4b, dport: 9, payload: 900 }), 320, 0x4242);
  const back4 = buildUdp({ src: V4.s, dst: V4.c, sport: 9, dport: p4b, payload: 10 });
  const p6b = port();
  const bigBack6 = fragmentPacket(buildUdp({ src: V6.s, dst: V6.c, sport: 9, dport: p6b, payload: 700 }), 320, 0x4243);
  return [
    { name: 'v4 udp datagram in two fragments', packets: fragmentPacket(big4, 320) },
    { name: 'v6 udp datagram in two fragments, then a reply', packets: [...fragmentPacket(big6, 320), back6] },
    { name: 'v4 udp datagram in three fragments, last first, then a reply', packets: [three[2]!, three[0]!, three[1]!, back4] },
    { name: 'v6 udp request, then a fragmented reply', packets: [buildUdp({ src: V6.c, dst: V6.s, sport: p6b, dport: 9, payload: 10 }), ...bigBack6] },
  ];
}

/** Every scenario, in a fixed order (ports are handed out once per process). */
export function allScenarios(): Scenario[] {
  return [...tcpScenarios(V4), ...tcpScenarios(V6), ...udpIcmpScenarios(V4), ...udpIcmpScenarios(V6), ...ipv6ExtScenarios()];
}

const RANDOM_FLAGS = ['A', 'A', 'PA', 'PA', 'PA', 'FA', 'R', 'RA', 'S', 'SA', 'F', 'P'];

/**
 * Randomised TCP conversations: a handshake (sometimes missing its last step), then
 * segments with random flags from either side whose sequence / ack numbers are right,
 * a little off, or far off. Same seed, same packets.
 */
export function randomTcpScenarios(seed: number, flows: number, segments: number): Scenario[] {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const out: Scenario[] = [];
  for (let k = 0; k < flows; k++) {
    const fam = r() < 0.5 ? V4 : V6;
    const f = new TcpFlow(fam.c, fam.s, port(), 8080, Math.floor(r() * 2 ** 32), Math.floor(r() * 2 ** 32));
    const packets: Uint8Array[] = [];
    const ws = r() < 0.5 ? 7 : undefined;
    packets.push(f.c2s('S', { mss: 1460, ...(ws !== undefined ? { wscale: ws } : {}) }));
    if (r() < 0.9) packets.push(f.s2c('SA', { mss: 1460, ...(ws !== undefined ? { wscale: ws } : {}) }));
    if (r() < 0.8) packets.push(f.c2s('A', { window: 502 }));
    for (let j = 0; j < segments; j++) {
      const fromClient = r() < 0.55;
      const flags = pick(RANDOM_FLAGS);
      const len = flags.includes('P') ? 1 + Math.floor(r() * 1400) : 0;
      const side = fromClient ? f.c : f.s;
      const other = fromClient ? f.s : f.c;
      const skew = (): number => {
        const x = r();
        if (x < 0.6) return 0;
        if (x < 0.8) return Math.floor((r() - 0.5) * 4000);
        if (x < 0.9) return Math.floor((r() - 0.5) * 200_000);
        return Math.floor(r() * 2 ** 32);
      };
      const sk = skew();
      const ask = skew();
      const o: SegOpts = { len, window: 200 + Math.floor(r() * 800) };
      if (sk !== 0) o.seq = (side.seq + sk) >>> 0;
      if (ask !== 0) o.ack = (other.seq + ask) >>> 0;
      packets.push(fromClient ? f.c2s(flags, o) : f.s2c(flags, o));
    }
    out.push({ name: `random tcp seed ${seed} flow ${k}`, packets });
  }
  return out;
}
