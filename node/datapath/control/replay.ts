/**
 * Offline replay: a capture file's packets go one by one through a fresh FilterStage
 * (rule engine + conntrack + route-derived interfaces), fed by the same BatchProcessor
 * that the packet loop uses, with the capture's timestamps as the clock. This is how a
 * ruleset and conntrack's verdicts are checked without root, a device or live traffic
 * (`hafw replay`, and the differential test against Linux's conntrack).
 *
 * Every packet is its own batch of one, so the per-batch work (conntrack expiry) runs
 * between packets as it would on a quiet link. Not a hot path: a record is copied into
 * a one-slot arena, which is the cost of reusing the datapath's loop unchanged.
 */
import { readCapture, type CaptureRecord } from '../../packet/pcap.js';
import { PacketInfo, ParseStatus } from '../../packet/packet-info.js';
import { parsePacket } from '../../packet/parse.js';
import { describePacket } from '../../packet/describe.js';
import { parseAddress, parsePrefix } from '../../packet/address.js';
import { RulesetEngine, type SourceMap } from '../../ruleset/index.js';
import { ConnTracker, CtState, type CtTimeouts } from '../../conntrack/index.js';
import { SlotVerdict } from '../../native/index.js';
import { BatchProcessor } from '../worker/batch-processor.js';
import { FilterStage } from '../worker/filter-stage.js';
import { LocalAddresses } from '../worker/local-addresses.js';
import { NatState } from '../worker/nat-state.js';
import { RouteInterfaces, type RouteEntry } from '../worker/route-interfaces.js';
import { C, COUNTER_NAMES, type CounterName } from '../shared/counters.js';
import { Verdict, type PacketStage } from '../worker/stage.js';
import { DefragStage } from '../worker/defrag-stage.js';

/** `pending`: a fragment held until its datagram is whole; the datagram's state is on the row of its last fragment. */
export type ReplayCtState = 'new' | 'established' | 'related' | 'invalid' | 'untracked' | 'pending';

/** Why a packet never reached the filter (it is dropped, as the datapath drops it). */
export type ReplaySkip = 'not-ip' | 'malformed' | 'unsupported' | 'stage-error' | 'fragment-refused';

export interface ReplayRow {
  /** 1-based position in the capture. */
  i: number;
  /** `held`: a fragment kept until its datagram is whole (see `datagram`). */
  verdict: 'accept' | 'drop' | 'held';
  /** True when the drop was a `reject` (the datapath would answer with a reset / unreachable). */
  reject?: boolean;
  ct: ReplayCtState;
  /** Capture time, ms since the epoch. */
  tsMs: number;
  /** Set when the packet was dropped before the filter saw it. */
  skipped?: ReplaySkip;
  /** On the fragment that completed a datagram: how many fragments it had (the verdict and ct are the datagram's, for all of them). */
  datagram?: number;
  /** One-line description of the packet (text output). */
  summary: string;
  /** With `local` addresses: the hooks the packet went through (input, output or forward). */
  path?: 'input' | 'output' | 'forward';
  /** When NAT changed the packet: the packet as it leaves (`summary` is the packet as it came). */
  translated?: string;
  /**
   * What gave the packet its last verdict: a rule (`chain` as FAMILY TABLE CHAIN, its
   * `handle` and `rule` text) or, with handle 0, a base chain's `policy`. Absent when no
   * chain saw the packet (no ruleset, no chain on its hooks, or dropped before the rules).
   */
  decidedBy?: { chain: string; handle: number; rule?: string; policy?: string };
  /** What `log` statements printed for the packet (prefix and nf_log-style line), in order. */
  log?: string[];
}

export interface ReplayRoute {
  /** "addr/len" (IPv4 or IPv6). */
  prefix: string;
  /** Interface name as rules see it (`iifname` / `oifname`). */
  ifname: string;
}

interface ReplayOptions {
  /** Ruleset text (nft syntax) or JSON; omitted: accept all, track all. */
  ruleset?: string;
  /** File name used in ruleset error positions. */
  rulesetFile?: string;
  /** Where the lines of a ruleset with expanded includes came from (includes.ts). */
  rulesetSources?: SourceMap;
  /** nf_conntrack_tcp_loose: pick up mid-stream TCP connections. */
  tcpLoose?: boolean;
  tcpBeLiberal?: boolean;
  /** Default 65536: a capture rarely holds more connections. */
  maxEntries?: number;
  /** Timeout overrides (ms). */
  timeouts?: Partial<CtTimeouts>;
  /** Routes that give packets their iif / oif (as the node derives them from its routing table). */
  routes?: ReplayRoute[];
  /** Fixed conntrack hash key (tests); default random as on the node. */
  hashKey?: Uint8Array;
  /**
   * The node's own addresses (the CLI's --local): packets to them take the input hook,
   * packets from them the output hook, as on the node. Omitted: every packet is forwarded.
   */
  local?: string[];
}

