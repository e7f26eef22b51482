import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTcp, buildUdp, fragmentPacket } from '../../packet/build.js';
import { writePcap } from '../../packet/pcap.js';
import { OfflineReplay, parseReplayRoute, replayCapture, type ReplayRow } from './replay.js';

const C = '192.0.2.100';
const S = '198.51.100.100';

function handshake(sport: number): Uint8Array[] {
  return [
    buildTcp({ src: C, dst: S, sport, dport: 80, flags: 'S', seq: 1000, ack: 0, window: 64240 }),
    buildTcp({ src: S, dst: C, sport: 80, dport: sport, flags: 'SA', seq: 5000, ack: 1001, window: 65160 }),
    buildTcp({ src: C, dst: S, sport, dport: 80, flags: 'A', seq: 1001, ack: 5001, window: 64240 }),
    buildTcp({ src: C, dst: S, sport, dport: 80, flags: 'PA', seq: 1001, ack: 5001, window: 64240, payload: 10 }),
  ];
}

function pcapOf(packets: Uint8Array[], stepMs = 1): Uint8Array {
  const t0 = 1_700_000_000_000_000_000n;
  return writePcap(packets.map((data, k) => ({ data, tsNs: t0 + BigInt(k * stepMs) * 1_000_000n })));
}

const STATEFUL = `table inet f {
  chain fw {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid drop
    iifname "lan" ct state new accept
  }
}`;

