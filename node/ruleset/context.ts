/**
 * What the datapath hands the compiled ruleset for each packet, and what it gets back.
 * One ClassifyContext is allocated per datapath and reused: the datapath fills the
 * inputs, calls `compiled.classify(ctx, hook)`, then acts on the verdict and on the
 * side-effect fields (reject, notrack, ct mark). Nothing here allocates per packet.
 */
import { PacketInfo } from '../packet/packet-info.js';
import type { FlowtableState } from './flowtables.js';
import type { NatRequest } from '../nat/request.js';
import { InterfaceNames } from './interface-names.js';

/**
 * Netfilter hook points. The TUN datapath sees only forwarded traffic, so it calls
 * Prerouting, Forward and Postrouting; chains on Input/Output are accepted by the
 * language (and compiled) but see no TUN traffic.
 */
export const enum Hook {
  Prerouting = 0,
  Input = 1,
  Forward = 2,
  Output = 3,
  Postrouting = 4,
}

/** Final verdict of a hook. Same numbers as the kernel's NF_DROP / NF_ACCEPT. */
export const enum Verdict {
  Drop = 0,
  Accept = 1,
}

/** What a `reject` statement asked for (ctx.reject); the datapath builds the packet. */
export const enum RejectKind {
  None = 0,
  /** TCP RST (RFC 9293 section 3.10.7.1). */
  TcpReset = 1,
  /** ICMP destination unreachable, code in ctx.rejectCode (RFC 792). */
  Icmp = 2,
  /** ICMPv6 destination unreachable, code in ctx.rejectCode (RFC 4443 section 3.1). */
  Icmpv6 = 3,
  /** Family-independent: ICMP or ICMPv6 by the packet's family, abstract code in ctx.rejectCode (IcmpxCode). */
  Icmpx = 4,
}

/** nft's icmpx codes (family independent), mapped by the datapath per family. */
export const enum IcmpxCode {
  NoRoute = 0,
  PortUnreachable = 1,
  HostUnreachable = 2,
  AdminProhibited = 3,
}

/**
 * The packet's conntrack entry, read only by the rules that ask (`ct original ip saddr`,
 * `ct reply proto-dst`, `ct expiration`): the datapath's tracker. dir 0 original, 1 reply;
 * end 0 source, 1 destination.
 */
export interface CtEntryReader {
  entryFamily(entry: number): number;
  tupleAddr(entry: number, dir: number, end: number, out: Uint32Array, off: number, words: number): void;
  tuplePort(entry: number, dir: number, end: number): number;
  remainingMs(entry: number, nowMs: number): number;
  /**
   * For `ct count`: whether the entry's slot holds a connection (confirmed or still pending
   * its first verdict), and its TCP state (TcpState numbers; 7 TIME_WAIT and 8 CLOSE are
   * closed, as the kernel's nf_conncount skips them). Absent: every counted entry is alive.
   */
  inUse?(entry: number): boolean;
  getTcpState?(entry: number): number;
}

/**
 * The MTU of the route the node would use towards an address (`rt mtu`): the route's own
 * `mtu` metric, else its device's MTU; 0 when no route is known.
 */
export interface RouteMtu {
  mtuTo(buf: Uint8Array, off: number, family: 4 | 6): number;
}

/**
 * The node's main routing table as the kernel's fib lookup answers it (`fib ... oif`): the
 * interface id of the route to an address, 0 when there is none or it rejects (blackhole,
 * unreachable, prohibit, throw).
 */
export interface FibRoutes {
  fibOif(buf: Uint8Array, off: number, family: 4 | 6): number;
}

/** The node's own addresses: `fib ... type local` (and the datapath's choice of path). */
export interface LocalAddressView {
  has(buf: Uint8Array, off: number, family: number): boolean;
  /** Is it an address of that interface (`fib daddr . iif type local`)? Absent: not known. */
  hasOn?(buf: Uint8Array, off: number, family: number, ifname: string): boolean;
}

const NO_NAMES = new InterfaceNames();

