/**
 * Test helper: one node's datapath side as in an active/active node (handoff.test,
 * defer.test): a strict forward ruleset, a table whose events go through the sync bridge into
 * a ring, the VRRP groups this node masters, and the filter stage over a lan/wan routing
 * table (192.0.2.0/24 on lan, the rest via wan). Not used by the node.
 */
import { parsePrefix } from '../../../inet/index.js';
import { RulesetEngine } from '../../ruleset/index.js';
import { ConnTracker } from '../../conntrack/index.js';
import { EventRing, syncClock } from '../../../sync-protocol/index.js';
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