/** Parses `PREFIX=IFNAME` (the CLI's --route) into a ReplayRoute; throws a readable error. */
export function parseReplayRoute(text: string): ReplayRoute {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new Error(`route "${text}" must look like PREFIX=IFNAME (e.g. 192.0.2.0/24=lan)`);
  const prefix = text.slice(0, eq);
  parsePrefix(prefix, { strict: false });
  return { prefix, ifname: text.slice(eq + 1) };
}

const CT_NAMES: Record<number, ReplayCtState> = {
  [CtState.New]: 'new',
  [CtState.Established]: 'established',
  [CtState.Related]: 'related',
  [CtState.Invalid]: 'invalid',
  [CtState.Untracked]: 'untracked',
};

/** Wraps the filter stage to remember the conntrack state it gave the packet and what decided it. */
class RecordingStage implements PacketStage {
  state = 0;
  decidedChain = -1;
  decidedRule = 0;
  constructor(
    private readonly inner: FilterStage,
    private readonly ct: ConnTracker,
  ) {}
  process(pkt: PacketInfo, nowMs: number): Verdict {
    this.state = CtState.Invalid;
    const v = this.inner.process(pkt, nowMs);
    this.state = this.ct.result.state;
    const d = this.inner.decided;
    this.decidedChain = d.chain;
    this.decidedRule = d.rule;
    return v;
  }
  endBatch(nowMs: number): void {
    this.inner.endBatch(nowMs);
  }
}

/** One fresh offline datapath; feed it packets in capture order. */
export class OfflineReplay {
  readonly engine: RulesetEngine;
  readonly ct: ConnTracker;
  readonly counters = new Float64Array(COUNTER_NAMES.length);
  private readonly recording: RecordingStage;
  private readonly stage: DefragStage;
  private injected = 0;
  private arena = new Uint8Array(65536);
  private readonly lengths = new Int32Array(1);
  private readonly verdicts = new Uint8Array(1);
  private batch: BatchProcessor;
  private readonly info = new PacketInfo();
  private clock = 0;
  private n = 0;
  private showPath = false;

  /** Lines `log` statements wrote for the packet being fed. */
  private readonly logLines: string[] = [];

  constructor(opts: ReplayOptions = {}) {
    this.engine = new RulesetEngine({ clock: () => this.clock, log: { write: (l) => void this.logLines.push(`${l.prefix}${l.line}`) } });
    if (opts.ruleset !== undefined) this.engine.load(opts.ruleset, opts.rulesetFile ?? '<ruleset>', opts.rulesetSources);
    const routes = new RouteInterfaces();
    routes.load(
      (opts.routes ?? []).map((r): RouteEntry => {
        const p = parsePrefix(r.prefix, { strict: false });
        return { family: p.family as 4 | 6, prefix: p.bytes, len: p.len, ifId: this.engine.ifnames.idOf(r.ifname) };
      }),
    );
    this.ct = new ConnTracker({
      maxEntries: opts.maxEntries ?? 65536,
      tcpLoose: opts.tcpLoose ?? false,
      tcpBeLiberal: opts.tcpBeLiberal ?? false,
      timeouts: opts.timeouts ?? {},
      now: () => this.clock,
      ...(opts.hashKey ? { hashKey: opts.hashKey } : {}),
    });
    // NAT statements translate in a replay too. Masquerade and redirect need the address of
    // an interface: a --local address is taken as the address of the interface its --route
    // leads to (without one, they drop and count, as on a node without the address).
    const nat = new NatState(this.ct.capacity);
    nat.attach(this.ct);
    let local: LocalAddresses | undefined;
    if (opts.local !== undefined && opts.local.length > 0) {
      local = new LocalAddresses();
      const addrs = opts.local.map((text) => parseAddress(text));
      // Each on the interface its --route leads to (`fib daddr . iif type local` asks).
      local.load(addrs.map((a) => ({ ifname: this.engine.ifnames.nameOf(routes.lookup(a.bytes, 0, a.family as 4 | 6)) ?? '', family: a.family as 4 | 6, bytes: [...a.bytes], vip: false })));
      nat.setAddresses(addrs.flatMap((a) => {
        const ifId = routes.lookup(a.bytes, 0, a.family as 4 | 6);
        return ifId > 0 ? [{ ifId, family: a.family as 4 | 6, bytes: a.bytes }] : [];
      }));
      this.showPath = true;
    }
    this.recording = new RecordingStage(new FilterStage(this.engine, this.ct, routes, this.counters, undefined, nat, local), this.ct);
    // Fragments are put together as on the node; what it would write back is only counted.
    this.stage = new DefragStage(this.recording, this.counters, () => void this.injected++);
    this.batch = this.makeBatch();
  }

  private makeBatch(): BatchProcessor {
    return new BatchProcessor(this.arena, this.arena.length, this.lengths, this.verdicts, this.counters, 0, this.stage);
  }

