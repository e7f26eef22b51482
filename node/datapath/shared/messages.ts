/** Messages between the control thread and the datapath thread. */
import type { ReassemblyLimits } from '../worker/reassembly.js';
import type { CtEventOut, CtEventSubscriber, CtImportEntry, CtImportResult, CtOp, CtOpResult } from '../../conntrack/index.js';
import type { LogLine, TraceRecordOut, TraceSession } from '../../ruleset/index.js';
import type { RulesetLogSettings } from '../worker/log-collector.js';
import type { DrillWatchResult } from '../worker/drill-watch.js';
import type { ThreadNiceOutcome } from '../worker/thread-priority.js';
import type { SyncConfig, SyncStatusSnapshot, UdpTransportOptions } from '../../../sync-protocol/index.js';

/**
 * One of the node's own addresses (control thread: `ip addr`; datapath: LocalAddresses and
 * masquerade's source).
 */
export interface PlainAddress {
  ifname: string;
  family: 4 | 6;
  bytes: number[];
  /** A VRRP virtual IP this node holds now. */
  vip: boolean;
}

/** A main-table route (control thread: `ip route`, route-source.ts; datapath: RouteInterfaces). */
export interface PlainRoute {
  family: 4 | 6;
  prefix: number[];
  len: number;
  ifname: string;
  /**
   * The route's preferred source (`src` of a connected route): the interface's own
   * address, which masquerade and redirect use.
   */
  src?: number[];
  /** The route's `mtu` metric, else its device's MTU (`rt mtu`); absent when not known. */
  mtu?: number;
  /** A blackhole / unreachable / prohibit / throw route (ifname ''): `fib` finds no route there. */
  reject?: boolean;
}

export interface DatapathSyncSettings {
  config: SyncConfig;
  transport: UdpTransportOptions;
  /** Slots of the datapath -> sync worker event ring. */
  ringSlots: number;
  /** Labels on the sync worker's metrics (the node's name). */
  metricLabels: Record<string, string>;
  /** Hand packets of other groups' connections to their owner on this UDP port (worker/handoff.ts); absent: off. */
  handoffPort?: number;
  /** Packets a second each peer may hand to this node (sync.handoffRate; 0: no cap). */
  handoffRate?: number;
  /** Hold new connections' first packets until the peers acknowledged them, at most this long (ms; worker/defer.ts); absent: off. */
  deferMs?: number;
}

export interface SyncReport {
  inSync: boolean;
  metrics: unknown;
  status: SyncStatusSnapshot;
  peers: unknown;
  bridge: Record<string, number>;
  ringDepth: number;
  ringDrops: number;
}

export interface DatapathConntrackSettings {
  maxEntries: number;
  tcpLoose: boolean;
  tcpBeLiberal: boolean;
  /** conntrack.checksum (nf_conntrack_checksum); absent means true. */
  checksum?: boolean;
  /** conntrack.prefaultIndex (absent: true). */
  prefaultIndex?: boolean;
  /** Linux-style timeout overrides in seconds, by name (see docs/configuration.md). */
  timeouts: Record<string, number>;
}

export interface DatapathWorkerData {
  tunName: string;
  /**
   * datapath.inputDevices per-interface: one TUN device per steered interface (its name and
   * the interface), read beside tunName; a packet read from one has that input interface.
   * Absent or empty: the shared device only, the input interface inferred from the routes.
   */
  inputDevices?: { tun: string; ifname: string }[];
  offloads: boolean;
  batchSize: number;
  maxBatchesPerWake: number;
  counters: SharedArrayBuffer;
  nativeStats: SharedArrayBuffer;
  /** Absent: conntrack off (every packet untracked). */
  conntrack?: DatapathConntrackSettings;
  routes: PlainRoute[];
  /** State sync (absent: off). */
  sync?: DatapathSyncSettings;
  /** Sniff mode: interfaces to watch while the node is not the active one. */
  sniffInterfaces?: string[];
  /** Fragment reassembly limits (absent: the defaults, Linux's). */
  fragments?: ReassemblyLimits;
  /** Node-wide limit on ruleset `log` lines (absent: DEFAULT_RULESET_LOG). */
  rulesetLog?: RulesetLogSettings;
  /** datapath.nice: the thread's (and its sync worker's) nice value; absent: inherited, unchanged. */
  nice?: number;
}

