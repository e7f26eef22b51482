/**
 * The node's own answers on redirected connections (`redirect`, and `dnat` to one of the
 * node's own addresses; docs/nat.md).
 *
 * A `redirect` sends a forwarded connection to a service on the node: the datapath
 * rewrites the destination and hands the packet to the kernel, which delivers it to the
 * local socket. The service's answers are the node's own traffic, and the kernel would
 * route them straight out of the LAN interface, past the TUN device: nothing would put
 * the server's address and port back as their source, and the client would drop them.
 * One `ip rule` per redirect target port range sends them into the TUN device instead:
 *
 *   iif lo ipproto tcp|udp sport P[-Q] lookup T     (iif lo: packets the node originates)
 *
 * The datapath finds the connection, translates the source back and writes the packet
 * into the TUN device again, and the kernel forwards it to the client like any other.
 * Multicast, broadcast and IPv6 link-local destinations are kept out (KEEP_OUT).
 *
 * The ports come from the committed ruleset (read again after every commit): the port of
 * `redirect to :PORT[-PORT]`, or, for a bare `redirect`, the rule's destination-port match
 * (the service answers from the port the client asked for). The protocols come from the
 * rule's `meta l4proto` / `ip protocol` / `ip6 nexthdr` / `tcp|udp dport` matches (both TCP
 * and UDP without one); the families from the table (both in an inet table).
 *
 * `dnat to ADDR[:PORT]` where ADDR is one of the node's addresses (a VIP while held) is a
 * redirect to that address, steered the same way while the address is the node's (the
 * daemon passes every change of the node's addresses). The rule cannot also say `from
 * ADDR`: the kernel routes an unconnected UDP socket's answer before it picks the source.
 *
 * A port used as a redirect (or dnat-to-self) target should belong to that service alone:
 * the node's other packets from it (e.g. answers to clients that connect to the service
 * directly) take the same path and are filtered as forwarded traffic. The datapath cannot
 * tell them from packets that arrive with a forged source address of the node's (the TUN
 * device hides where a packet came from), so it does not let them pass unfiltered.
 */
import type { RuleJ, RulesetState, Stmt } from '../ruleset/index.js';
import { ipOutput } from './iproute.js';
import { parseAddress } from '../packet/address.js';
import type { PlainAddress } from './local-addresses.js';

export interface SteerRule {
  fam: '-4' | '-6';
  proto: 'tcp' | 'udp';
  from: number;
  to: number;
}

export interface RedirectPorts {
  rules: SteerRule[];
  /** Redirects whose answers cannot be steered (no port known), for the log. */
  warnings: string[];
}

type PortRange = [number, number];

const PROTO_NAMES: Record<string, 'tcp' | 'udp'> = { tcp: 'tcp', udp: 'udp', '6': 'tcp', '17': 'udp' };

/** The node's own addresses, as the daemon reads them (`ip addr`, VIPs held now). */
export type OwnAddresses = readonly Pick<PlainAddress, 'family' | 'bytes'>[];

/**
 * The steering rules a ruleset needs, deduplicated and in a stable order: for every
 * `redirect`, and for every `dnat` to one of `own` addresses.
 */
export function redirectPorts(state: RulesetState, own: OwnAddresses = []): RedirectPorts {
  const out = new Map<string, SteerRule>();
  const warnings: string[] = [];
  const ownKeys = new Set(own.map((a) => `${a.family}/${a.bytes.join('.')}`));
  for (const t of state.tables.values()) {
    for (const c of t.chains.values()) {
      if (c.json.type !== 'nat') continue;
      for (const r of c.rules) {
        for (const stmt of r.expr) {
          if (stmt === null || typeof stmt !== 'object') continue;
          const where = `table ${t.json.family} ${t.json.name} chain ${c.json.name} handle ${r.handle ?? '?'}`;
          let fams: SteerRule['fam'][];
          let port: unknown;
          let kind: string;
          if ('redirect' in stmt) {
            kind = 'redirect';
            port = (stmt as { redirect: { port?: unknown } | null }).redirect?.port;
            fams = t.json.family === 'ip' ? ['-4'] : t.json.family === 'ip6' ? ['-6'] : ['-4', '-6'];
          } else if ('dnat' in stmt) {
            const body = (stmt as { dnat: { addr?: unknown; port?: unknown } | null }).dnat;
            const own4or6 = typeof body?.addr === 'string' ? ownFamily(body.addr, ownKeys) : 0;
            if (own4or6 === 0) continue;
            kind = `dnat to the node's own address ${body!.addr as string}`;
            port = body!.port;
            fams = [own4or6 === 4 ? '-4' : '-6'];
          } else continue;
          const ports = port !== undefined ? portRanges(port) : dportsOf(r);
          if (ports.length === 0) {
            warnings.push(`${where}: ${kind} without a port and without a destination-port match; its answers are not translated`);
            continue;
          }
          for (const fam of fams) {
            for (const proto of protocolsOf(r)) {
              for (const [from, to] of ports) out.set(`${fam} ${proto} ${from}-${to}`, { fam, proto, from, to });
            }
          }
        }
      }
    }
  }
  const rules = [...out.values()].sort((a, b) => a.fam.localeCompare(b.fam) || a.proto.localeCompare(b.proto) || a.from - b.from || a.to - b.to);
  return { rules, warnings };
}

