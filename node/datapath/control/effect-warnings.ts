/**
 * What a ruleset says that this datapath cannot make true: constructs the engine accepts
 * (they are valid nft and load everywhere) but that have no effect on a hafw node.
 * `hafw ruleset check` prints them, and the node logs them when it loads a ruleset, so
 * that an operator never believes a rule protects something it does not:
 *
 * - input/output rules about ICMPv6, VRRP or protocols the kernel keeps (kernel-plumbing.ts:
 *   only LOCAL_PROTOCOLS to and from the node go through the datapath);
 * - `oifname` in an input chain, `iifname` in an output chain (never set there, as in nft);
 * - `log flags all`, whose ether and skuid parts the log line cannot carry;
 * - with the node's config: interface names that are not protected (their traffic never
 *   reaches the datapath), in rules and in flowtables' `devices`.
 */
import { INET_PROTO, type ChainState, type RuleJ, type RulesetState, type Stmt } from '../../ruleset/index.js';
import { LOCAL_PROTOCOLS } from './kernel-plumbing.js';

const PROTO_LABEL: Record<number, string> = { 2: 'IGMP', 58: 'ICMPv6', 89: 'OSPF', 103: 'PIM', 112: 'VRRP' };
const FILTERED = new Set([...LOCAL_PROTOCOLS['-4'], ...LOCAL_PROTOCOLS['-6']].map(Number));

export interface EffectWarning {
  /** `table FAMILY NAME chain NAME [handle N]`. */
  where: string;
  message: string;
}

export interface EffectContext {
  /** datapath.interfaces of the node's config; unknown offline without --config. */
  interfaces?: readonly string[];
}

type Match = { op: string; left: Record<string, unknown>; right: unknown };

function matchesOf(r: RuleJ): Match[] {
  const out: Match[] = [];
  for (const s of r.expr as Stmt[]) {
    const m = (s as { match?: Match }).match;
    if (m && m.left !== null && typeof m.left === 'object') out.push(m);
  }
  return out;
}

function values(right: unknown): unknown[] {
  if (right !== null && typeof right === 'object' && Array.isArray((right as { set?: unknown[] }).set)) return (right as { set: unknown[] }).set;
  return [right];
}

/** Protocol numbers a rule's matches name (payload of icmpv6, l4proto / ip protocol / ip6 nexthdr values). */
function protocolsNamed(r: RuleJ): number[] {
  const out: number[] = [];
  for (const m of matchesOf(r)) {
    const p = m.left.payload as { protocol?: string; field?: string } | undefined;
    if (p?.protocol === 'icmpv6') out.push(58);
    const meta = m.left.meta as { key?: string } | undefined;
    const isL4 = meta?.key === 'l4proto' || (p?.protocol === 'ip' && p.field === 'protocol') || (p?.protocol === 'ip6' && p.field === 'nexthdr');
    if (!isL4 || m.op === '!=') continue;
    for (const v of values(m.right)) {
      const n = typeof v === 'number' ? v : typeof v === 'string' ? INET_PROTO.symbols?.get(v) : undefined;
      if (n !== undefined) out.push(n);
    }
  }
  return out;
}

function interfacesNamed(r: RuleJ, key: 'iifname' | 'oifname'): string[] {
  const out: string[] = [];
  for (const m of matchesOf(r)) {
    const meta = m.left.meta as { key?: string } | undefined;
    if (meta?.key !== key) continue;
    for (const v of values(m.right)) if (typeof v === 'string') out.push(v);
  }
  return out;
}

/** The warnings for a ruleset, in ruleset order. */
export function effectWarnings(state: RulesetState, ctx: EffectContext = {}): EffectWarning[] {
  const out: EffectWarning[] = [];
  const protectedIfs = ctx.interfaces ? new Set(ctx.interfaces) : undefined;
  for (const t of state.tables.values()) {
    for (const c of t.chains.values()) chainEffectWarnings(t.json.family, t.json.name, c, protectedIfs, out);
  }
  flowtableEffectWarnings(state, protectedIfs, out);
  return out;
}

/**
 * One chain's warnings (its rules', then its own), appended to out. They depend on the
 * chain alone (its table's name, its definition and rules) and on the protected
 * interfaces: a copy that follows commits recomputes only the chains a commit replaced
 * (effect-warnings-cache.ts).
 */
