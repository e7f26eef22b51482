import assert from 'node:assert/strict';
import { buildTcp, parseBuilt } from '../../packet/build.js';
import { formatAddress, parseAddress, parsePrefix } from '../../packet/address.js';
import type { PacketInfo } from '../../packet/packet-info.js';
import { ConnTracker, CtState, CtStatus, parseConntrackDump } from '../../conntrack/index.js';
import { RulesetEngine } from '../../ruleset/index.js';
import { EventKind, EventRing, type StateRecord } from '../../../sync-protocol/index.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import { FilterStage } from './filter-stage.js';
import { NatState } from './nat-state.js';
import { RouteInterfaces, type RouteEntry } from './route-interfaces.js';
import { Verdict } from './stage.js';
import { SyncBridge } from './sync-bridge.js';
import { importConnections, importInSlices } from './ct-import.js';

// The migration's ruleset: replies and established flows pass, new flows only from the LAN.
const STRICT = `table inet f {
  chain fw { type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan" ct state new accept
  }
}`;

const CLIENT = '192.0.2.100';
const SERVER = '198.51.100.100';
const WAN_ADDR = '198.51.100.2';

/** A datapath's filter stage with conntrack that picks up nothing mid-stream (tcpLoose off), NAT and state sync's ring. */
function node(maxEntries = 1024) {
  let now = 5000;
  const engine = new RulesetEngine({ clock: () => now });
  engine.load(STRICT);
  const routes = new RouteInterfaces();
  routes.load([['192.0.2.0/24', 'lan'], ['198.51.100.0/24', 'wan']].map(([pfx, ifname]): RouteEntry => {
    const p = parsePrefix(pfx!, { strict: false });
    return { family: 4, prefix: p.bytes, len: p.len, ifId: engine.ifnames.idOf(ifname!) };
  }));
  const ct = new ConnTracker({ maxEntries, now: () => now, tcpLoose: false });
  const nat = new NatState(ct.capacity, { key: [1, 2] });
  const ring = new EventRing(256);
  const bridge = new SyncBridge(ct, ring, nat);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  nat.attach(ct);
  nat.setAddresses([{ ifId: engine.ifnames.idOf('wan'), family: 4, bytes: parseAddress(WAN_ADDR).bytes }]);
  const stage = new FilterStage(engine, ct, routes, new Float64Array(COUNTER_NAMES.length), bridge, nat);
  const records = (): StateRecord[] => {
    const out: StateRecord[] = [];
    for (let r = ring.pop(); r !== undefined; r = ring.pop()) out.push(r);
    return out;
  };
  return {
    ct, nat, records,
    now: () => now,
    send(pkt: Uint8Array): { v: Verdict; p: PacketInfo; state: CtState } {
      now += 1;
      const p = parseBuilt(pkt);
      const v = stage.process(p, now);
      return { v, p, state: ct.result.state };
    },
    import(text: string) {
      const parsed = parseConntrackDump(text);
      assert.deepEqual(parsed.errors, []);
      return importConnections(ct, nat, parsed.entries, now);
    },
  };
}

const line = (sport: number, state = 'ESTABLISHED') =>
  `ipv4     2 tcp      6 431999 ${state} src=${CLIENT} dst=${SERVER} sport=${sport} dport=5001 src=${SERVER} dst=${CLIENT} sport=5001 dport=${sport} [ASSURED] mark=0 use=1`;

/** A data segment in the middle of a connection: sequence numbers the table has never seen. */
const data = (from: 'client' | 'server', sport: number, seq: number, ack: number) =>
  from === 'client'
    ? buildTcp({ src: CLIENT, dst: SERVER, sport, dport: 5001, flags: 'PA', seq, ack, window: 502, payload: new Uint8Array([0x61]) })
    : buildTcp({ src: SERVER, dst: CLIENT, sport: 5001, dport: sport, flags: 'PA', seq, ack, window: 509, payload: new Uint8Array([0x62]) });

const addr = (p: PacketInfo, off: number) => formatAddress(p.buf, off, p.addrLen);

