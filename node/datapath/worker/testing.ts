/**
 * Test helper: a FilterStage with conntrack and NAT behind a small routing table (lan
 * 10.0.0.0/24, wan 198.51.100.0/24 and the default route), on a clock that ticks once per
 * packet. Not used by the node.
 */
import { parseAddress, parsePrefix } from '../../packet/address.js';
import { parseBuilt } from '../../packet/build.js';
import { PacketInfo } from '../../packet/packet-info.js';
import { parsePacket } from '../../packet/parse.js';
import { RulesetEngine } from '../../ruleset/index.js';
import { ConnTracker, type ConntrackOptions } from '../../conntrack/index.js';
import { FilterStage } from './filter-stage.js';
import { NatState } from './nat-state.js';
import { RouteInterfaces, type RouteEntry } from './route-interfaces.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import type { Verdict } from './stage.js';

export const LAN_ADDR = '10.0.0.1';
export const WAN_ADDR = '198.51.100.2';
export const CLIENT = '10.0.0.5';
export const REMOTE = '203.0.113.9';
/** IPv6: the LAN is 2001:db8:1::/64, the WAN 2001:db8:2::/64, the rest of the world via the WAN. */
export const LAN6_PREFIX = '2001:db8:1::';
const LAN6_ADDR = '2001:db8:1::1';
export const WAN6_ADDR = '2001:db8:2::2';
export const REMOTE6 = '2001:db8:99::9';

export interface Rig {
  stage: FilterStage;
  ct: ConnTracker;
  nat: NatState;
  counters: Float64Array;
  engine: RulesetEngine;
  /** `room`: free bytes after the packet in its buffer (0: none, as parseBuilt gives it). */
  send(pkt: Uint8Array, room?: number): { v: Verdict; p: PacketInfo };
  /** Advances the clock by 1 ms and returns it (send() does this for each packet). */
  tick(): number;
}

export function rig(ruleset: string, ctOptions: Partial<ConntrackOptions> = {}): Rig {
  let now = 1000;
  const engine = new RulesetEngine({ clock: () => now });
  engine.load(ruleset);
  const routes = new RouteInterfaces();
  const table: [string, string, string | undefined][] = [
    ['10.0.0.0/24', 'lan', LAN_ADDR],
    ['198.51.100.0/24', 'wan', WAN_ADDR],
    ['0.0.0.0/0', 'wan', undefined],
    [`${LAN6_PREFIX}/64`, 'lan', LAN6_ADDR],
    ['2001:db8:2::/64', 'wan', WAN6_ADDR],
    ['::/0', 'wan', undefined],
  ];
  routes.load(table.map(([pfx, ifname]): RouteEntry => {
    const p = parsePrefix(pfx, { strict: false });
    return { family: p.bytes.length === 16 ? 6 : 4, prefix: p.bytes, len: p.len, ifId: engine.ifnames.idOf(ifname) };
  }));
  const ct = new ConnTracker({ maxEntries: 1024, now: () => now, ...ctOptions });
  const nat = new NatState(ct.capacity, { key: [1, 2] });
  nat.attach(ct);
  nat.setAddresses(table.filter((r) => r[2] !== undefined).map(([, ifname, a]) => {
    const bytes = parseAddress(a!).bytes;
    return { ifId: engine.ifnames.idOf(ifname), family: bytes.length === 16 ? 6 : 4, bytes };
  }));
  const counters = new Float64Array(COUNTER_NAMES.length);
  const stage = new FilterStage(engine, ct, routes, counters, undefined, nat);
  return {
    stage, ct, nat, counters, engine,
    tick: () => (now += 1),
    send(pkt, room = 0) {
      now += 1;
      let p: PacketInfo;
      if (room === 0) p = parseBuilt(pkt);
      else {
        // In a slot with `room` bytes after the packet, as the batch reader gives it (a helper may grow it).
        const buf = new Uint8Array(pkt.length + room);
        buf.set(pkt);
        p = new PacketInfo();
        parsePacket(p, buf, 0, pkt.length, 0);
        p.maxEnd = buf.length;
      }
      const v = stage.process(p, now);
      return { v, p };
    },
  };
}