  /** Runs one IP packet (starting with its IP header) captured at `tsMs`. */
  feed(ip: Uint8Array, tsMs: number): ReplayRow {
    this.n++;
    // The capture clock may go backwards (merged files); conntrack's clock must not.
    if (tsMs > this.clock) this.clock = tsMs;
    if (ip.length > this.arena.length) {
      this.arena = new Uint8Array(Math.max(ip.length, this.arena.length * 2));
      this.batch = this.makeBatch();
    }
    this.arena.set(ip, 0);
    this.lengths[0] = ip.length;
    const c = this.counters;
    const malformed = c[C.malformed]!;
    const unsupported = c[C.unsupported]!;
    const stageErrors = c[C.stage_errors]!;
    const rejects = c[C.verdict_reject]!;
    const toNode = c[C.to_node]!;
    const fromNode = c[C.from_node]!;
    const forwarded = c[C.forwarded]!;
    const frag = this.stage.reassembler.stats;
    const queued = frag.queued;
    const reassembled = frag.reassembled;
    const discarded = frag.discarded;
    const injected = this.injected;
    this.recording.state = CtState.Invalid;
    this.recording.decidedChain = -1;
    this.logLines.length = 0;
    parsePacket(this.info, ip, 0, ip.length, 0);
    const original = describe(this.info, ip.length);
    this.batch.process(1, this.clock);
    let skipped: ReplaySkip | undefined;
    if (c[C.malformed]! > malformed) skipped = 'malformed';
    else if (c[C.unsupported]! > unsupported) skipped = 'unsupported';
    else if (c[C.stage_errors]! > stageErrors) skipped = 'stage-error';
    parsePacket(this.info, this.arena, 0, this.lengths[0]!, 0);
    const row: ReplayRow = {
      i: this.n,
      verdict: this.verdicts[0] === SlotVerdict.Forward ? 'accept' : 'drop',
      ct: CT_NAMES[this.recording.state] ?? 'invalid',
      tsMs,
      summary: original,
    };
    if (row.verdict === 'accept') {
      const after = describe(this.info, this.lengths[0]!);
      if (after !== original) row.translated = after;
    }
    if (frag.reassembled > reassembled) {
      // This fragment completed its datagram: the row carries the datagram's fate.
      const sent = this.injected - injected;
      row.verdict = sent > 0 ? 'accept' : 'drop';
      row.datagram = sent > 0 ? sent : frag.discarded - discarded;
    } else if (frag.queued > queued) {
      row.verdict = 'held';
      row.ct = 'pending';
    } else if (!skipped && this.info.status === ParseStatus.Ok && this.info.isFragment) {
      skipped = 'fragment-refused';
    }
    if (c[C.verdict_reject]! > rejects) row.reject = true;
    if (this.recording.decidedChain >= 0 && row.verdict !== 'held') {
      const d = this.engine.describeDecision(this.recording.decidedChain, this.recording.decidedRule);
      if (d) row.decidedBy = d;
    }
    if (this.logLines.length > 0) row.log = this.logLines.slice();
    if (this.showPath) {
      if (c[C.to_node]! > toNode) row.path = 'input';
      else if (c[C.from_node]! > fromNode) row.path = 'output';
      else if (c[C.forwarded]! > forwarded) row.path = 'forward';
    }
    if (skipped) {
      row.skipped = skipped;
      // The datapath drops these before conntrack; Linux's IP layer drops them too.
      row.ct = 'invalid';
    }
    return row;
  }

  /** A frame that carries no IP packet (ARP, LLDP on an Ethernet capture): counted, dropped. */
  skip(tsMs: number): ReplayRow {
    this.n++;
    return { i: this.n, verdict: 'drop', ct: 'invalid', tsMs, skipped: 'not-ip', summary: 'not an IP packet' };
  }

  /** Counters of the run so far, by name. */
  counts(): Record<CounterName, number> {
    const out = {} as Record<CounterName, number>;
    COUNTER_NAMES.forEach((name, i) => (out[name] = this.counters[i]!));
    return out;
  }
}

function describe(info: PacketInfo, len: number): string {
  try {
    return describePacket(info);
  } catch {
    // describePacket assumes the addresses were reached; a header cut short before them is
    // still worth a line.
    return `ipv${info.family || '?'} packet of ${len} bytes, not parsed`;
  }
}

/** Runs a whole capture (pcap or pcapng bytes); CaptureFormatError names the byte offset. */
export function* replayCapture(bytes: Uint8Array, opts: ReplayOptions = {}, replay = new OfflineReplay(opts)): Generator<ReplayRow> {
  for (const rec of readCapture(bytes)) yield replayRecord(replay, rec);
}

function replayRecord(replay: OfflineReplay, rec: CaptureRecord): ReplayRow {
  const tsMs = Number(rec.tsNs / 1000n) / 1000;
  if (rec.l3Off < 0) return replay.skip(tsMs);
  return replay.feed(rec.data.subarray(rec.l3Off), tsMs);
}