/** 4 or 6 when `addr` (an address literal of the ruleset) is one of the node's own, else 0. */
function ownFamily(addr: string, ownKeys: Set<string>): 0 | 4 | 6 {
  if (ownKeys.size === 0) return 0;
  let a: { family: number; bytes: Uint8Array };
  try {
    a = parseAddress(addr);
  } catch {
    return 0;
  }
  return ownKeys.has(`${a.family}/${Array.from(a.bytes).join('.')}`) ? (a.family as 4 | 6) : 0;
}

/** A port value of the ruleset's JSON (number, range, or set of them) as ranges. */
function portRanges(v: unknown): PortRange[] {
  if (typeof v === 'number') return [[v, v]];
  if (v !== null && typeof v === 'object') {
    const o = v as { range?: unknown; set?: unknown };
    if (Array.isArray(o.range) && typeof o.range[0] === 'number' && typeof o.range[1] === 'number') return [[o.range[0], o.range[1]]];
    if (Array.isArray(o.set)) return o.set.flatMap((x) => portRanges(x));
  }
  return [];
}

function matchesOf(r: RuleJ): { op: string; left: Record<string, unknown>; right: unknown }[] {
  const out: { op: string; left: Record<string, unknown>; right: unknown }[] = [];
  for (const s of r.expr as Stmt[]) {
    const m = (s as { match?: { op: string; left: unknown; right: unknown } }).match;
    if (m && m.op !== '!=' && m.left !== null && typeof m.left === 'object') out.push(m as { op: string; left: Record<string, unknown>; right: unknown });
  }
  return out;
}

/** `tcp|udp|th dport` values of the rule (the ports a bare redirect keeps). */
function dportsOf(r: RuleJ): PortRange[] {
  for (const m of matchesOf(r)) {
    const p = m.left.payload as { protocol?: string; field?: string } | undefined;
    if (p && p.field === 'dport' && (p.protocol === 'tcp' || p.protocol === 'udp' || p.protocol === 'th')) return portRanges(m.right);
  }
  return [];
}

/** The transport protocols a rule can match (both when it does not say). */
function protocolsOf(r: RuleJ): ('tcp' | 'udp')[] {
  for (const m of matchesOf(r)) {
    const p = m.left.payload as { protocol?: string; field?: string } | undefined;
    if (p && (p.protocol === 'tcp' || p.protocol === 'udp')) return [p.protocol];
    const meta = m.left.meta as { key?: string } | undefined;
    const isL4 = (meta && meta.key === 'l4proto') || (p && ((p.protocol === 'ip' && p.field === 'protocol') || (p.protocol === 'ip6' && p.field === 'nexthdr')));
    if (isL4) {
      const vals = Array.isArray((m.right as { set?: unknown[] })?.set) ? (m.right as { set: unknown[] }).set : [m.right];
      const names = new Set<'tcp' | 'udp'>();
      for (const v of vals) {
        const n = PROTO_NAMES[String(v)];
        if (n) names.add(n);
      }
      return [...names].sort();
    }
  }
  return ['tcp', 'udp'];
}

/** `ip rule` selectors of one steering rule (without the family and the verb). */
export function steerRuleArgs(r: SteerRule, table: number, priority: number): string[] {
  const sport = r.from === r.to ? String(r.from) : `${r.from}-${r.to}`;
  return ['priority', String(priority), 'iif', 'lo', 'ipproto', r.proto, 'sport', sport, 'lookup', String(table)];
}

/**
 * Destinations the node's own packets never take through the TUN device, whatever their
 * port: multicast and broadcast (mDNS answers from 5353, say, when 5353 is also a
 * redirect target) and IPv6 link-local, which cannot be forwarded back out.
 */
export const KEEP_OUT: Record<SteerRule['fam'], string[]> = {
  '-4': ['224.0.0.0/4', '255.255.255.255/32'],
  '-6': ['ff00::/8', 'fe80::/10'],
};

/** One `ip rule` (family and selectors). */
export interface IpRule {
  fam: SteerRule['fam'];
  args: string[];
}

/**
 * Every `ip rule` the steering needs: per family with a redirect, the KEEP_OUT rules one
 * priority before (at the `local` table's priority, after it) and one rule per range.
 */