export function chainEffectWarnings(family: string, table: string, c: ChainState, protectedIfs: ReadonlySet<string> | undefined, out: EffectWarning[]): void {
  const hook = c.json.hook;
  const chainWhere = `table ${family} ${table} chain ${c.json.name}`;
  for (const r of c.rules) {
    const where = `${chainWhere} handle ${r.handle ?? '?'}`;
    if (hook === 'input' || hook === 'output') {
      for (const n of new Set(protocolsNamed(r))) {
        if (FILTERED.has(n)) continue;
        const name = PROTO_LABEL[n] ?? `protocol ${n}`;
        const why = n === 58 ? 'neighbour discovery needs it on its own interface' : n === 112 ? 'the failover engine\'s adverts' : 'only ICMP, TCP, UDP, SCTP, DCCP, UDP-Lite, GRE, ESP, AH and IP tunnels go through the datapath';
        out.push({ where, message: `${name} ${hook === 'input' ? 'to' : 'from'} the node is left to the kernel (${why}): this rule never sees such a packet, and no ${hook} rule can drop one` });
      }
      const wrongSide = hook === 'input' ? interfacesNamed(r, 'oifname') : interfacesNamed(r, 'iifname');
      if (wrongSide.length > 0) {
        out.push({ where, message: `${hook === 'input' ? 'oifname' : 'iifname'} in an ${hook} chain never matches: ${hook === 'input' ? 'a packet for the node has no output interface' : 'a packet from the node has no input interface'}` });
      }
    }
    if (protectedIfs) {
      for (const name of [...interfacesNamed(r, 'iifname'), ...interfacesNamed(r, 'oifname')]) {
        // A wildcard ("eth*") is fine when it covers at least one protected interface.
        const covered = name.endsWith('*') && !name.endsWith('\\*') ? [...protectedIfs].some((i) => i.startsWith(name.slice(0, -1))) : protectedIfs.has(name);
        if (!covered) out.push({ where, message: `interface "${name}" is not in datapath.interfaces: its traffic never reaches the filter, so this match never sees it` });
      }
    }
    for (const s of r.expr as Stmt[]) {
      const log = (s as { log?: { flags?: string[] } | null }).log;
      // `ether` and `skuid` alone are refused at load (modules/log.ts); `all` stays, as nft's word for "every detail".
      if (log?.flags?.includes('all')) out.push({ where, message: "log flags all: hafw's lines carry the TCP sequence, TCP options and IP options, but never the link-layer header (ether) nor the socket's owner (skuid): a packet read from the TUN device has neither" });
    }
  }
  if (dropsOwnTraffic(c)) {
    out.push({ where: chainWhere, message: `policy drop on ${hook}: ICMPv6 (neighbour discovery, ping6), VRRP and routing protocols ${hook === 'input' ? 'to' : 'from'} the node are left to the kernel and pass; so does traffic on interfaces not in datapath.interfaces (sync, management)` });
  }
}

/**
 * Flowtable devices that are not protected interfaces, after every chain's warnings. nft
 * refuses a device that does not exist; hafw cannot at load (one ruleset for every node,
 * and `hafw ruleset check` offline), so the node says it here: a connection through such
 * an interface never reaches the datapath, and is never offloaded.
 */
export function flowtableEffectWarnings(state: RulesetState, protectedIfs: ReadonlySet<string> | undefined, out: EffectWarning[]): void {
  if (!protectedIfs) return;
  for (const t of state.tables.values()) {
    for (const f of t.flowtables.values()) {
      for (const d of f.devices) {
        if (protectedIfs.has(d)) continue;
        out.push({ where: `table ${t.json.family} ${t.json.name} flowtable ${f.json.name}`, message: `device "${d}" is not in datapath.interfaces (nft refuses a device that does not exist): its traffic never reaches the datapath, so no connection through it is offloaded` });
      }
    }
  }
}

/** An input or output base chain (not nat) whose policy is drop. */
export function dropsOwnTraffic(c: ChainState): boolean {
  return (c.json.hook === 'input' || c.json.hook === 'output') && c.json.policy === 'drop' && c.json.type !== 'nat';
}

export interface ClusterSegment {
  /** datapath.interfaces. */
  interfaces: readonly string[];
  /** sync.interface, when sync runs. */
  syncInterface?: string;
}

/**
 * The cluster's own traffic on a protected interface: when sync.interface is one of
 * datapath.interfaces, unicast state sync and the ruleset-dist fetches to and from the
 * peers meet the input and output chains, and a `policy drop` there cuts them unless
 * allowed. (Multicast sync is left to the kernel; VRRP always is.)
 */
export function clusterSegmentWarnings(state: RulesetState, seg: ClusterSegment): string[] {
  if (!syncOnProtected(seg)) return [];
  const dropping: string[] = [];
  for (const t of state.tables.values()) {
    for (const c of t.chains.values()) if (dropsOwnTraffic(c)) dropping.push(`table ${t.json.family} ${t.json.name} chain ${c.json.name}`);
  }
  return clusterSegmentText(seg, dropping);
}

function syncOnProtected(seg: ClusterSegment): boolean {
  return seg.syncInterface !== undefined && seg.interfaces.includes(seg.syncInterface);
}

/** The warning for the dropping chains (`table F T chain C`, in ruleset order), if any. */
export function clusterSegmentText(seg: ClusterSegment, dropping: readonly string[]): string[] {
  if (!syncOnProtected(seg) || dropping.length === 0) return [];
  return [`sync.interface ${seg.syncInterface} is a protected interface: unicast state sync (sync.port) and ruleset distribution (ruleset.distPort) to and from the peers go through ${dropping.join(', ')} (policy drop); allow them from the peers' sync addresses, or give sync an interface of its own (recommended)`];
}
