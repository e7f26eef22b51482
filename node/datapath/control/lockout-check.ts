/**
 * Would this ruleset lock the operator out? A new TCP connection from each management
 * source to the management listener, and the node's answer, go through a scratch copy of
 * the datapath's filter (the ruleset's input and output chains, fresh conntrack) exactly
 * as the packets would on the node. `hafw ruleset check --config` and every ruleset change
 * on a running node report what the probes found (a ruleset must not cut the
 * traffic the node's own config needs without the operator being told).
 */
import { buildTcp, parseBuilt } from '../../packet/build.js';
import { formatAddress, parseAddress, parsePrefix } from '../../packet/address.js';
import type { RulesetEngine } from '../../ruleset/index.js';
import { ConnTracker } from '../../conntrack/index.js';
import { FilterStage } from '../worker/filter-stage.js';
import { LocalAddresses } from '../worker/local-addresses.js';
import { RouteInterfaces } from '../worker/route-interfaces.js';
import type { PlainAddress, PlainRoute } from '../shared/messages.js';
import { COUNTER_NAMES } from '../shared/counters.js';
import { Verdict } from '../worker/stage.js';

export interface LockoutProbe {
  /** The management listener (api.listen). */
  listen: { host: string; port: number };
  /** datapath.managementSources (prefixes); none: a client from anywhere. */
  sources: readonly string[];
  /** The node's addresses (online: `ip addr`; offline: the listener's own address, if specific). */
  addresses: readonly PlainAddress[];
  /** Main routes giving iif/oif (online); offline none. */
  routes?: readonly PlainRoute[];
  /** datapath.interfaces: only traffic of these reaches the filter. */
  interfaces: readonly string[];
}

/** Stand-ins when the config names no source: any client (documentation addresses). */
const ANY_CLIENT = { 4: '203.0.113.254', 6: '2001:db8:ffff::fe' } as const;
const PROBE_PORT = 40123;

const WILDCARD = new Set(['0.0.0.0', '::', '']);

/** Warnings, one per (source, listener address) the ruleset would cut. Empty: reachable. */
export function lockoutWarnings(engine: RulesetEngine, p: LockoutProbe): string[] {
  const targets = WILDCARD.has(p.listen.host)
    ? p.addresses.filter((a) => !a.vip && !(a.family === 6 && a.bytes[0] === 0xfe && (a.bytes[1]! & 0xc0) === 0x80))
    : p.addresses.filter((a) => formatAddress(Uint8Array.from(a.bytes)) === formatAddress(parseAddress(p.listen.host).bytes));
  // A listener on an address of an unprotected interface (the management segment) is never
  // filtered; an address of no known interface (offline) is checked as if protected.
  const filtered = targets.filter((a) => p.interfaces.includes(a.ifname) || a.ifname === '');
  if (filtered.length === 0) return [];
  const routes = new RouteInterfaces();
  routes.load((p.routes ?? []).map((r) => ({ family: r.family, prefix: Uint8Array.from(r.prefix), len: r.len, ifId: r.reject === true ? 0 : engine.ifnames.idOf(r.ifname), reject: r.reject === true })));
  const local = new LocalAddresses();
  local.load(p.addresses);
  const out: string[] = [];
  for (const t of filtered) {
    const dst = formatAddress(Uint8Array.from(t.bytes));
    const sources = p.sources.length > 0 ? p.sources.map(firstAddress).filter((s) => parseAddress(s).family === t.family) : [ANY_CLIENT[t.family]];
    for (const src of sources) {
      const r = probe(engine, routes, local, src, dst, p.listen.port);
      if (r !== null) out.push(`the management listener ${dst.includes(':') ? `[${dst}]` : dst}:${p.listen.port} would not be reachable from ${src}${p.sources.length === 0 ? ' (any client: no datapath.managementSources set)' : ''}: ${r} (allow it in the input chain, e.g. \`tcp dport ${p.listen.port} accept\`)`);
    }
  }
  return out;
}

/** null when a handshake passes both ways, else what stopped it. */
function probe(engine: RulesetEngine, routes: RouteInterfaces, local: LocalAddresses, src: string, dst: string, port: number): string | null {
  let now = 1;
  const ct = new ConnTracker({ maxEntries: 16, now: () => now });
  const stage = new FilterStage(engine, ct, routes, new Float64Array(COUNTER_NAMES.length), undefined, undefined, local);
  const steps: [Uint8Array, string][] = [
    [buildTcp({ src, dst, sport: PROBE_PORT, dport: port, flags: 'S', seq: 1, window: 64240 }), 'the input chain drops a new connection to it'],
    [buildTcp({ src: dst, dst: src, sport: port, dport: PROBE_PORT, flags: 'SA', seq: 100, ack: 2, window: 64240 }), 'the output chain drops the node\'s answer'],
    [buildTcp({ src, dst, sport: PROBE_PORT, dport: port, flags: 'A', seq: 2, ack: 101, window: 64240 }), 'the input chain drops the connection once established'],
  ];
  for (const [pkt, why] of steps) {
    now += 1;
    if (stage.process(parseBuilt(pkt), now) !== Verdict.Accept) return why;
  }
  return null;
}

/** A host address inside a prefix: the address itself for a host prefix, else the first after the network's. */
function firstAddress(prefix: string): string {
  const p = parsePrefix(prefix, { strict: false });
  const max = p.family === 4 ? 32 : 128;
  const b = Uint8Array.from(p.bytes);
  if (p.len < max) b[b.length - 1] = (b[b.length - 1]! | 1) & 0xff;
  return formatAddress(b);
}
