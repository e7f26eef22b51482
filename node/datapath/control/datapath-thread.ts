/**
 * Control-thread handle on the datapath worker: starts it, waits until the TUN device is
 * open, exposes the shared counters, feeds it routes and ruleset changes, stops it.
 *
 * Once the thread has died (exit, uncaught error) or reported a fatal fault (its sync worker
 * died), it is `down`: every query rejects with DatapathDownError (HTTP 503 with the reason)
 * instead of answering made-up zeros, and the owner is told once (onFailure) so it can fail
 * the node stop.
 */
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import { C, createCounterBuffer, readCounters } from '../shared/counters.js';
import { NativeStat } from '../../native/index.js';
import type { CtEventOut, CtEventSubscriber, CtImportEntry, CtImportResult, CtOp, CtOpResult } from '../../conntrack/index.js';
import type { ReassemblyLimits } from '../worker/reassembly.js';
import type { RulesetLogSettings } from '../worker/log-collector.js';
import type { DrillWatchResult } from '../worker/drill-watch.js';
import type { ThreadNiceOutcome } from '../worker/thread-priority.js';
import type { LogLine, TraceRecordOut, TraceSession } from '../../ruleset/index.js';
import type { DatapathConntrackSettings, DatapathSyncSettings, DatapathWorkerData, FromDatapath, PlainAddress, PlainRoute, SyncReport, ToDatapath } from '../shared/messages.js';

/** The datapath thread is gone or failed: no answer about the table or sync can be given. */
export class DatapathDownError extends Error {
  /** For the API's error handler: the node cannot serve this now. */
  readonly statusCode = 503;
  constructor(readonly reason: string) {
    super(`datapath thread is down: ${reason}`);
    this.name = 'DatapathDownError';
  }
}

export interface DatapathThreadOptions {
  /** Tests only: another worker script speaking the same messages (no TUN device needed). */
  workerUrl?: URL;
  tunName: string;
  /** Per-interface input devices (DatapathWorkerData.inputDevices). */
  inputDevices?: { tun: string; ifname: string }[];
  offloads: boolean;
  batchSize: number;
  maxBatchesPerWake: number;
  conntrack?: DatapathConntrackSettings;
  routes: PlainRoute[];
  sniffInterfaces?: string[];
  sync?: DatapathSyncSettings;
  fragments?: ReassemblyLimits;
  rulesetLog?: RulesetLogSettings;
  /** datapath.nice for the thread and its sync worker (absent: unchanged). */
  nice?: number;
}

interface DatapathRulesetResult {
  ok: boolean;
  generation: number;
  error?: string;
}

/** A replace the datapath thread is compiling (DatapathThread.prepareRuleset). */
export interface PreparedRuleset {
  /** Swaps it in (or loads the text plainly if the prepare could not be used); resolves with the thread's answer. */
  commit(): Promise<DatapathRulesetResult>;
  /** Drops it: the control thread refused the text. */
  abort(): void;
}