export function steeringIpRules(rules: SteerRule[], table: number, priority: number): IpRule[] {
  const out: IpRule[] = [];
  for (const fam of ['-4', '-6'] as const) {
    const mine = rules.filter((r) => r.fam === fam);
    if (mine.length === 0) continue;
    for (const to of KEEP_OUT[fam]) out.push({ fam, args: ['priority', String(priority - 1), 'iif', 'lo', 'to', to, 'lookup', 'main'] });
    for (const r of mine) out.push({ fam, args: steerRuleArgs(r, table, priority) });
  }
  return out;
}

export interface SteeringLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Keeps the kernel's steering rules equal to what the ruleset needs. Updates are queued
 * (one `ip` change at a time, in commit order); a failed `ip` call is logged and retried
 * with the next update.
 */
export class RedirectSteering {
  private readonly installed = new Map<string, IpRule>();
  private queue: Promise<void> = Promise.resolve();
  private lastWarnings = '';
  private started = false;
  private state?: RulesetState;
  private own: OwnAddresses = [];

  constructor(
    private readonly table: number,
    private readonly priority: number,
    private readonly log: SteeringLog,
  ) {}

  /** Makes the kernel's rules match the ruleset (after removing any left by an earlier run). */
  update(state: RulesetState): Promise<void> {
    this.state = state;
    const want = redirectPorts(state, this.own);
    const w = want.warnings.join('\n');
    if (w !== this.lastWarnings) for (const line of want.warnings) this.log.warn({ redirect: line }, 'redirect answers cannot be steered');
    this.lastWarnings = w;
    const rules = steeringIpRules(want.rules, this.table, this.priority);
    this.queue = this.queue.then(() => this.sync(rules));
    return this.queue;
  }

  /**
   * The node's addresses changed (a VIP taken or given up, an address added): `dnat` to
   * an own address is steered only while the address is the node's. The daemon calls it
   * on changes only.
   */
  setAddresses(own: OwnAddresses): Promise<void> {
    this.own = own;
    return this.state === undefined ? this.queue : this.update(this.state);
  }

  /** Removes every steering rule of this table (also ones an earlier run left). */
  clear(): Promise<void> {
    this.queue = this.queue.then(async () => {
      this.installed.clear();
      await this.removeStale();
    });
    return this.queue;
  }

  private async sync(want: IpRule[]): Promise<void> {
    if (!this.started) {
      this.started = true;
      await this.removeStale();
    }
    const keyOf = (r: IpRule) => `${r.fam} ${r.args.join(' ')}`;
    const wanted = new Map(want.map((r) => [keyOf(r), r]));
    let changed = false;
    try {
      for (const [k, r] of this.installed) {
        if (wanted.has(k)) continue;
        await ipOutput([r.fam, 'rule', 'del', ...r.args]);
        this.installed.delete(k);
        changed = true;
      }
      for (const [k, r] of wanted) {
        if (this.installed.has(k)) continue;
        await ipOutput([r.fam, 'rule', 'add', ...r.args]);
        this.installed.set(k, r);
        changed = true;
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'redirect steering rules not updated');
      return;
    }
    if (changed) this.log.info({ rules: [...this.installed.keys()] }, 'ip rules for redirect answers updated');
  }

  /** Deletes rules of the steering's shapes for our table and priorities, whoever added them. */
  private async removeStale(): Promise<void> {
    for (const fam of ['-4', '-6'] as const) {
      type Listed = { priority?: number; iif?: string; ipproto?: string; sport?: number; sport_start?: number; sport_end?: number; dst?: string; dstlen?: number; table?: string };
      let list: Listed[];
      try {
        list = JSON.parse(await ipOutput(['-j', fam, 'rule', 'show'])) as Listed[];
      } catch {
        continue;
      }
      for (const e of list) {
        if (e.iif !== 'lo') continue;
        let args: string[] | undefined;
        if (e.table === String(this.table) && (e.ipproto === 'tcp' || e.ipproto === 'udp')) {
          const from = e.sport ?? e.sport_start;
          const to = e.sport ?? e.sport_end;
          if (from !== undefined && to !== undefined) args = steerRuleArgs({ fam, proto: e.ipproto, from, to }, this.table, e.priority ?? this.priority);
        } else if (e.table === 'main' && e.priority === this.priority - 1 && KEEP_OUT[fam].includes(`${e.dst}/${e.dstlen}`)) {
          args = ['priority', String(e.priority), 'iif', 'lo', 'to', `${e.dst}/${e.dstlen}`, 'lookup', 'main'];
        }
        if (args) await ipOutput([fam, 'rule', 'del', ...args]).catch(() => undefined);
      }
    }
  }
}
