import assert from 'node:assert/strict';
import { buildTcp, buildUdp, parseBuilt } from '../../packet/build.js';
import { formatAddress } from '../../packet/address.js';
import { IpProto, type PacketInfo } from '../../packet/packet-info.js';
import { readCounters } from '../shared/counters.js';
import type { DatapathWorkerData, FromDatapath, PlainRoute } from '../shared/messages.js';
import { buildDatapath } from './datapath.js';
import { MemoryDevice } from './memory-device.js';
import { buildMemoryDatapath, memoryWorkerData, type MemoryDatapath } from './memory-datapath.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LogLine, TraceRecordOut } from '../../ruleset/index.js';
import type { CtEventOut } from '../../conntrack/index.js';

const CLIENT = '10.0.0.5';
const REMOTE = '203.0.113.9';
const WAN_ADDR = '198.51.100.2';

const RULESET = `table ip nat {
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }
}
table ip filter {
  chain fw { type filter hook forward priority 0; policy accept;
    udp dport 9 drop
    udp dport 7 reject
  }
}`;

const ROUTES: PlainRoute[] = [
  { family: 4, prefix: [10, 0, 0, 0], len: 24, ifname: 'lan', src: [10, 0, 0, 1] },
  { family: 4, prefix: [198, 51, 100, 0], len: 24, ifname: 'wan', src: [198, 51, 100, 2] },
  { family: 4, prefix: [0, 0, 0, 0], len: 0, ifname: 'wan' },
];

const workerData = (): DatapathWorkerData => memoryWorkerData(ROUTES);

const addr = (p: PacketInfo, off: number): string => formatAddress(p.buf, off, p.addrLen);
const udp = (src: string, dst: string, dport: number): Uint8Array => buildUdp({ src, dst, sport: 40000, dport, payload: 16, vnet: true });

type Built = MemoryDatapath;
const build = (extra: Partial<DatapathWorkerData> = {}): Promise<Built> => buildMemoryDatapath(ROUTES, extra);

