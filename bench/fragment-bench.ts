/**
 * Fragment reassembly cost, offline, one process, through the datapath's DefragStage in
 * front of FilterStage (masquerade, established flows):
 *
 *   fragments-whole       4,000-byte UDP datagrams that arrive whole (the baseline)
 *   fragments-reassembled the same datagrams in three fragments each: held, put together,
 *                         judged and translated once, written back into the fragments
 *
 * Bounded: a fixed count of datagrams, well under a few seconds.
 */
import { buildUdp, fragmentPacket } from '../node/packet/build.js';
import { PacketInfo } from '../node/packet/packet-info.js';
import { parsePacket } from '../node/packet/parse.js';
import { DefragStage } from '../node/datapath/worker/defrag-stage.js';
import { rig, CLIENT, REMOTE } from '../node/datapath/worker/testing.js';
import { withRatio, type BenchResult } from './report.js';

const RULES = `table ip nat { chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade } }
table ip filter { chain fw { type filter hook forward priority 0; policy drop; ct state established accept; iifname "lan" accept } }`;
const FLOWS = 64;
const DATAGRAMS = 60_000;
const SIZE = 4000;

/** Datagrams per second through the stage, each flow's datagram as `pieces` packets. */
function run(fragmented: boolean): { rate: number; written: number; reassembled: number } {
  const r = rig(RULES);
  let written = 0;
  const stage = new DefragStage(r.stage, r.counters, () => void written++);
  const info = new PacketInfo();
  const flows = Array.from({ length: FLOWS }, (_, i) => {
    const whole = buildUdp({ src: CLIENT, dst: REMOTE, sport: 20000 + i, dport: 53, payload: SIZE - 28 });
    return fragmented ? fragmentPacket(whole, 1480, i) : [whole];
  });
  const send = (k: number) => {
    for (const p of flows[k % FLOWS]!) {
      parsePacket(info, p, 0, p.length, 0);
      stage.process(info, r.tick());
    }
  };
  for (let k = 0; k < FLOWS; k++) send(k); // connections made; JIT warmed a little
  const t = process.hrtime.bigint();
  for (let k = 0; k < DATAGRAMS; k++) send(k);
  const rate = DATAGRAMS / (Number(process.hrtime.bigint() - t) / 1e9);
  return { rate, written, reassembled: stage.reassembler.stats.reassembled };
}

export function runFragmentBench(): BenchResult[] {
  run(false);
  run(true);
  const whole = run(false);
  const frag = run(true);
  // Every datagram must have been put together and sent on, or the figure lies.
  if (frag.reassembled !== DATAGRAMS + FLOWS || frag.written !== 3 * (DATAGRAMS + FLOWS)) {
    throw new Error(`fragment bench: ${frag.reassembled} datagrams reassembled, ${frag.written} fragments written`);
  }
  const base: BenchResult = { name: 'fragments-whole', value: whole.rate, unit: 'dgram/s', note: `${SIZE}-byte UDP datagrams, ${FLOWS} masqueraded flows, arriving whole` };
  const re: BenchResult = { name: 'fragments-reassembled', value: frag.rate, unit: 'dgram/s', note: 'the same datagrams in 3 fragments each: held, put together, judged once, written back' };
  return [base, withRatio(re, base)];
}
