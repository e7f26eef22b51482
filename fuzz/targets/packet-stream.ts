/**
 * The input format of the datapath targets: a sequence of packets, so that conntrack, NAT
 * and reassembly see a flow and not one packet. Byte 0 picks the virtio header length the
 * TUN device would give (0, 10 or 12); then each packet is a 16-bit big-endian length and
 * its bytes (the last one takes what is left when its length runs past the end).
 */
import { PacketInfo, ParseStatus } from '../../node/packet/packet-info.js';
import { parsePacket } from '../../node/packet/parse.js';
import { RulesetEngine } from '../../node/ruleset/index.js';
import { ConnTracker } from '../../node/conntrack/index.js';
import { parseAddress, parsePrefix } from '../../node/packet/address.js';
import { FilterStage } from '../../node/datapath/worker/filter-stage.js';
import { NatState } from '../../node/datapath/worker/nat-state.js';
import { RouteInterfaces, type RouteEntry } from '../../node/datapath/worker/route-interfaces.js';
import { COUNTER_NAMES } from '../../node/datapath/shared/counters.js';
import type { PacketStage } from '../../node/datapath/worker/stage.js';

const VERDICTS = ['drop', 'accept', 'reject', 'stolen'];

const VNET_LENGTHS = [0, 10, 12] as const;
/** At most this many packets of one input go through the stage. */
const MAX_PACKETS = 64;

export function packetStream(vnetMode: number, packets: readonly Uint8Array[]): Uint8Array {
  let n = 1;
  for (const p of packets) n += 2 + p.length;
  const out = new Uint8Array(n);
  out[0] = vnetMode;
  let at = 1;
  for (const p of packets) {
    out[at] = p.length >> 8;
    out[at + 1] = p.length & 0xff;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}

function* packetsOf(input: Uint8Array): Generator<{ vnetLen: number; bytes: Uint8Array }> {
  if (input.length === 0) return;
  const vnetLen = VNET_LENGTHS[input[0]! % 3]!;
  let at = 1;
  for (let i = 0; i < MAX_PACKETS && at < input.length; i++) {
    const len = at + 1 < input.length ? (input[at]! << 8) | input[at + 1]! : 0;
    const start = at + 2;
    const end = Math.min(input.length, start + len);
    // A copy per packet, with room the way a slot of the arena has it: NAT rewrites in place.
    yield { vnetLen, bytes: input.slice(start, end) };
    at = end;
  }
}

/** Lan 10.0.0.0/24 and 2001:db8:1::/64, wan 198.51.100.0/24, 2001:db8:2::/64 and the default routes. */
const LAN = '10.0.0.1';
const WAN = '198.51.100.2';

/** A filter stage with conntrack and NAT behind a small routing table (fresh state per input). */
export function filterRig(engine: RulesetEngine): { stage: FilterStage; counters: Float64Array; ct: ConnTracker; tick: () => number } {
  let now = 1000;
  const routes = new RouteInterfaces();
  const table: [string, string, string | undefined][] = [
    ['10.0.0.0/24', 'lan', LAN],
    ['198.51.100.0/24', 'wan', WAN],
    ['0.0.0.0/0', 'wan', undefined],
    ['2001:db8:1::/64', 'lan', '2001:db8:1::1'],
    ['2001:db8:2::/64', 'wan', '2001:db8:2::1'],
    ['::/0', 'wan', undefined],
  ];
  routes.load(table.map(([pfx, ifname]): RouteEntry => {
    const p = parsePrefix(pfx, { strict: false });
    return { family: p.bytes.length === 4 ? 4 : 6, prefix: p.bytes, len: p.len, ifId: engine.ifnames.idOf(ifname) };
  }));
  const ct = new ConnTracker({ maxEntries: 256, now: () => now });
  const nat = new NatState(ct.capacity, { key: [1, 2] });
  nat.attach(ct);
  nat.setAddresses(table.filter((r) => r[2] !== undefined).map(([, ifname, a]) => {
    const b = parseAddress(a!).bytes;
    return { ifId: engine.ifnames.idOf(ifname), family: b.length === 4 ? 4 : 6, bytes: b };
  }));
  const counters = new Float64Array(COUNTER_NAMES.length);
  const stage = new FilterStage(engine, ct, routes, counters, undefined, nat);
  return { stage, counters, ct, tick: () => (now += 1) };
}

/**
 * Runs a stream through `stage` as the batch loop does (batch-processor.ts): parse each
 * packet, drop what does not parse, hand the rest to the stage; one batch, then endBatch.
 * Unlike the loop, an exception from the stage is not swallowed: it is the finding.
 */
export function runStream(input: Uint8Array, stage: PacketStage, tick: () => number): string {
  const info = new PacketInfo();
  const seen = new Set<string>();
  let n = 0;
  for (const { vnetLen, bytes } of packetsOf(input)) {
    n++;
    const st = parsePacket(info, bytes, 0, bytes.length, vnetLen);
    if (st !== ParseStatus.Ok) {
      seen.add(`parse ${st}`);
      continue;
    }
    const v = stage.process(info, tick());
    seen.add(`${info.family}/${info.l4proto}${info.isFragment ? 'f' : ''}:${VERDICTS[v] ?? v}`);
  }
  stage.endBatch?.(tick());
  return [...seen].sort().join(' ') || `empty ${n}`;
}