describe('buildDatapath in-process (fake device, fake ports)', () => {
  let b: Built;
  beforeEach(async () => {
    b = await build();
    assert.deepEqual(b.ask({ type: 'ruleset-load', id: 1, text: RULESET }), { type: 'ruleset-result', id: 1, ok: true, generation: 1 });
  });
  afterEach(() => b.dp.handle({ type: 'stop' }));

  it('says ready with the device it opened', () => {
    assert.deepEqual(b.sent[0], { type: 'ready', tunName: 'hafw0', vnetHdrLen: 10 });
  });

  it('forwards a packet unchanged, masquerades one to the WAN, drops one by rule, answers a reject by inject', async () => {
    const inbound = udp(REMOTE, CLIENT, 5000);
    b.dev.send(inbound);
    b.dev.send(udp(CLIENT, REMOTE, 53));
    b.dev.send(udp(CLIENT, REMOTE, 9));
    b.dev.send(udp(CLIENT, REMOTE, 7));
    await b.dev.idle();

    const out = b.dev.outbound.map((p) => parseBuilt(p, 10));
    assert.equal(out.length, 3);
    // The reject's ICMP port unreachable is written at once; the batch's forwarded slots after it.
    const [icmp, fwd, nat] = out as [PacketInfo, PacketInfo, PacketInfo];
    assert.equal(icmp.l4proto, IpProto.Icmp);
    assert.equal(icmp.icmpType, 3);
    assert.equal(`${addr(icmp, icmp.srcOff)}>${addr(icmp, icmp.dstOff)}`, `${REMOTE}>${CLIENT}`);
    assert.deepEqual(b.dev.outbound[1], inbound);
    assert.equal(`${addr(fwd, fwd.srcOff)}>${addr(fwd, fwd.dstOff)}:${fwd.dport}`, `${REMOTE}>${CLIENT}:5000`);
    assert.equal(`${addr(nat, nat.srcOff)}>${addr(nat, nat.dstOff)}:${nat.dport}`, `${WAN_ADDR}>${REMOTE}:53`);

    const c = readCounters(b.data.counters);
    assert.equal(c.rx_packets, 4);
    assert.equal(c.verdict_accept, 2);
    assert.equal(c.verdict_drop, 1);
    assert.equal(c.verdict_reject, 1);
    assert.equal(c.nat_new, 1);
    assert.deepEqual(b.ask({ type: 'ct-count', id: 2 }), { type: 'ct-count', id: 2, total: 2, replicated: 0, capacity: 1024 });
  });

  it('lists its own copy of the ruleset: the counters packets moved here (what hafw ruleset show reads)', async () => {
    assert.equal((b.ask({ type: 'ruleset-tx', id: 2, ops: 'add counter ip filter nines\ninsert rule ip filter fw udp dport 9 counter name "nines" counter' }) as { ok: boolean }).ok, true);
    b.dev.send(udp(CLIENT, REMOTE, 9));
    b.dev.send(udp(CLIENT, REMOTE, 9));
    await b.dev.idle();
    const text = b.ask({ type: 'ruleset-list', id: 3, format: 'nft', handles: false }) as { generation: number; text: string };
    assert.equal(text.generation, 2);
    assert.match(text.text, /counter nines \{\n\t\tpackets 2 bytes 88\n/);
    assert.match(text.text, /udp dport 9 counter name "nines" counter packets 2 bytes 88/);
    const json = b.ask({ type: 'ruleset-list', id: 4, format: 'json', handles: false }) as { json: { nftables: Record<string, { packets?: number }>[] } };
    assert.equal(json.json.nftables.find((o) => 'counter' in o)!.counter!.packets, 2);
    // reset counters acts on this copy: it answers the values packets moved, then they are zero.
    const reset = b.ask({ type: 'ruleset-objects', id: 5, text: 'reset counters' }) as { generation: number; text: string };
    assert.deepEqual(reset, { type: 'ruleset-objects', id: 5, generation: 2, text: 'table ip filter {\n\tcounter nines {\n\t\tpackets 2 bytes 88\n\t}\n}\n' });
    assert.match((b.ask({ type: 'ruleset-list', id: 6, format: 'nft', handles: false }) as { text: string }).text, /counter nines \{\n\t\tpackets 0 bytes 0\n/);
    assert.match((b.ask({ type: 'ruleset-objects', id: 7, text: 'reset counter ip filter none' }) as { error: string }).error, /no counter none in table ip filter/);
  });

  it('follows a routes message: the same packet no longer leaves by the WAN, so it is not masqueraded', async () => {
    b.dp.handle({ type: 'routes', routes: [{ family: 4, prefix: [0, 0, 0, 0], len: 0, ifname: 'lan2' }] });
    b.dev.send(udp(CLIENT, REMOTE, 53));
    await b.dev.idle();
    const p = parseBuilt(b.dev.outbound[0]!, 10);
    assert.equal(addr(p, p.srcOff), CLIENT);
  });

  it('stop closes the device and leaves no handle that would keep the thread alive', async () => {
    // After one turn: mocha's own timeout timer for this test is in place by then.
    await new Promise(setImmediate);
    const before = process.getActiveResourcesInfo().slice().sort();
    const c = await build();
    c.dev.send(udp(CLIENT, REMOTE, 53)); // queued, not yet read
    c.dp.handle({ type: 'stop' });
    assert.deepEqual(c.sent.at(-1), { type: 'stopped' });
    assert.ok(c.dev.closed);
    assert.deepEqual(process.getActiveResourcesInfo().slice().sort(), before);
  });

  it('a device that cannot open is an error message, not a rejection', async () => {
    const sent: FromDatapath[] = [];
    const dp = await buildDatapath(workerData(), {
      send: (m) => sent.push(m),
      openDevice: () => {
        throw new Error('cannot open TUN device hafw0: permission denied');
      },
    });
    assert.deepEqual(sent, [{ type: 'error', message: 'cannot open TUN device hafw0: permission denied' }]);
    dp.handle({ type: 'stop' });
    assert.deepEqual(sent.at(-1), { type: 'stopped' });
  });
});

describe('buildDatapath in-process: ruleset log lines reach the control side', () => {
  const LOGGED = `table ip filter {
  chain fw { type filter hook forward priority 0; policy accept;
    udp dport 514 log prefix "x: " level warn
  }
}`;
  /** Sends packets, waits for them and for the log flush (setImmediate after the batch). */
  async function logged(b: Built, n: number): Promise<LogLine[]> {
    assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: LOGGED }) as { ok: boolean }).ok, true);
    for (let i = 0; i < n; i++) b.dev.send(udp(CLIENT, REMOTE, 514));
    await b.dev.idle();
    await new Promise(setImmediate);
    return b.sent.flatMap((m) => (m.type === 'ruleset-log' ? m.lines : []));
  }

  it('a log statement gives a line with its prefix, its level and the packet as nf_log prints it', async () => {
    const b = await build();
    try {
      const lines = await logged(b, 2);
      assert.equal(lines.length, 2);
      const l = lines[0]!;
      assert.equal(l.prefix, 'x: ');
      assert.equal(l.level, 'warn');
      assert.match(l.line, /^IN=lan OUT=wan SRC=10\.0\.0\.5 DST=203\.0\.113\.9 LEN=44 TOS=0x00 PREC=0x00 TTL=\d+ ID=\d+ (DF )?PROTO=UDP SPT=40000 DPT=514 LEN=24$/);
      assert.deepEqual({ ...l.fields, TTL: undefined, ID: undefined, IPFLAGS: undefined }, {
        IN: 'lan', OUT: 'wan', SRC: CLIENT, DST: REMOTE, LEN: '44', TOS: '0x00', PREC: '0x00', TTL: undefined, ID: undefined, IPFLAGS: undefined,
        PROTO: 'UDP', SPT: '40000', DPT: '514', UDPLEN: '24',
      });
      // Both lines in one message: batched, not one message per packet.
      assert.equal(b.sent.filter((m) => m.type === 'ruleset-log').length, 1);
      assert.equal(readCounters(b.data.counters).ruleset_log_lines, 2);
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });

  it('the node-wide limit lets the burst through and counts the rest as dropped', async () => {
    // 1 line/s, burst 3: ten packets in a few milliseconds give three lines.
    const b = await build({ rulesetLog: { ratePerSec: 1, burst: 3 } });
    try {
      const lines = await logged(b, 10);
      const c = readCounters(b.data.counters);
      assert.equal(lines.length, 3);
      assert.equal(c.ruleset_log_lines, 3);
      assert.equal(c.ruleset_log_dropped_rate, 7);
      assert.equal(c.ruleset_log_dropped_statement, 0, 'under the statement\'s own burst of 20');
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });

  it('log.pcapFile: the logged packets are appended to a pcap file (raw IP), stopped at its size cap and counted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-pcap-'));
    const file = path.join(dir, 'log.pcap');
    try {
      // Room for the header and one 44-byte packet (16-byte record header), not two.
      const b = await build({ rulesetLog: { ratePerSec: 100, burst: 200, pcapFile: file, pcapMaxBytes: 24 + 16 + 44 + 10 } });
      const sentPacket = udp(CLIENT, REMOTE, 514);
      const lines = await logged(b, 2);
      b.dp.handle({ type: 'stop' });
      assert.equal(lines.length, 2, 'both lines logged; only the pcap copy is capped');
      const c = readCounters(b.data.counters);
      assert.deepEqual([c.ruleset_log_pcap_packets, c.ruleset_log_pcap_dropped], [1, 1]);
      const pcap = readFileSync(file);
      assert.equal(pcap.length, 24 + 16 + 44);
      assert.equal(pcap.readUInt32LE(0), 0xa1b2c3d4);
      assert.equal(pcap.readUInt32LE(20), 101, 'LINKTYPE_RAW');
      assert.deepEqual([pcap.readUInt32LE(24 + 8), pcap.readUInt32LE(24 + 12)], [44, 44]);
      assert.deepEqual(pcap.subarray(40), Buffer.from(sentPacket.subarray(10)), 'the IP packet as it came in (no virtio header)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('log.pcapFile in a directory that does not exist: the datapath says so and does not start', async () => {
    const sent: FromDatapath[] = [];
    const dp = await buildDatapath({ ...workerData(), rulesetLog: { ratePerSec: 1, burst: 1, pcapFile: '/nonexistent-hafw/x.pcap' } }, {
      send: (m) => sent.push(m),
      openDevice: (d) => new MemoryDevice({ name: d.tunName }),
    });
    assert.deepEqual(sent, [{ type: 'error', message: 'log.pcapFile /nonexistent-hafw/x.pcap: no such directory' }]);
    dp.handle({ type: 'stop' });
  });
});

