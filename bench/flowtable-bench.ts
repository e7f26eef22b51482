/**
 * The flowtable fast path against the slow path, offline, one process, through the
 * datapath's FilterStage (conntrack + masquerade), established UDP flows:
 *
 *   flowtable-slow     50 rules in the forward chain before the `ct state established
 *                      accept` that lets the flows through (the usual "many rules" case)
 *   flowtable-offload  the same ruleset with `flow add @f` first: after the flows are
 *                      offloaded their packets skip every chain (NAT still applied)
 *
 * Bounded: a fixed count of packets, well under a few seconds.
 */
import { buildUdp, parseBuilt } from '../node/packet/build.js';
import { C } from '../node/datapath/shared/counters.js';
import { rig, CLIENT, REMOTE, WAN_ADDR } from '../node/datapath/worker/testing.js';
import { withRatio, type BenchResult } from './report.js';

const RULES = 50;
const FLOWS = 64;
const PACKETS = 100_000;

function ruleset(offload: boolean): string {
  // Rules a packet of an established flow is compared against and passes (other ports).
  const filler = Array.from({ length: RULES }, (_, i) => `udp dport ${10000 + i} ip saddr 192.0.2.${(i % 250) + 1} drop`).join('\n    ');
  return `table ip nat { chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade } }
table inet filter {
  flowtable f { hook ingress priority filter; devices = { lan, wan }; }
  chain fw { type filter hook forward priority 0; policy drop;
    ${offload ? 'meta l4proto udp flow add @f' : ''}
    ${filler}
    ct state established accept
    iifname "lan" accept
  }
}`;
}

/** Packets per second of established flows (both directions) through the stage. */
function run(offload: boolean): { rate: number; fast: number } {
  const r = rig(ruleset(offload));
  const out = Array.from({ length: FLOWS }, (_, i) => buildUdp({ src: CLIENT, dst: REMOTE, sport: 20000 + i, dport: 53, payload: 100 }));
  const back = Array.from({ length: FLOWS }, (_, i) => buildUdp({ src: REMOTE, dst: WAN_ADDR, sport: 53, dport: 20000 + i, payload: 100 }));
  // Connections made and answered (which offloads them), JIT warmed a little.
  for (let k = 0; k < FLOWS; k++) r.stage.process(parseBuilt(out[k]!.slice()), r.tick());
  for (let k = 0; k < FLOWS; k++) r.stage.process(parseBuilt(back[k]!.slice()), r.tick());
  // Each packet is parsed from a fresh copy (NAT rewrites it); the copies are made first.
  const pkts = Array.from({ length: PACKETS }, (_, k) => parseBuilt(((k & 1) === 0 ? out : back)[(k >> 1) % FLOWS]!.slice()));
  const t = process.hrtime.bigint();
  for (let k = 0; k < PACKETS; k++) r.stage.process(pkts[k]!, r.tick());
  const rate = PACKETS / (Number(process.hrtime.bigint() - t) / 1e9);
  return { rate, fast: r.counters[C.flow_fastpath]! };
}

export function runFlowtableBench(): BenchResult[] {
  run(false);
  run(true);
  const slow = run(false);
  const fast = run(true);
  // Every measured packet must have taken the path the row names, or the figure lies.
  if (slow.fast !== 0 || fast.fast !== PACKETS) throw new Error(`flowtable bench: ${slow.fast} / ${fast.fast} fast-path packets`);
  const base: BenchResult = { name: 'flowtable-slow', value: slow.rate, unit: 'pkt/s', note: `established UDP, ${FLOWS} masqueraded flows, ${RULES} rules before the accept` };
  const off: BenchResult = { name: 'flowtable-offload', value: fast.rate, unit: 'pkt/s', note: 'the same flows offloaded (flow add @f): no chain evaluated, NAT applied' };
  return [base, withRatio(off, base)];
}
