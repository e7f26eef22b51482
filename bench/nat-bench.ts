/**
 * NAT numbers, offline, one process, through the datapath's FilterStage:
 *
 *   nat-setup        new UDP connections per second with a masquerade ruleset (nat chain,
 *                    setupNat, port allocation, reply tuple, commit), beside the same
 *                    connections with a filter-only ruleset (conntrack commit, no NAT)
 *   nat-translate    packets per second of established NATed flows (lookup + applyNat
 *                    with incremental checksums), beside the same flows untranslated
 *
 * Bounded: fixed counts (a few hundred thousand packets), well under a few seconds.
 */
import { ConnTracker } from '../node/conntrack/index.js';
import { buildUdp } from '../node/packet/build.js';
import { PacketInfo } from '../node/packet/packet-info.js';
import { parsePacket } from '../node/packet/parse.js';
import { RulesetEngine } from '../node/ruleset/index.js';
import { FilterStage } from '../node/datapath/worker/filter-stage.js';
import { NatState } from '../node/datapath/worker/nat-state.js';
import { RouteInterfaces } from '../node/datapath/worker/route-interfaces.js';
import { COUNTER_NAMES } from '../node/datapath/shared/counters.js';
import { withRatio, type BenchResult } from './report.js';

const FILTER = `table ip filter { chain fw { type filter hook forward priority 0; policy accept; ct state established accept } }`;
const MASQ = `${FILTER}
table ip nat { chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade } }`;

/** Below the 64,512 ports of one address: the allocator's pools are per (address, protocol). */
const NEW_FLOWS = 50_000;
const EST_FLOWS = 1024;
const EST_PACKETS = 400_000;

class Rig {
  readonly stage: FilterStage;
  readonly info = new PacketInfo();
  readonly buf = buildUdp({ src: '10.0.0.1', dst: '203.0.113.9', sport: 1024, dport: 53, payload: 64 });
  now = 1;

  constructor(ruleset: string) {
    const engine = new RulesetEngine({ clock: () => this.now });
    engine.load(ruleset);
    const routes = new RouteInterfaces();
    const lan = engine.ifnames.idOf('lan');
    const wan = engine.ifnames.idOf('wan');
    routes.load([
      { family: 4, prefix: Uint8Array.of(10, 0, 0, 0), len: 8, ifId: lan },
      { family: 4, prefix: Uint8Array.of(0, 0, 0, 0), len: 0, ifId: wan },
    ]);
    const ct = new ConnTracker({ maxEntries: 1 << 18, now: () => this.now, sweepPerPacket: 0 });
    const nat = new NatState(ct.capacity);
    nat.attach(ct);
    nat.setAddresses([{ ifId: wan, family: 4, bytes: Uint8Array.of(198, 51, 100, 1) }]);
    this.stage = new FilterStage(engine, ct, routes, new Float64Array(COUNTER_NAMES.length), undefined, nat);
  }

  /** Flow i: source 10.x.y.z, port 1024 + (i & 1023); rewritten in place, then parsed. */
  packet(i: number): PacketInfo {
    const b = this.buf;
    const host = (i >>> 10) + 1;
    b[12] = 10;
    b[13] = (host >>> 16) & 0xff;
    b[14] = (host >>> 8) & 0xff;
    b[15] = host & 0xff;
    const sport = 1024 + (i & 1023);
    b[20] = sport >>> 8;
    b[21] = sport & 0xff;
    parsePacket(this.info, b, 0, b.length, 0);
    return this.info;
  }
}

function rate(count: number, run: () => void): number {
  const t = process.hrtime.bigint();
  run();
  return count / (Number(process.hrtime.bigint() - t) / 1e9);
}

function setupRate(ruleset: string, nat: boolean): number {
  const r = new Rig(ruleset);
  const v = rate(NEW_FLOWS, () => {
    for (let i = 0; i < NEW_FLOWS; i++) r.stage.process(r.packet(i), r.now);
  });
  // Every flow must have been set up (none dropped for exhausted ports), or the figure lies.
  if (nat && r.stage.nat!.counts.bindings !== NEW_FLOWS) throw new Error(`nat bench: ${r.stage.nat!.counts.bindings} of ${NEW_FLOWS} flows got a binding`);
  return v;
}

function translateRate(ruleset: string): number {
  const r = new Rig(ruleset);
  for (let i = 0; i < EST_FLOWS; i++) r.stage.process(r.packet(i), r.now);
  return rate(EST_PACKETS, () => {
    for (let k = 0; k < EST_PACKETS; k++) r.stage.process(r.packet(k & (EST_FLOWS - 1)), r.now);
  });
}

export function runNatBench(): BenchResult[] {
  // Warm up both paths once (JIT), then measure.
  setupRate(MASQ, true);
  translateRate(MASQ);
  const plainNew: BenchResult = { name: 'nat-setup-baseline', value: setupRate(FILTER, false), unit: 'conn/s', note: 'new UDP flows, filter only (no NAT)' };
  const natNew: BenchResult = { name: 'nat-setup', value: setupRate(MASQ, true), unit: 'conn/s', note: 'new UDP flows masqueraded (port kept when free)' };
  const plainEst: BenchResult = { name: 'nat-translate-baseline', value: translateRate(FILTER), unit: 'pkt/s', note: `${EST_FLOWS} established flows, untranslated` };
  const natEst: BenchResult = { name: 'nat-translate', value: translateRate(MASQ), unit: 'pkt/s', note: `${EST_FLOWS} established flows, SNAT applied per packet` };
  return [plainNew, withRatio(natNew, plainNew), plainEst, withRatio(natEst, plainEst)];
}