describe('buildDatapath in-process: connection events (hafw ct events)', () => {
  const tcp = (src: string, dst: string, sport: number, dport: number, flags: string, seq: number, ack = 0): Uint8Array =>
    buildTcp({ src, dst, sport, dport, flags, seq, ack, window: 65535, vnet: true });
  /** A whole TCP connection client -> remote:80, masqueraded to the WAN address; returns after the flush. */
  async function connection(b: Built): Promise<void> {
    b.dev.send(tcp(CLIENT, REMOTE, 41000, 80, 'S', 1000));
    await b.dev.idle();
    const syn = parseBuilt(b.dev.outbound.at(-1)!, 10);
    const natPort = syn.sport;
    b.dev.send(tcp(REMOTE, WAN_ADDR, 80, natPort, 'SA', 5000, 1001));
    b.dev.send(tcp(CLIENT, REMOTE, 41000, 80, 'A', 1001, 5001));
    b.dev.send(tcp(CLIENT, REMOTE, 41000, 80, 'R', 1001, 5001));
    await b.dev.idle();
    // The reset leaves the entry in CLOSE for its timeout; `hafw ct flush` ends it now.
    b.ask({ type: 'ct-op', id: 99, op: { op: 'flush', filter: {} } });
    await new Promise(setImmediate);
  }
  const events = (b: Built): CtEventOut[] => b.sent.flatMap((m) => (m.type === 'ct-events' ? m.events : []));

  it('nothing is produced while nobody subscribes', async () => {
    const b = await build();
    try {
      assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: RULESET }) as { ok: boolean }).ok, true);
      await connection(b);
      assert.deepEqual(events(b), []);
      assert.equal(readCounters(b.data.counters).ct_events, 0);
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });

  it('a subscriber sees new, the state changes and destroy of a connection, with both tuples, NAT and owner; a filter and the event kinds select', async () => {
    const b = await build();
    try {
      assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: RULESET }) as { ok: boolean }).ok, true);
      b.dp.handle({ type: 'ct-events', subscribers: [
        { id: 7, filter: { proto: 6 } },
        { id: 8, filter: { dport: 443 } },
        { id: 9, filter: { proto: 6, events: ['new', 'destroy'] } },
      ] });
      await connection(b);
      const evs = events(b);
      assert.deepEqual(evs.map((e) => `${e.event} ${e.tcpState} ${e.to.join(',')}`), [
        'new SYN_SENT 7,9',
        'update SYN_RECV 7',
        'update ESTABLISHED 7',
        'update CLOSE 7',
        'destroy CLOSE 7,9',
      ]);
      const first = evs[0]!;
      assert.equal(first.owner, 'local');
      assert.deepEqual(first.original, { src: CLIENT, dst: REMOTE, sport: 41000, dport: 80 });
      assert.equal(first.reply.src, REMOTE);
      assert.equal(first.reply.dst, WAN_ADDR, 'the reply tuple shows the masquerade');
      assert.ok(first.status.includes('snat'));
      assert.equal(b.sent.filter((m) => m.type === 'ct-events').length, 2, 'one message per wake-up, not one per event');
      assert.equal(readCounters(b.data.counters).ct_events, 5);

      // Last subscriber gone: the tap is unhooked, nothing more comes.
      b.dp.handle({ type: 'ct-events', subscribers: [] });
      const before = evs.length;
      b.dev.send(tcp(CLIENT, REMOTE, 41001, 80, 'S', 1));
      await b.dev.idle();
      await new Promise(setImmediate);
      assert.equal(events(b).length, before);
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });
});