export class ClassifyContext {
  // ---- inputs ----
  pkt: PacketInfo = new PacketInfo();
  /** Input / output interface ids (InterfaceNames), 0 = unknown. */
  iif = 0;
  oif = 0;
  /** Whose ids iif/oif are: set by classify to the engine's (rules compare the names' bytes). */
  ifnames: InterfaceNames = NO_NAMES;
  /** nft ct state bits: invalid 1, established 2, related 4, new 8, untracked 64. */
  ctState = 0;
  /** IPS_* status bits. */
  ctStatus = 0;
  /** Direction of the packet in its connection: 0 original, 1 reply (when it has one). */
  ctDir = 0;
  /** The node's own addresses (`fib daddr type local`); null: none known. */
  localAddrs: LocalAddressView | null = null;
  /** The main table's routes (`fib ... oif|oifname`); null: not known (no value, like routeMtu). */
  fibRoutes: FibRoutes | null = null;
  /** Route MTUs (`rt mtu`); null: not known (no value, so a rule using it goes no further). */
  routeMtu: RouteMtu | null = null;
  /** The packet's conntrack entry (-1: none) and its reader (null: no conntrack). */
  ctEntry = -1;
  ctReader: CtEntryReader | null = null;
  /** Connection mark; `ct mark set` writes it and sets ctMarkSet. */
  ctMark = 0;
  /** The connection's helper (ct-helpers.ts: 0 none, 1 ftp); `ct helper set` writes it and sets ctHelperSet. */
  ctHelper = 0;
  /** Packet mark: read and written by rules, kept by the datapath with the packet. */
  metaMark = 0;
  /** Clock for limits and set timeouts (ms, any monotonic origin). */
  nowMs = 0;
  /**
   * Run `type nat` base chains. Netfilter consults nat chains only for the first packet
   * of a connection (the conntrack is not confirmed yet); the datapath sets this per packet.
   */
  natChains = true;
  /**
   * Tracing (`hafw trace`): bit 0 is `meta nftrace` (set by a rule), bit 1 a trace
   * session's filter chose the packet. Reset per packet by the datapath.
   */
  nftrace = 0;
  /**
   * Which nftrace bits are traced now (0: no trace session, the default): classify runs a
   * base chain through the tracer only when `nftrace & traceMask` is not 0, so nothing is
   * recorded, and almost nothing tested, while nobody traces.
   */
  traceMask = 0;
  /** Where traversed rules go while traced (set together with traceMask). */
  tracer: TraceSink | null = null;

  // ---- outputs (cleared by resetOutputs, which classify calls at each hook) ----
  reject: RejectKind = RejectKind.None;
  rejectCode = 0;
  /** `notrack`: do not create/track a conntrack entry for this packet. */
  notrack = false;
  /** `ct mark set` ran: write ctMark back to the conntrack entry. */
  ctMarkSet = false;
  /** `ct helper set` ran: the datapath gives the new connection ctHelper. */
  ctHelperSet = false;
  /** Handle of the rule that gave the final verdict, 0 when a policy did. */
  verdictRule = 0;
  /**
   * What decided the packet so far, across hooks (not cleared per hook: the datapath clears
   * them once per packet): the id of the chain whose rule (`decidedRule`, a handle) or, with
   * `decidedRule` 0, whose base-chain policy gave the last verdict; -1 when no chain has.
   * For `hafw replay` and its explanations; two stores per base chain run.
   */
  decidedChain = -1;
  decidedRule = 0;
  /**
   * What a snat / masquerade (natSrc) or dnat / redirect (natDst) statement asked for: a
   * request made at compile time (never per packet), or null. The datapath sets the
   * connection's NAT binding up from it (node/nat setupNat).
   */
  natSrc: NatRequest | null = null;
  natDst: NatRequest | null = null;
  /** `flow add @f` ran: the flowtable to offload the connection to (the datapath decides, flowtables.ts). */
  flowOffload: FlowtableState | null = null;

  resetOutputs(): void {
    this.flowOffload = null;
    this.natSrc = null;
    this.natDst = null;
    this.reject = RejectKind.None;
    this.rejectCode = 0;
    this.notrack = false;
    this.ctMarkSet = false;
    this.ctHelperSet = false;
    this.verdictRule = 0;
  }
}

/** nft's log levels (syslog's, and `audit`). */
export type LogLevel = 'emerg' | 'alert' | 'crit' | 'err' | 'warn' | 'notice' | 'info' | 'debug' | 'audit';

/**
 * One `log` line: the statement's prefix and level, the packet described as the kernel's
 * nf_log prints it (`line`: `IN=lan OUT=wan SRC=... PROTO=TCP SPT=... DPT=...`), and the
 * same values by name (`fields`: IN, OUT, SRC, DST, LEN, TTL, PROTO, SPT, DPT...; bare
 * words such as DF or SYN are gathered in IPFLAGS / TCPFLAGS).
 */
export interface LogLine {
  prefix: string;
  level: LogLevel;
  line: string;
  fields: Record<string, string>;
}

/**
 * Where `log` statements write. A statement first takes a token from its own limit, then
 * asks `admit` (the node-wide limit), and builds the line only when both agree.
 */
export interface LogSink {
  /** The node-wide limit; absent: every line the statements let through is written. */
  admit?(nowMs: number): boolean;
  /** A statement's own limit held a line back (counted, nothing built). */
  held?(): void;
  write(l: LogLine, ctx: ClassifyContext): void;
}

/**
 * Where the compiled ruleset reports a traced packet's way (like the kernel's nft_trace
 * events): each rule that matched and what it returned (`code`: a Code, jumps included),
 * the end of a chain reached without a verdict (`handle` 0, Code.Return), and a base
 * chain's policy (`handle` 0, `policy` true).
 */
export interface TraceSink {
  step(hook: number, chainId: number, handle: number, code: number, policy: boolean): void;
}