export type ToDatapath =
  | { type: 'stop' }
  | { type: 'routes'; routes: PlainRoute[] }
  /** The node's own addresses (VIPs it holds flagged): local delivery and masquerade's source. */
  | { type: 'addresses'; list: PlainAddress[] }
  /** Sniff mode on (standby) or off (active: the TUN path tracks the traffic itself). */
  | { type: 'sniff'; active: boolean }
  /**
   * The node's VRRP state of group `vrid`: master or not (backup, fault). Master adopts
   * the group's replicas (worker/takeover-adopt.ts) and tags the connections it forwards
   * with a group it masters (worker/sync-bridge.ts).
   */
  | { type: 'vrrp-master'; master: boolean; vrid: number }
  | { type: 'sync-report'; id: number }
  | { type: 'ct-count'; id: number }
  /** Replace the whole ruleset (text or libnftables JSON); undefined text = no ruleset. */
  | { type: 'ruleset-load'; id: number; text: string | undefined; file?: string }
  | { type: 'ruleset-tx'; id: number; ops: unknown; baseGeneration?: number }
  /**
   * A replace in two messages, so the datapath compiles while the control thread validates
   * the same text: prepare (parse, validate, compile; nothing changes, no answer), then
   * commit (answered with a ruleset-result: the prepared ruleset swapped in, or on any
   * mismatch a plain load of the text) or abort (dropped). The control thread posts the
   * second right after its own verdict, with nothing in between (ruleset-service.ts).
   */
  | { type: 'ruleset-prepare'; prepareId: number; text: string; file?: string; caps: { maxBytes: number; maxExpandedTokens: number } }
  | { type: 'ruleset-commit'; id: number; prepareId: number }
  | { type: 'ruleset-abort'; prepareId: number }
  /** The datapath copy's listing: its counters, quotas and objects are the ones packets move. */
  | { type: 'ruleset-list'; id: number; format: 'nft' | 'json'; handles: boolean }
  /** `list|reset counters|quotas ...` on the datapath copy, whose objects hold the live values. */
  | { type: 'ruleset-objects'; id: number; text: string; /** nft -j's output (list meters) */ json?: boolean }
  /** Connection-table query or delete from the API (the datapath thread owns the table). */
  | { type: 'ct-op'; id: number; op: CtOp }
  /** `hafw ct events` subscribers now (the whole list at each change; [] stops the tap). */
  | { type: 'ct-events'; subscribers: CtEventSubscriber[] }
  /** `hafw trace` sessions now (the whole list at each change; [] stops tracing). */
  | { type: 'trace'; sessions: TraceSession[] }
  /** Connections read from a kernel conntrack dump (hafw ct import), checked by the control thread. */
  | { type: 'ct-import'; id: number; entries: CtImportEntry[] }
  /** An API drill's watch of the flows it hands over (worker/drill-watch.ts): begin, freeze at the resign, end. */
  | { type: 'drill-watch'; id: number; step: 'begin' | 'freeze' | 'end'; vrids?: number[] };

export type FromDatapath =
  /** `nice`: what setting datapath.nice gave (worker/thread-priority.ts); absent when not asked. */
  | { type: 'ready'; tunName: string; vnetHdrLen: number; nice?: ThreadNiceOutcome }
  | { type: 'error'; message: string }
  | { type: 'stopped' }
  | { type: 'ruleset-result'; id: number; ok: boolean; generation: number; error?: string }
  | { type: 'ruleset-list'; id: number; generation: number; text?: string; json?: unknown }
  | { type: 'ruleset-objects'; id: number; generation: number; text?: string; error?: string }
  | { type: 'sync-inSync'; value: boolean }
  /** Ruleset `log` lines, batched (worker/log-collector.ts): the control thread writes them to the node log. */
  | { type: 'ruleset-log'; lines: LogLine[] }
  /** `error`: the sync worker could not answer (it failed); report is null then. */
  | { type: 'sync-report'; id: number; report: SyncReport | null; error?: string }
  /**
   * A part of the datapath thread failed and it cannot go on as a firewall (the sync worker
   * died): the control thread fails the node stop (docs/security.md).
   */
  | { type: 'fatal'; message: string }
  | { type: 'ct-count'; id: number; total: number; replicated: number; capacity: number }
  | { type: 'ct-op'; id: number; result?: CtOpResult; error?: { field: string; message: string } }
  /** Connection events for the subscribers named in each event's `to`, batched (worker/ct-event-tap.ts). */
  | { type: 'ct-events'; events: CtEventOut[] }
  /** Traced packets for the sessions named in each record's `to`, batched (worker/trace-collector.ts). */
  | { type: 'trace'; records: TraceRecordOut[] }
  | { type: 'ct-import'; id: number; result?: CtImportResult; error?: string }
  /** begin/freeze: count (candidates, watched); end: the result. error: no conntrack or no sync. */
  | { type: 'drill-watch'; id: number; count?: number; result?: DrillWatchResult; error?: string };