describe('buildDatapath in-process: packet traces (hafw trace)', () => {
  const TRACED = `table inet t {
  chain raw { type filter hook prerouting priority -300; policy accept;
    udp dport 53 meta nftrace set 1
  }
  chain fw { type filter hook forward priority 0; policy accept;
    udp dport 9 drop
    jump checks
    counter
  }
  chain checks {
    ip saddr 10.0.0.0/24 udp dport 53 meta mark set 0x2a
  }
}
table ip nat {
  chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade }
}`;
  const records = (b: Built): TraceRecordOut[] => b.sent.flatMap((m) => (m.type === 'trace' ? m.records : []));
  async function run(b: Built, ...pkts: Uint8Array[]): Promise<void> {
    for (const p of pkts) b.dev.send(p);
    await b.dev.idle();
    await new Promise(setImmediate);
  }

  it('meta nftrace set 1 traces nothing while no session is open', async () => {
    const b = await build();
    try {
      assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: TRACED }) as { ok: boolean }).ok, true);
      await run(b, udp(CLIENT, REMOTE, 53));
      assert.deepEqual(records(b), []);
      assert.equal(b.dev.outbound.length, 1, 'and the packet went through');
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });

  it('a session follows packets flagged by meta nftrace: each chain and rule from the next base chain on, the verdict and the NAT', async () => {
    const b = await build();
    try {
      assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: TRACED }) as { ok: boolean }).ok, true);
      b.dp.handle({ type: 'trace', sessions: [{ id: 3 }] });
      await run(b, udp(CLIENT, REMOTE, 53), udp(CLIENT, REMOTE, 80));
      const recs = records(b);
      assert.equal(recs.length, 1, 'only the flagged packet');
      const r = recs[0]!;
      assert.deepEqual(r.to, [3]);
      assert.deepEqual(r.by, ['nftrace']);
      assert.equal(r.verdict, 'accept');
      assert.equal(r.ctState, 'new');
      assert.deepEqual([r.packet.src, r.packet.dst, r.packet.dport, r.packet.iif, r.packet.oif], [CLIENT, REMOTE, 53, 'lan', 'wan']);
      assert.deepEqual(r.steps.map((s) => `${s.hook} ${s.family} ${s.table} ${s.chain} ${s.type} ${s.rule ?? '-'} -> ${s.verdict}`), [
        'forward inet t fw rule jump checks -> jump checks',
        'forward inet t checks rule ip saddr 10.0.0.0/24 udp dport 53 meta mark set 0x0000002a -> continue',
        'forward inet t checks return - -> return',
        // The counter's live values: this packet counted.
        'forward inet t fw rule counter packets 1 bytes 44 -> continue',
        'forward inet t fw policy - -> accept',
        // A NAT statement ends its chain with accept, as in nft.
        'postrouting ip nat post rule oifname "wan" masquerade -> accept',
      ]);
      assert.equal(r.after?.src, WAN_ADDR, 'the packet as it left: masqueraded');
      assert.equal(r.ct?.reply.dst, WAN_ADDR);
      assert.equal(r.after?.mark, 0x2a);
      assert.equal(readCounters(b.data.counters).trace_packets, 1);
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });

  it('a session with a filter traces the packets it matches (from the first hook), and only for that session', async () => {
    const b = await build();
    try {
      assert.equal((b.ask({ type: 'ruleset-load', id: 1, text: TRACED }) as { ok: boolean }).ok, true);
      b.dp.handle({ type: 'trace', sessions: [{ id: 1, filter: 'ip daddr 203.0.113.9 udp dport 9' }, { id: 2 }] });
      await run(b, udp(CLIENT, REMOTE, 9), udp(CLIENT, REMOTE, 80));
      const recs = records(b);
      assert.equal(recs.length, 1);
      const r = recs[0]!;
      assert.deepEqual([r.to, r.by, r.verdict], [[1], ['filter'], 'drop']);
      assert.deepEqual(r.steps.map((s) => `${s.hook} ${s.chain} ${s.type} ${s.rule ?? '-'} -> ${s.verdict}`), [
        'prerouting raw policy - -> accept',
        'forward fw rule udp dport 9 drop -> drop',
      ]);
      b.dp.handle({ type: 'trace', sessions: [] });
      await run(b, udp(CLIENT, REMOTE, 9));
      assert.equal(records(b).length, 1, 'closed: nothing more');
    } finally {
      b.dp.handle({ type: 'stop' });
    }
  });
});