describe('offline replay', () => {
  it('calls a TCP handshake new, then established, and accepts all of it without a ruleset', () => {
    const rows = [...replayCapture(pcapOf(handshake(40000)))];
    assert.deepEqual(
      rows.map((r) => [r.i, r.verdict, r.ct]),
      [
        [1, 'accept', 'new'],
        [2, 'accept', 'established'],
        [3, 'accept', 'established'],
        [4, 'accept', 'established'],
      ],
    );
    assert.match(rows[0]!.summary, /192\.0\.2\.100:40000 > 198\.51\.100\.100:80 tcp \[S\]/);
  });

  it('checks every packet\'s L4 checksum (a capture has no offload flags): a corrupted one is ct state invalid', () => {
    const [syn, synAck, ack, data] = handshake(40001) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
    const bad = data.slice();
    bad[bad.length - 1] ^= 0xff;
    const rows = [...replayCapture(pcapOf([syn, synAck, ack, bad, data]), { ruleset: STATEFUL, routes: [parseReplayRoute('192.0.2.0/24=lan')] })];
    assert.deepEqual(rows.map((r) => [r.verdict, r.ct]), [
      ['accept', 'new'],
      ['accept', 'established'],
      ['accept', 'established'],
      ['drop', 'invalid'],
      ['accept', 'established'],
    ]);
  });

  it('puts fragments together as the node does: held until the datagram is whole, which is judged once', () => {
    const query = fragmentPacket(buildUdp({ src: C, dst: S, sport: 5353, dport: 53, payload: 3000 }), 1400, 1);
    const answer = fragmentPacket(buildUdp({ src: S, dst: C, sport: 53, dport: 5353, payload: 2000 }), 1400, 2);
    const stray = fragmentPacket(buildUdp({ src: C, dst: S, sport: 5354, dport: 53, payload: 3000 }), 1400, 3);
    const rows = [...replayCapture(pcapOf([...query, ...answer, stray[1]!, stray[1]!]), { ruleset: STATEFUL, routes: [parseReplayRoute('192.0.2.0/24=lan')] })];
    assert.deepEqual(
      rows.map((r) => [r.verdict, r.ct, r.datagram, r.skipped]),
      [
        ['held', 'pending', undefined, undefined],
        ['held', 'pending', undefined, undefined],
        ['accept', 'new', 3, undefined],
        ['held', 'pending', undefined, undefined],
        ['accept', 'established', 2, undefined],
        ['held', 'pending', undefined, undefined],
        // An exact duplicate of a held fragment is refused.
        ['drop', 'invalid', undefined, 'fragment-refused'],
      ],
    );
  });

  it('uses capture timestamps as the clock, so an unreplied UDP flow expires between packets 31 s apart', () => {
    const out = buildUdp({ src: C, dst: S, sport: 5353, dport: 53, payload: 4 });
    const back = buildUdp({ src: S, dst: C, sport: 53, dport: 5353, payload: 4 });
    const near = [...replayCapture(pcapOf([out, back], 1000))].map((r) => r.ct);
    assert.deepEqual(near, ['new', 'established']);
    // Linux's nf_conntrack_udp_timeout is 30 s: after 31 s the reply starts a flow of its own.
    const far = [...replayCapture(pcapOf([out, back], 31_000))].map((r) => r.ct);
    assert.deepEqual(far, ['new', 'new']);
  });

  it('is strict by default (mid-stream TCP is invalid) and picks the flow up with tcpLoose', () => {
    const mid = [handshake(40001)[3]!, buildTcp({ src: S, dst: C, sport: 80, dport: 40001, flags: 'A', seq: 5001, ack: 1011, window: 65160 })];
    assert.deepEqual(
      [...replayCapture(pcapOf(mid))].map((r) => r.ct),
      ['invalid', 'invalid'],
    );
    assert.deepEqual(
      [...replayCapture(pcapOf(mid), { tcpLoose: true })].map((r) => r.ct),
      ['new', 'established'],
    );
  });

  it('applies a stateful ruleset with interfaces from --route: new from lan passes, new from wan and invalid are dropped', () => {
    const routes = ['192.0.2.0/24=lan', '198.51.100.0/24=wan'].map(parseReplayRoute);
    const pkts = [
      ...handshake(40002),
      // A connection opened from the WAN side: new, not from lan -> policy drop; its entry is never created.
      buildTcp({ src: S, dst: C, sport: 4444, dport: 22, flags: 'S', seq: 1, window: 1000 }),
      buildTcp({ src: S, dst: C, sport: 4444, dport: 22, flags: 'S', seq: 1, window: 1000 }),
      // Mid-stream packet of an unknown connection: invalid, dropped.
      buildTcp({ src: C, dst: S, sport: 40003, dport: 80, flags: 'PA', seq: 77, ack: 88, payload: 5 }),
    ];
    const rows = [...replayCapture(pcapOf(pkts), { ruleset: STATEFUL, routes })];
    assert.deepEqual(
      rows.map((r) => `${r.verdict}/${r.ct}`),
      ['accept/new', 'accept/established', 'accept/established', 'accept/established', 'drop/new', 'drop/new', 'drop/invalid'],
    );
  });

  it('fib against the --route table and the --local addresses: a source with no route back is dropped, fib daddr . iif type local sees the address of the input interface', () => {
    const routes = ['192.0.2.0/24=lan', '198.51.100.0/24=wan', '2001:db8:1::/64=lan'].map(parseReplayRoute);
    const ruleset = `table inet f { chain pre { type filter hook prerouting priority 0; policy accept;
      fib saddr oif missing drop
      fib daddr . iif type local udp dport 7 drop
    } }`;
    const pkts = [
      buildUdp({ src: '192.0.2.10', dst: '198.51.100.10', sport: 1, dport: 9 }),
      buildUdp({ src: '203.0.113.10', dst: '192.0.2.10', sport: 1, dport: 9 }),
      buildUdp({ src: '2001:db8:1::10', dst: '2001:db8:1::20', sport: 1, dport: 9 }),
      buildUdp({ src: '2001:db8:99::10', dst: '2001:db8:1::20', sport: 1, dport: 9 }),
      buildUdp({ src: '192.0.2.10', dst: '192.0.2.1', sport: 1, dport: 7 }),
      buildUdp({ src: '198.51.100.10', dst: '192.0.2.1', sport: 1, dport: 7 }),
    ];
    const rows = [...replayCapture(pcapOf(pkts), { ruleset, routes, local: ['192.0.2.1'] })];
    assert.deepEqual(rows.map((r) => r.verdict), ['accept', 'drop', 'accept', 'drop', 'drop', 'accept']);
  });

  it('with --local addresses, packets to them take input and packets from them output (each row shows the path)', () => {
    const guarded = `table inet f {
  chain in { type filter hook input priority 0; policy drop; ct state established accept; tcp dport 22 accept }
  chain out { type filter hook output priority 0; policy drop; ct state established accept; udp dport 53 accept }
}`;
    const pkts = [
      buildTcp({ src: C, dst: S, sport: 40010, dport: 22, flags: 'S', seq: 1 }),
      buildTcp({ src: S, dst: C, sport: 22, dport: 40010, flags: 'SA', seq: 9, ack: 2 }),
      buildTcp({ src: C, dst: S, sport: 40011, dport: 23, flags: 'S', seq: 1 }),
      buildUdp({ src: S, dst: '203.0.113.53', sport: 3333, dport: 53 }),
      buildUdp({ src: S, dst: '203.0.113.53', sport: 3334, dport: 123 }),
      buildUdp({ src: C, dst: '203.0.113.53', sport: 3335, dport: 123 }),
    ];
    const rows = [...replayCapture(pcapOf(pkts), { ruleset: guarded, local: [S] })];
    assert.deepEqual(
      rows.map((r) => `${r.verdict}/${r.ct}/${r.path}`),
      ['accept/new/input', 'accept/established/output', 'drop/new/input', 'accept/new/output', 'drop/new/output', 'accept/new/forward'],
    );
    // Without --local the same capture is forwarded traffic, which no chain here filters.
    assert.ok([...replayCapture(pcapOf(pkts), { ruleset: guarded })].every((r) => r.verdict === 'accept' && r.path === undefined));
  });

  it('does not track a dropped new packet: the reply to a refused SYN is new again, not established', () => {
    const routes = [parseReplayRoute('192.0.2.0/24=lan'), parseReplayRoute('198.51.100.0/24=wan')];
    const rows = [
      ...replayCapture(
        pcapOf([
          buildUdp({ src: S, dst: C, sport: 53, dport: 999, payload: 1 }),
          buildUdp({ src: C, dst: S, sport: 999, dport: 53, payload: 1 }),
        ]),
        { ruleset: STATEFUL, routes },
      ),
    ];
    assert.deepEqual(
      rows.map((r) => `${r.verdict}/${r.ct}`),
      ['drop/new', 'accept/new'],
    );
  });

  it('reports malformed packets as dropped before the filter, and keeps going', () => {
    const r = new OfflineReplay();
    const bad = r.feed(Uint8Array.of(0x45, 0, 0, 99, 1, 2, 3), 0);
    assert.equal(bad.verdict, 'drop');
    assert.equal(bad.skipped, 'malformed');
    const good: ReplayRow = r.feed(handshake(40004)[0]!, 1);
    assert.deepEqual([good.i, good.verdict, good.ct], [2, 'accept', 'new']);
    assert.equal(r.counts().malformed, 1);
  });

  it('survives random and truncated packets (bounded fuzz): every one gets a row, none throws', () => {
    const r = new OfflineReplay({ ruleset: STATEFUL, routes: [parseReplayRoute('192.0.2.0/24=lan')] });
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const seeds = [...handshake(40010), buildUdp({ src: '2001:db8:1::1', dst: '2001:db8:2::1', sport: 1, dport: 2, payload: 9, ext: [{ type: 'hop' }] })];
    const t0 = Date.now();
    let rows = 0;
    for (let k = 0; k < 20000 && Date.now() - t0 < 3000; k++) {
      const base = seeds[k % seeds.length]!;
      let pkt: Uint8Array;
      if (k % 3 === 0) pkt = base.subarray(0, Math.floor(rand() * base.length));
      else {
        pkt = Uint8Array.from(base);
        for (let m = 0; m < 1 + Math.floor(rand() * 4); m++) pkt[Math.floor(rand() * pkt.length)] = Math.floor(rand() * 256);
      }
      const row = r.feed(pkt, k);
      assert.ok(['accept', 'drop', 'held'].includes(row.verdict));
      rows++;
    }
    assert.ok(rows >= 1000, `fed ${rows} packets`);
    assert.equal(r.counts().stage_errors, 0, 'no stage threw');
  });

  it('refuses a ruleset with an error that names the place', () => {
    assert.throws(() => new OfflineReplay({ ruleset: 'table inet f {\n  chain c {\n    bogus\n  }\n}\n', rulesetFile: 'rules.nft' }), /rules\.nft:3/);
  });

  it('refuses a cut-short capture with the byte offset, after the packets before it', () => {
    const file = pcapOf(handshake(40005));
    const cut = file.subarray(0, file.length - 5);
    const seen: number[] = [];
    assert.throws(() => {
      for (const row of replayCapture(cut)) seen.push(row.i);
    }, /malformed at byte \d+/);
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('NAT rows show the packet as it came and as it leaves; masquerade uses the --local address of the interface its --route names', () => {
    const natted = `table ip nat {
  chain pre { type nat hook prerouting priority dstnat; iifname "lan" tcp dport 8080 dnat to 198.51.100.7:80 }
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }
}`;
    const routes = ['192.0.2.0/24=lan', '198.51.100.0/24=wan'].map(parseReplayRoute);
    const pkts = [
      buildUdp({ src: C, dst: S, sport: 5000, dport: 53, payload: 4 }),
      buildUdp({ src: S, dst: '198.51.100.2', sport: 53, dport: 5000, payload: 4 }),
      buildTcp({ src: C, dst: '192.0.2.9', sport: 5001, dport: 8080, flags: 'S', seq: 1 }),
    ];
    const rows = [...replayCapture(pcapOf(pkts), { ruleset: natted, routes, local: ['198.51.100.2'] })];
    assert.deepEqual(rows.map((r) => [r.verdict, r.ct]), [['accept', 'new'], ['accept', 'established'], ['accept', 'new']]);
    assert.match(rows[0]!.summary, /^ipv4 192\.0\.2\.100:5000 > 198\.51\.100\.100:53 udp/);
    assert.match(rows[0]!.translated ?? '', /^ipv4 198\.51\.100\.2:5000 > 198\.51\.100\.100:53 udp/, 'masqueraded to the wan address');
    assert.match(rows[1]!.translated ?? '', /^ipv4 198\.51\.100\.100:53 > 192\.0\.2\.100:5000 udp/, 'the reply translated back');
    assert.match(rows[2]!.translated ?? '', /^ipv4 198\.51\.100\.2:5001 > 198\.51\.100\.7:80 tcp/, 'DNATed, then masqueraded on its way out by the wan');
    // An untranslated packet has no second form.
    assert.equal([...replayCapture(pcapOf(handshake(40020)))][0]!.translated, undefined);
  });

  it('names what decided each packet (the rule with its chain, handle and text, or the policy) and what log printed', () => {
    const rs = `table inet f {
  chain ssh { ip saddr 192.0.2.100 log prefix "ssh ok: " accept }
  chain fw {
    type filter hook forward priority 0; policy drop;
    ct state established accept
    tcp dport 22 jump ssh
    udp dport 53 reject
  }
}`;
    const pkts = [
      buildTcp({ src: C, dst: S, sport: 40030, dport: 22, flags: 'S', seq: 1 }),
      buildTcp({ src: S, dst: C, sport: 22, dport: 40030, flags: 'SA', seq: 9, ack: 2 }),
      buildUdp({ src: C, dst: S, sport: 40031, dport: 53 }),
      buildTcp({ src: C, dst: S, sport: 40032, dport: 80, flags: 'S', seq: 1 }),
    ];
    const rows = [...replayCapture(pcapOf(pkts), { ruleset: rs })];
    assert.deepEqual(rows.map((r) => [r.verdict, r.decidedBy]), [
      // Handles as `nft -a list ruleset` shows them (one counter per table, shared by its chains and rules).
      ['accept', { chain: 'inet f ssh', handle: 3, rule: 'ip saddr 192.0.2.100 log prefix "ssh ok: " accept' }],
      ['accept', { chain: 'inet f fw', handle: 4, rule: 'ct state established accept' }],
      ['drop', { chain: 'inet f fw', handle: 6, rule: 'udp dport 53 reject' }],
      ['drop', { chain: 'inet f fw', handle: 0, policy: 'drop' }],
    ]);
    assert.equal(rows[0]!.log?.length, 1);
    assert.match(rows[0]!.log![0]!, /^ssh ok: IN= OUT= SRC=192\.0\.2\.100 DST=198\.51\.100\.100 .*PROTO=TCP SPT=40030 DPT=22 /);
    assert.equal(rows[1]!.log, undefined);
    // Without a ruleset nothing decides.
    assert.equal([...replayCapture(pcapOf(pkts))][0]!.decidedBy, undefined);
  });

  it('refuses a route that is not PREFIX=IFNAME', () => {
    assert.throws(() => parseReplayRoute('lan'), /PREFIX=IFNAME/);
    assert.throws(() => parseReplayRoute('192.0.2.0/33=lan'), /length/);
  });
});

describe('hafw replay (command line)', () => {
  const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../cli/main.js');
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { main } from ${JSON.stringify(main)}; process.exitCode = await main(process.argv.slice(1));`, ...args], {
      encoding: 'utf8',
    });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  let dir = '';
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hafw-replay-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one JSON object per packet with i, verdict and ct', () => {
    const f = path.join(dir, 'hs.pcap');
    writeFileSync(f, pcapOf(handshake(40006)));
    const r = run('replay', '--pcap', f, '--json');
    assert.equal(r.code, 0, r.err);
    const rows = r.out.trim().split('\n').map((l) => JSON.parse(l) as { i: number; verdict: string; ct: string });
    assert.deepEqual(
      rows.map((o) => [o.i, o.verdict, o.ct]),
      [
        [1, 'accept', 'new'],
        [2, 'accept', 'established'],
        [3, 'accept', 'established'],
        [4, 'accept', 'established'],
      ],
    );
  });

  it('shows fragments held for their datagram, in text and JSON', () => {
    const f = path.join(dir, 'frag.pcap');
    writeFileSync(f, pcapOf(fragmentPacket(buildUdp({ src: C, dst: S, sport: 5353, dport: 53, payload: 3000 }), 1400, 9)));
    const text = run('replay', '--pcap', f);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^ {5}1 {2}held +pending +ipv4 .*frag off 0\+/m);
    assert.match(text.out, /^ {5}3 {2}accept {2}new +ipv4 .*\(datagram of 3 fragments\)$/m);
    assert.match(text.out, /3 packets: 1 accepted, 0 dropped, 2 fragments held for their datagram; ct new 1/);
    const json = run('replay', '--pcap', f, '--json');
    const rows = json.out.trim().split('\n').map((l) => JSON.parse(l) as { verdict: string; ct: string; datagram?: number });
    assert.deepEqual(rows.map((o) => [o.verdict, o.ct, o.datagram]), [['held', 'pending', undefined], ['held', 'pending', undefined], ['accept', 'new', 3]]);
  });

  it('warns when the ruleset matches interfaces and no --route was given, and shows NAT in text and JSON', () => {
    const f = path.join(dir, 'masq.pcap');
    writeFileSync(f, pcapOf([buildUdp({ src: C, dst: S, sport: 5000, dport: 53, payload: 4 })]));
    const rs = path.join(dir, 'masq.nft');
    writeFileSync(rs, 'table ip nat { chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade } }\n');
    const bare = run('replay', '--pcap', f, '--ruleset', rs);
    assert.equal(bare.code, 0, bare.err);
    assert.match(bare.err, /warning: the ruleset matches interfaces \(oifname\) but no --route was given/);
    const routed = run('replay', '--pcap', f, '--ruleset', rs, '--route', '198.51.100.0/24=wan', '--local', '198.51.100.2');
    assert.equal(routed.err, '');
    assert.match(routed.out, /^ {5}1 {2}accept {2}new +ipv4 192\.0\.2\.100:5000 > 198\.51\.100\.100:53 udp.*\n {30}NAT -> ipv4 198\.51\.100\.2:5000 > 198\.51\.100\.100:53 udp/m);
    assert.match(routed.out, /\n {30}by ip nat post handle 2: oifname "wan" masquerade\n/, 'a NAT statement ends its chain with accept');
    const json = run('replay', '--pcap', f, '--ruleset', rs, '--route', '198.51.100.0/24=wan', '--local', '198.51.100.2', '--json');
    const row = JSON.parse(json.out.trim()) as { packet: string; translated?: string; decidedBy?: unknown };
    assert.match(row.translated ?? '', /^ipv4 198\.51\.100\.2:5000 >/);
    assert.deepEqual(row.decidedBy, { chain: 'ip nat post', handle: 2, rule: 'oifname "wan" masquerade' });
  });

  it('infers the input interface from --route (a capture has none) and says so: a spoofed source takes its route\'s interface, fib saddr . iif always passes', () => {
    // A LAN source: the route back to it says lan, whatever interface it came in on.
    const f = path.join(dir, 'rpf.pcap');
    writeFileSync(f, pcapOf([buildUdp({ src: C, dst: S, sport: 5000, dport: 53, payload: 4 })]));
    const rs = path.join(dir, 'rpf.nft');
    writeFileSync(rs, 'table inet f { chain fw { type filter hook forward priority 0; policy accept;\nfib saddr . iif oif missing drop\niifname "lan" counter\n} }\n');
    const r = run('replay', '--pcap', f, '--ruleset', rs, '--route', '192.0.2.0/24=lan', '--route', '0.0.0.0/0=wan');
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /warning: the ruleset matches the input interface \(fib saddr \. iif\) but a capture does not record it: replay infers it from the route back to the source .*always passes.*datapath\.inputDevices: per-interface/);
    assert.match(r.out, /^ {5}1 {2}accept {2}new /m);
    const plain = path.join(dir, 'iifname.nft');
    writeFileSync(plain, 'table inet f { chain fw { type filter hook forward priority 0; iifname "lan" accept; } }\n');
    assert.match(run('replay', '--pcap', f, '--ruleset', plain, '--route', '192.0.2.0/24=lan').err, /matches the input interface \(iifname\)/);
    // Without --route the interfaces are unknown (the older warning); without input-interface matches, nothing.
    assert.doesNotMatch(run('replay', '--pcap', f, '--ruleset', plain).err, /capture does not record/);
  });

  it('prints a text line per packet and a summary, and exits 1 naming the offset of a bad file', () => {
    const f = path.join(dir, 'hs2.pcap');
    writeFileSync(f, pcapOf(handshake(40007)));
    const ok = run('replay', '--pcap', f);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^ {5}1 {2}accept {2}new /m);
    assert.match(ok.out, /4 packets: 4 accepted, 0 dropped; ct new 1, established 3/);
    const bad = path.join(dir, 'bad.pcap');
    writeFileSync(bad, Buffer.from('this is not a capture file'));
    const r = run('replay', '--pcap', bad);
    assert.equal(r.code, 1);
    assert.match(r.err, /hafw replay: capture file malformed at byte 0/);
    assert.equal(run('replay').code, 2);
  });
});
