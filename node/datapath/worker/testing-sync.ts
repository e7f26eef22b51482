/**
 * Test helpers for a node's datapath side of sync. `bridgedTable`: a real table whose events
 * go through the sync bridge into the ring to the sync worker (sync-bridge.test,
 * drill-watch.test). `groupNodeParts`: the same as in an active/active node (handoff.test,
 * defer.test), with a strict forward ruleset, the VRRP groups this node masters, and the
 * filter stage over a lan/wan routing table (192.0.2.0/24 on lan, the rest via wan). Not
 * used by the node.
 */
import { parsePrefix } from '../../../inet/index.js';
import { RulesetEngine } from '../../ruleset/index.js';
import { parseBuilt } from '../../packet/build.js';
import { ConnTracker, type ConntrackOptions } from '../../conntrack/index.js';
import { EventRing, syncClock, type StateRecord } from '../../../sync-protocol/index.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import { FilterStage } from './filter-stage.js';
import { RouteInterfaces, type RouteEntry } from './route-interfaces.js';
import { SyncBridge } from './sync-bridge.js';

/** New connections only from the LAN; what the table knows passes. */
export const STRICT_FORWARD = `table inet filter { chain forward { type filter hook forward priority 0; policy drop;
  ct state established,related accept
  ct state invalid counter drop
  iifname "lan" ct state new accept
} }`;

export function groupNodeParts(groups: number[]) {
  const engine = new RulesetEngine({ clock: syncClock });
  engine.load(STRICT_FORWARD);
  const routes = new RouteInterfaces();
  routes.load([['192.0.2.0/24', 'lan'], ['0.0.0.0/0', 'wan']].map(([pfx, ifname]): RouteEntry => {
    const p = parsePrefix(pfx!, { strict: false });
    return { family: 4, prefix: p.bytes, len: p.len, ifId: engine.ifnames.idOf(ifname!), mtu: 0 };
  }));
  const ct = new ConnTracker({ maxEntries: 1024, now: syncClock });
  const ring = new EventRing(1024);
  const bridge = new SyncBridge(ct, ring);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  for (const g of groups) bridge.setMastered(g, true);
  const counters = new Float64Array(COUNTER_NAMES.length);
  const filter = new FilterStage(engine, ct, routes, counters, bridge);
  return { engine, ct, ring, bridge, counters, filter };
}

/**
 * A table on the sync clock (as in a node: replicas are stamped with it when applied), its
 * bridge and the ring to its sync worker; `send` runs a packet as the filter stage runs local
 * traffic, `records` takes the ring's records (copies: the ring reuses its slots), `receive`
 * applies a peer's records as the sync worker would.
 */
export function bridgedTable(ctOptions: Partial<ConntrackOptions> = {}, ringSlots = 256) {
  const ct = new ConnTracker({ maxEntries: 256, now: syncClock, ...ctOptions });
  const ring = new EventRing(ringSlots);
  const bridge = new SyncBridge(ct, ring);
  ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  return {
    ct,
    ring,
    bridge,
    send(p: Uint8Array): number {
      bridge.local = true;
      try {
        ct.track(parseBuilt(p), syncClock());
        ct.commit(true);
        return ct.result.entry;
      } finally {
        bridge.local = false;
      }
    },
    records(): StateRecord[] {
      const out: StateRecord[] = [];
      for (let r = ring.pop(); r !== undefined; r = ring.pop()) out.push({ ...r, origSrc: r.origSrc.slice(), origDst: r.origDst.slice(), replySrc: r.replySrc.slice(), replyDst: r.replyDst.slice() });
      return out;
    },
    receive(owner: number, recs: StateRecord[]): void {
      for (const r of recs) bridge.apply(owner, r, 0);
    },
  };
}