describe('hafw ct import in the datapath: imported connections go on, others are dropped', () => {
  it('an imported TCP connection passes a strict ruleset mid-stream both ways, learning its windows; one not imported is dropped', () => {
    const n = node();
    const r = n.import(line(40000));
    assert.deepEqual(r, { imported: 1, existing: 0, refused: 0, nat: 0, existingLines: [], refusedLines: [] });
    // Sequence numbers far from anything: the windows are learned from these packets.
    for (let i = 0; i < 20; i++) {
      const c = n.send(data('client', 40000, 0x7000_0000 + i, 0x1234_0000 + i));
      assert.equal(c.v, Verdict.Accept, `client segment ${i}`);
      assert.equal(c.state, CtState.Established);
      const s = n.send(data('server', 40000, 0x1234_0000 + i, 0x7000_0001 + i));
      assert.equal(s.v, Verdict.Accept, `server segment ${i}`);
    }
    // A window scale nobody saw (e.g. 7): a jump a scaled window allows still passes (liberal, as Linux's pickup).
    assert.equal(n.send(data('client', 40000, 0x7000_0000 + 20 + 300_000, 0x1234_0014)).v, Verdict.Accept);
    // The same flow, not imported: the mid-stream segment is not a connection (tcpLoose off) and is dropped.
    assert.equal(n.send(data('client', 40001, 0x5000_0000, 0x6000_0000)).v, Verdict.Drop);
    assert.equal(n.send(data('server', 40001, 0x6000_0000, 0x5000_0001)).v, Verdict.Drop);
  });

  it('imported entries are this node\'s own: state sync sends each as a new connection (to the standby as a normal entry)', () => {
    const n = node();
    n.import([line(40000), line(40002, 'TIME_WAIT')].join('\n'));
    const recs = n.records();
    assert.deepEqual(recs.map((x) => [x.kind, x.origSport, x.tcpState]), [[EventKind.New, 40000, 3], [EventKind.New, 40002, 7]]);
    assert.equal(recs[0]!.status & CtStatus.Replicated, 0);
    assert.ok(recs[0]!.status & CtStatus.Assured);
    // 431999 s left in the kernel: the entry keeps that timeout.
    assert.ok(Math.abs(recs[0]!.timeoutMs - 431_999_000) <= 1, String(recs[0]!.timeoutMs));
    const e = n.ct.lookupTuple({ family: 4, proto: 6, zone: 0, origSrc: parseAddress(CLIENT).bytes, origDst: parseAddress(SERVER).bytes, origSport: 40000, origDport: 5001 });
    assert.ok(e >= 0);
    assert.equal(n.ct.getStatus(e) & CtStatus.Replicated, 0);
  });

  it('a source-NAT entry: the reply tuple gives the binding, packets are translated both ways, the sync record carries it', () => {
    const n = node();
    const nat = `ipv4     2 tcp      6 431999 ESTABLISHED src=${CLIENT} dst=${SERVER} sport=40010 dport=5001 src=${SERVER} dst=${WAN_ADDR} sport=5001 dport=61000 [ASSURED] mark=0 use=1`;
    const r = n.import(nat);
    assert.equal(r.nat, 1);
    const out = n.send(data('client', 40010, 100, 200));
    assert.equal(out.v, Verdict.Accept);
    assert.equal(`${addr(out.p, out.p.srcOff)}:${out.p.sport}`, `${WAN_ADDR}:61000`);
    const back = n.send(buildTcp({ src: SERVER, dst: WAN_ADDR, sport: 5001, dport: 61000, flags: 'PA', seq: 200, ack: 101, window: 509, payload: new Uint8Array([1]) }));
    assert.equal(back.v, Verdict.Accept);
    assert.equal(`${addr(back.p, back.p.dstOff)}:${back.p.dport}`, `${CLIENT}:40010`);
    const rec = n.records()[0]!;
    assert.ok(rec.status & CtStatus.SrcNat);
    assert.ok(rec.nat, 'the record carries the binding');
    assert.equal(rec.nat!.port, 61000);
  });

  it('a connection already in the table is left as it is; a full table refuses the rest and names their lines', () => {
    const n = node(4);
    n.import(line(40999));
    const dump = [line(40999).replace('mark=0', 'mark=7'), ...[1, 2, 3, 4, 5].map((i) => line(41000 + i))].join('\n');
    const r = n.import(dump);
    assert.equal(r.existing, 1);
    assert.deepEqual(r.existingLines, [1]);
    assert.equal(r.imported, 3, 'the table holds 4');
    assert.equal(r.refused, 2);
    assert.deepEqual(r.refusedLines, [5, 6]);
    const e = n.ct.lookupTuple({ family: 4, proto: 6, zone: 0, origSrc: parseAddress(CLIENT).bytes, origDst: parseAddress(SERVER).bytes, origSport: 40999, origDport: 5001 });
    assert.equal(n.ct.getMark(e), 0, 'the existing entry kept its own mark');
  });

  it('a large import goes in slices, yielding to the event loop between them, with the same outcome', async () => {
    const n = node(2048);
    const parsed = parseConntrackDump(Array.from({ length: 1000 }, (_, i) => line(20000 + i)).join('\n'));
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const r = await new Promise<ReturnType<typeof importConnections>>((resolve) => importInSlices(n.ct, n.nat, parsed.entries, n.now, resolve));
    clearInterval(ticker);
    assert.equal(r.imported, 1000);
    assert.equal(n.ct.count(), 1000);
    assert.ok(turns >= 1, 'timers ran while the import went on');
  });
});