export class DatapathThread {
  private readonly worker: Worker;
  private readonly counterBuf = createCounterBuffer();
  private readonly counterView = new Float64Array(this.counterBuf);
  private readonly nativeBuf = new SharedArrayBuffer(NativeStat.Count * 8);
  private exited = false;
  private stopping = false;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (m: FromDatapath) => void; reject: (e: Error) => void }>();
  /** Why the thread is down (undefined while it runs). */
  failure: string | undefined;
  private onFailure?: (err: Error) => void;
  vnetHdrLen = 0;
  /** What datapath.nice gave the thread (absent when not asked). */
  nice: ThreadNiceOutcome | undefined;
  /** Last inSync the sync worker reported (false until it reports; undefined: no sync). */
  syncInSync: boolean | undefined;
  private readonly inSyncListeners: ((v: boolean) => void)[] = [];
  private readonly logListeners: ((lines: LogLine[]) => void)[] = [];
  private ctEventListener?: (events: CtEventOut[]) => void;
  private traceListener?: (records: TraceRecordOut[]) => void;

  private constructor(opts: DatapathThreadOptions) {
    const { workerUrl, ...rest } = opts;
    const data: DatapathWorkerData = { ...rest, counters: this.counterBuf, nativeStats: this.nativeBuf };
    // The packet path allocates nothing, so a young generation of 8 MB (V8's default here:
    // 16) costs it no collections and keeps ~8 MB less resident once the thread has allocated.
    this.worker = new Worker(workerUrl ?? new URL('../worker/worker.js', import.meta.url), { workerData: data, name: 'hafw-datapath', resourceLimits: { maxYoungGenerationSizeMb: 8 } });
    this.worker.once('exit', (code) => {
      this.exited = true;
      this.fail(this.stopping ? 'stopped' : `exited with code ${code}`);
    });
  }

  /** Marks the thread down (first reason wins), rejects what waits, tells the owner unless stopping. */
  private fail(reason: string): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    const err = new DatapathDownError(reason);
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    if (!this.stopping) this.onFailure?.(err);
  }

  /**
   * Starts the worker; resolves once the TUN device is open, rejects with its error.
   * `onFailure`: called once if the thread dies or reports a fatal fault later (not on stop()).
   */
  static async start(opts: DatapathThreadOptions, onFailure?: (err: Error) => void): Promise<DatapathThread> {
    const t = new DatapathThread(opts);
    const first = await new Promise<FromDatapath>((resolve, reject) => {
      const onMessage = (m: FromDatapath): void => {
        if (m.type === 'sync-inSync') t.syncInSync = m.value;
        else {
          t.worker.off('message', onMessage);
          resolve(m);
        }
      };
      t.worker.on('message', onMessage);
      t.worker.once('error', reject);
      t.worker.once('exit', (code) => reject(new Error(`datapath thread exited with code ${code} before it was ready`)));
    });
    if (first.type === 'error') {
      await t.worker.terminate();
      throw new Error(first.message);
    }
    if (first.type !== 'ready') throw new Error(`datapath thread: unexpected first message ${first.type}`);
    t.vnetHdrLen = first.vnetHdrLen;
    t.nice = first.nice;
    t.onFailure = onFailure;
    t.worker.on('message', (m: FromDatapath) => {
      if (m.type === 'sync-inSync') {
        t.syncInSync = m.value;
        for (const l of t.inSyncListeners) l(m.value);
      } else if (m.type === 'fatal') {
        // The thread still runs, but not as a firewall with state sync: nothing it says about
        // sync may be believed (in sync false), and the owner stops the node.
        t.syncInSync = t.syncInSync === undefined ? undefined : false;
        t.fail(m.message);
        for (const l of t.inSyncListeners) l(false);
      } else if (m.type === 'ruleset-log') {
        for (const l of t.logListeners) l(m.lines);
      } else if (m.type === 'ct-events') {
        t.ctEventListener?.(m.events);
      } else if (m.type === 'trace') {
        t.traceListener?.(m.records);
      } else if ('id' in m) {
        t.waiting.get(m.id)?.resolve(m);
        t.waiting.delete(m.id);
      }
    });
    // An uncaught error ends the thread ('exit' follows); its message is the better reason.
    t.worker.on('error', (err) => t.fail(`uncaught error: ${err.message}`));
    // Died between 'ready' and here: the constructor's exit handler had no one to tell.
    if (t.failure !== undefined && t.failure !== 'stopped') onFailure?.(new DatapathDownError(t.failure));
    return t;
  }

  private post(m: ToDatapath): void {
    this.worker.postMessage(m);
  }

  /** Rejects with DatapathDownError once the thread is down (never a made-up answer). */
  private ask(build: (id: number) => ToDatapath): Promise<FromDatapath> {
    if (this.failure !== undefined || this.exited) return Promise.reject(new DatapathDownError(this.failure ?? 'exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.post(build(id));
    });
  }

  private async request(build: (id: number) => ToDatapath): Promise<DatapathRulesetResult> {
    const m = await this.ask(build).catch((e: Error) => ({ type: 'ruleset-result' as const, id: 0, ok: false, generation: -1, error: e.message }));
    return m.type === 'ruleset-result' ? m : { ok: false, generation: -1, error: `unexpected answer ${m.type}` };
  }

  /** State sync's figures (null when sync is off); rejects when the datapath or its sync worker is down. */
  async syncReport(): Promise<SyncReport | null> {
    const m = await this.ask((id) => ({ type: 'sync-report', id }));
    if (m.type !== 'sync-report') throw new Error(`datapath thread: unexpected answer ${m.type}`);
    if (m.error !== undefined) throw new DatapathDownError(m.error);
    return m.report;
  }

  /** Connections in the table, and how many of them are replicas of a peer's; rejects when the datapath is down. */
  async ctCount(): Promise<{ total: number; replicated: number; capacity: number }> {
    const m = await this.ask((id) => ({ type: 'ct-count', id }));
    if (m.type !== 'ct-count') throw new Error(`datapath thread: unexpected answer ${m.type}`);
    return { total: m.total, replicated: m.replicated, capacity: m.capacity };
  }

  /** A connection-table query or delete (API); rejects with the datapath's error (`field` names a bad filter field). */
  async ctOp(op: CtOp): Promise<CtOpResult> {
    const m = await this.ask((id) => ({ type: 'ct-op', id, op }));
    if (m.type !== 'ct-op') throw new Error(`datapath thread: unexpected answer ${m.type}`);
    if (m.error) throw Object.assign(new Error(m.error.message), { field: m.error.field });
    return m.result!;
  }

  /** Inserts connections read from a kernel conntrack dump (hafw ct import); rejects when conntrack is off or the datapath is down. */
  async ctImport(entries: CtImportEntry[]): Promise<CtImportResult> {
    const m = await this.ask((id) => ({ type: 'ct-import', id, entries }));
    if (m.type !== 'ct-import') throw new Error(`datapath thread: unexpected answer ${m.type}`);
    if (m.error !== undefined) throw new Error(m.error);
    return m.result!;
  }

  /**
   * An API drill's watch of the flows it hands over (worker/drill-watch.ts): `begin` and
   * `freeze` answer how many connections they took, `end` what became of them. Rejects
   * without conntrack or state sync. `vrids` (begin): only connections of these VRRP groups.
   */
  async drillWatch(step: 'begin' | 'freeze', vrids?: readonly number[]): Promise<number>;
  async drillWatch(step: 'end'): Promise<DrillWatchResult>;
  async drillWatch(step: 'begin' | 'freeze' | 'end', vrids?: readonly number[]): Promise<number | DrillWatchResult> {
    const m = await this.ask((id) => ({ type: 'drill-watch', id, step, ...(vrids ? { vrids: [...vrids] } : {}) }));
    if (m.type !== 'drill-watch') throw new Error(`datapath thread: unexpected answer ${m.type}`);
    if (m.error !== undefined) throw new Error(m.error);
    return step === 'end' ? m.result! : m.count!;
  }

  /** Packets forwarded so far (the shared counter, no message): API drills sample it. */
  forwardedPackets(): number {
    return this.counterView[C.forwarded]!;
  }

  onInSync(cb: (v: boolean) => void): void {
    this.inSyncListeners.push(cb);
  }

  /** Ruleset `log` lines, in batches as the datapath sends them (already rate limited there). */
  onRulesetLog(cb: (lines: LogLine[]) => void): void {
    this.logListeners.push(cb);
  }

  /** `hafw ct events` subscribers now ([] stops the datapath's tap); ignored once the thread is down. */
  setCtEventSubscribers(subs: CtEventSubscriber[]): void {
    if (this.failure === undefined && !this.exited) this.post({ type: 'ct-events', subscribers: subs });
  }

  /** `hafw trace` sessions now ([] stops tracing); ignored once the thread is down. */
  setTraceSessions(sessions: TraceSession[]): void {
    if (this.failure === undefined && !this.exited) this.post({ type: 'trace', sessions });
  }

  /** Where connection events for the subscribers go (one listener: the API's hub). */
  onCtEvents(cb: (events: CtEventOut[]) => void): void {
    this.ctEventListener = cb;
  }

  /** Where traced packets for the sessions go (one listener: the API's hub). */
  onTrace(cb: (records: TraceRecordOut[]) => void): void {
    this.traceListener = cb;
  }

  /** Replaces the datapath's whole ruleset (undefined: none). */
  loadRuleset(text: string | undefined, file?: string): Promise<DatapathRulesetResult> {
    return this.request((id) => ({ type: 'ruleset-load', id, text, file }));
  }

  /**
   * A replace in two steps (messages.ts, ruleset-prepare): the thread starts compiling
   * `text` now, while the caller validates it; the caller then calls commit() or abort()
   * at once, with no other message to the thread in between, so the thread's copy keeps
   * the control thread's order of commits.
   */
  prepareRuleset(text: string, file: string, caps: { maxBytes: number; maxExpandedTokens: number }): PreparedRuleset {
    const prepareId = this.nextId++;
    if (this.failure === undefined && !this.exited) this.post({ type: 'ruleset-prepare', prepareId, text, file, caps });
    return {
      commit: () => this.request((id) => ({ type: 'ruleset-commit', id, prepareId })),
      abort: () => void (this.failure === undefined && !this.exited && this.post({ type: 'ruleset-abort', prepareId })),
    };
  }

  transaction(ops: unknown, baseGeneration?: number): Promise<DatapathRulesetResult> {
    return this.request((id) => ({ type: 'ruleset-tx', id, ops, baseGeneration }));
  }

  /**
   * The datapath copy's listing (nft text or JSON) and its generation: the copy that
   * classifies packets, so its counters, quotas and named objects hold the live values.
   */
  async listRuleset(format: 'nft' | 'json', handles: boolean): Promise<{ generation: number; text?: string; json?: unknown }> {
    const m = await this.ask((id) => ({ type: 'ruleset-list', id, format, handles }));
    if (m.type !== 'ruleset-list') throw new Error(`datapath thread: unexpected answer ${m.type}`);
    return { generation: m.generation, text: m.text, json: m.json };
  }

  /** `list|reset counters|quotas ...` on the datapath copy (its objects hold the live values). */
  async objectCommand(text: string, json = false): Promise<{ generation: number; text?: string; error?: string }> {
    const m = await this.ask((id) => ({ type: 'ruleset-objects', id, text, json }));
    if (m.type !== 'ruleset-objects') throw new Error(`datapath thread: unexpected answer ${m.type}`);
    return { generation: m.generation, text: m.text, error: m.error };
  }

  /** Sniff mode: watch the segments (standby) or stop (active). */
  setSniffing(active: boolean): void {
    if (!this.exited) this.post({ type: 'sniff', active });
  }

  /** The node became VRRP master of group `vrid` (true) or left that state (false). */
  setMaster(master: boolean, vrid: number): void {
    if (!this.exited) this.post({ type: 'vrrp-master', master, vrid });
  }

  setRoutes(routes: PlainRoute[]): void {
    if (!this.exited) this.post({ type: 'routes', routes });
  }

  /** The node's own addresses, VIPs flagged (see local-addresses.ts). */
  setAddresses(list: PlainAddress[]): void {
    if (!this.exited) this.post({ type: 'addresses', list });
  }

  counters(): ReturnType<typeof readCounters> {
    return readCounters(this.counterBuf);
  }

  nativeStats(): { wakeups: number; batches: number; readErrors: number; writeErrors: number; written: number } {
    const v = new Float64Array(this.nativeBuf);
    return {
      wakeups: v[NativeStat.Wakeups],
      batches: v[NativeStat.Batches],
      readErrors: v[NativeStat.ReadErrors],
      writeErrors: v[NativeStat.WriteErrors],
      written: v[NativeStat.Written],
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    this.post({ type: 'stop' });
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await once(this.worker, 'exit');
    clearTimeout(timer);
  }
}
