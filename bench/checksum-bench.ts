/**
 * What conntrack's checksum check costs, offline, one process, through FilterStage
 * (stateful forward chain, established TCP flows), per packet size:
 *
 *   checksum-trusted-N   N-byte segments whose virtio-net header says DataValid (the NIC
 *                        checked; what a node reads from its TUN device for most traffic)
 *   checksum-verified-N  the same segments behind an all-zero header (CHECKSUM_NONE): the
 *                        datapath sums every byte before tracking, as Linux does then
 *
 * Bounded: a fixed count of packets, a few seconds in all.
 */
import { buildTcp } from '../node/packet/build.js';
import { PacketInfo, VnetFlags } from '../node/packet/packet-info.js';
import { parsePacket } from '../node/packet/parse.js';
import { rig, CLIENT, REMOTE } from '../node/datapath/worker/testing.js';
import { Verdict } from '../node/datapath/worker/stage.js';
import { withRatio, type BenchResult } from './report.js';

const RULES = `table inet filter { chain fw { type filter hook forward priority 0; policy drop;
  ct state established accept
  ct state invalid drop
  iifname "lan" tcp flags syn accept
} }`;
const FLOWS = 64;
const PACKETS = 300_000;

function run(size: number, trusted: boolean): number {
  const r = rig(RULES);
  const info = new PacketInfo();
  const vnet = { flags: trusted ? VnetFlags.DataValid : 0 };
  const flows = Array.from({ length: FLOWS }, (_, i) => {
    const sport = 30000 + i;
    const syn = buildTcp({ src: CLIENT, dst: REMOTE, sport, dport: 443, flags: 'S', seq: 1, vnet });
    const synAck = buildTcp({ src: REMOTE, dst: CLIENT, sport: 443, dport: sport, flags: 'SA', seq: 9, ack: 2, window: 65535, vnet });
    const data = buildTcp({ src: CLIENT, dst: REMOTE, sport, dport: 443, flags: 'A', seq: 2, ack: 10, window: 65535, payload: size - 40, vnet });
    return { syn, synAck, data };
  });
  const send = (p: Uint8Array): Verdict => {
    parsePacket(info, p, 0, p.length, 10);
    return r.stage.process(info, r.tick());
  };
  for (const f of flows) {
    send(f.syn);
    send(f.synAck);
  }
  // The same in-window segment again and again: established every time (the figure would lie otherwise).
  if (send(flows[0]!.data) !== Verdict.Accept) throw new Error('checksum bench: the segment was not accepted');
  const t = process.hrtime.bigint();
  for (let k = 0; k < PACKETS; k++) send(flows[k % FLOWS]!.data);
  return PACKETS / (Number(process.hrtime.bigint() - t) / 1e9);
}

export function runChecksumBench(): BenchResult[] {
  const out: BenchResult[] = [];
  for (const size of [64, 1500]) {
    run(size, true);
    run(size, false);
    const trusted: BenchResult = { name: `checksum-trusted-${size}`, value: run(size, true), unit: 'pkt/s', note: `${size}-byte TCP segments of ${FLOWS} established flows, virtio DataValid: not summed` };
    const verified: BenchResult = { name: `checksum-verified-${size}`, value: run(size, false), unit: 'pkt/s', note: 'the same behind an all-zero virtio header: every byte summed before tracking' };
    out.push(trusted, withRatio(verified, trusted));
  }
  return out;
}
