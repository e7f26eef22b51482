/**
 * The node's side of the ruleset API (RulesetView): listings from the control thread's
 * engine, transactions that reach the datapath, and change events for subscribers.
 *
 * A transaction is validated and committed by the control engine first: a failing batch
 * changes nothing anywhere and is answered with its positions (400), a stale base
 * generation with 409. Then the datapath thread applies the same batch (its engine is
 * deterministic, so it lands on the same handles), and only then do subscribers hear of
 * it: an event means "this generation is filtering packets now". Commits are synchronous
 * and messages to the datapath are ordered, so concurrent calls keep one order on both.
 *
 * With cluster distribution (setCluster), API writes run through the distributor: only
 * the writer (VRRP master) accepts them (409 elsewhere, naming the master), and each one
 * becomes the next cluster version. applyOps/applyText are the distributor's own path
 * for versions that arrive from the master: the same atomic control-then-datapath
 * commit, without making a new version.
 */
import { EventEmitter } from 'node:events';
import { createTwoFilesPatch } from 'diff';
import { RulesetEngine, RulesetError, type ChangeEvent, type CommitResult } from '../ruleset/index.js';
import { RulesetApiError, type RulesetTxResult, type RulesetView, type RulesetDistView, type RulesetCheckResult } from '../api/ruleset-routes.js';
import { NotWriterError, type RulesetDistributor } from '../../ruleset-dist/index.js';

/** Where the service logs (the daemon's pino logger, or a test's array). */
interface RulesetServiceLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Applies an accepted batch to the datapath's own engine. */
type DatapathApply = (ops: unknown) => Promise<{ ok: boolean; error?: string } | undefined>;
/** Replaces the datapath's whole ruleset. */
type DatapathLoad = (text: string, file: string) => Promise<{ ok: boolean; error?: string } | undefined>;

/**
 * Starts the datapath's compile of a replace before the control engine's verdict
 * (DatapathThread.prepareRuleset); undefined when there is no datapath thread.
 */
export type DatapathPrepare = (text: string, file: string, caps: { maxBytes: number; maxExpandedTokens: number }) =>
  { commit(): Promise<{ ok: boolean; error?: string } | undefined>; abort(): void } | undefined;

/** The datapath copy's listing and its generation (DatapathThread.listRuleset). */
/** `list|reset counters|quotas ...` on the datapath copy: its output, or the engine's error message. */
export type DatapathObjects = (text: string, json: boolean) => Promise<{ generation: number; text?: string; error?: string }>;

export type DatapathList = (format: 'nft' | 'json', handles: boolean) => Promise<{ generation: number; text?: string; json?: unknown }>;

/** POST /v1/ruleset/check copies rulesets whose listing is at most this big (about 1 s of load here). */
export const CHECK_MAX_BYTES = 512 * 1024;

/** Origin of the element-expiry commits (in errors and logs). */
const EXPIRE_ORIGIN = '<expire>';

/** What a commit did, so that a copy of the ruleset can follow it (a whole text, or a transaction's ops). */
export type RulesetChange = { text: string } | { ops: unknown };

export class RulesetService implements RulesetView {
  private readonly events = new EventEmitter().setMaxListeners(0);
  /** Set while an API transaction commits: its event waits for the datapath's answer. */
  private ownCommit = false;
  private cluster?: RulesetDistributor;
  /** Routes for versions, history and rollback; set with the cluster. */
  dist?: RulesetDistView;

  constructor(
    private readonly engine: RulesetEngine,
    private readonly datapath: DatapathApply,
    private readonly log: RulesetServiceLog,
    private readonly datapathLoad?: DatapathLoad,
  ) {
    // Commits made elsewhere (SIGHUP reload, element expiry) are published as they happen.
    engine.on('change', (ev: ChangeEvent) => {
      if (!this.ownCommit) this.events.emit('change', ev);
    });
  }

  /** From now on API writes are cluster versions, accepted on the writer only. */
  setCluster(dist: RulesetDistributor, view: RulesetDistView): void {
    this.cluster = dist;
    this.dist = view;
  }

  /**
   * What the committed ruleset cannot do on this node (effect-warnings.ts) and whether it
   * cuts the management listener off (lockout-check.ts); set by the daemon. Each change's
   * answer carries them, and the log gets them when they change.
   */
  warningsFor?: (change?: RulesetChange) => string[];
  private lastWarnings = '';
  private lastWarningList: string[] = [];

  /** Element changes (blocklists, expiry) never change what the warnings are about: kept. */
  private warnings(change: RulesetChange, changes?: readonly { kind: string }[]): string[] {
    if (changes !== undefined && changes.every((c) => c.kind === 'element')) return this.lastWarningList;
    let w: string[] = [];
    try {
      w = this.warningsFor?.(change) ?? [];
    } catch (err) {
      w = [`the ruleset could not be checked for effect and lock-out: ${(err as Error).message}`];
    }
    const key = w.join('\n');
    if (key !== this.lastWarnings) {
      for (const line of w) this.log.info({ warning: line }, 'ruleset warning');
      this.lastWarnings = key;
    }
    this.lastWarningList = w;
    return w;
  }

  generation(): number {
    return this.engine.generation;
  }

  /**
   * Set by the daemon: the datapath thread's copy of the ruleset is the one packets go
   * through, so its counters, quotas and named objects are the live ones (the control
   * copy's never move). Its listing is used when it is at the control copy's generation;
   * otherwise (a commit in flight, the thread down) the control copy's, whose structure is
   * the same and whose values are the declared ones.
   */
  datapathList?: DatapathList;

  /** Set by the daemon: object commands on the datapath copy (see datapathList). */
  datapathObjects?: DatapathObjects;

  /**
   * `list|reset counters|quotas|limits ...` (nft 1.0.6's object commands) on the live values:
   * the datapath copy's when it runs at this generation, else the control copy's. A reset
   * acts on both copies (the control copy's values are what a listing falls back to). Not a
   * ruleset change: no generation, no event, nothing for the cluster.
   */
  async objectCommand(text: string, json = false): Promise<string> {
    let local: string;
    try {
      local = this.engine.objectCommand(text, '<command>', json);
    } catch (err) {
      if (err instanceof RulesetError) throw new RulesetApiError(err.message, 400, err.errors);
      throw err;
    }
    if (!this.datapathObjects) return local;
    const gen = this.engine.generation;
    try {
      const d = await this.datapathObjects(text, json);
      if (d.generation === gen && d.text !== undefined) return d.text;
    } catch {
      // the datapath thread is down: the control copy's answer
    }
    return local;
  }

  async listText(handles: boolean): Promise<string> {
    const d = await this.fromDatapath('nft', handles);
    return d?.text ?? this.engine.list({ handles });
  }

  async listJson(): Promise<unknown> {
    const d = await this.fromDatapath('json', false);
    return d?.json ?? this.engine.toJSON();
  }

  private async fromDatapath(format: 'nft' | 'json', handles: boolean): Promise<{ text?: string; json?: unknown } | undefined> {
    if (!this.datapathList) return undefined;
    const gen = this.engine.generation;
    try {
      const d = await this.datapathList(format, handles);
      return d.generation === gen && gen === this.engine.generation ? d : undefined;
    } catch {
      return undefined;
    }
  }

  onChange(listener: (ev: ChangeEvent) => void): () => void {
    this.events.on('change', listener);
    return () => void this.events.off('change', listener);
  }

  async transaction(ops: unknown, baseGeneration?: number): Promise<RulesetTxResult> {
    if (!this.cluster) return this.commitOps(ops, baseGeneration, '<api>');
    try {
      const r = await this.cluster.write(() => this.commitOps(ops, baseGeneration, '<api>'), ops, 'transaction');
      return { ...r.result, version: r.version };
    } catch (err) {
      if (err instanceof NotWriterError) throw new RulesetApiError(err.message, 409);
      throw err;
    }
  }

  /**
   * POST /v1/ruleset/check: the batch applied to a scratch engine loaded with the running
   * ruleset's listing, never to the live one. The listing renumbers handles, so a batch
   * that names rules by handle is checked against the copy's handles (the rule builder only
   * adds rules and elements). Cost: one load of the ruleset, bounded by ruleset.maxBytes.
   */
  async check(ops: unknown, baseGeneration?: number): Promise<RulesetCheckResult> {
    const generation = this.engine.generation;
    if (baseGeneration !== undefined && baseGeneration !== generation) {
      throw new RulesetApiError(`ruleset changed: checked against generation ${baseGeneration}, current is ${generation}`, 409);
    }
    const before = this.engine.list();
    // The copy is a whole load on the control thread (about 2 µs a byte here): a large
    // ruleset would hold it for seconds per keystroke of a rule builder, close to
    // vrrp.controlStallLimitMs. Refused instead; a transaction is still all or nothing.
    const size = Buffer.byteLength(before, 'utf8');
    if (size > this.checkMaxBytes) {
      throw new RulesetApiError(`the running ruleset's listing is ${size} bytes, more than the ${this.checkMaxBytes} a check copies (a copy that size would hold the node's control thread too long); apply the change as a transaction: it is validated all or nothing`, 413);
    }
    const scratch = new RulesetEngine({ registry: this.engine.registry, limits: this.engine.limits, inputInterfaces: this.engine.inputInterfaces });
    try {
      scratch.load(before, '<running>');
    } catch (err) {
      throw new RulesetApiError(`the running ruleset could not be copied for the check: ${(err as Error).message}`, 500);
    }
    let r: CommitResult;
    try {
      r = scratch.transaction(structuredClone(ops) as never, undefined, '<check>');
    } catch (err) {
      if (err instanceof RulesetError) return { ok: false, generation, errors: err.errors, diff: '', changes: 0 };
      return { ok: false, generation, errors: [{ line: 1, col: 1, message: (err as Error).message }], diff: '', changes: 0 };
    }
    const after = scratch.list();
    const diff = before === after ? '' : createTwoFilesPatch('running', 'after', before, after, undefined, undefined, { context: 3 }).replace(/^=+\n/, '');
    return { ok: true, generation, errors: [], diff, changes: r.changes.length };
  }

  /** Largest listing POST /v1/ruleset/check copies (CHECK_MAX_BYTES; a test may lower it). */
  checkMaxBytes = CHECK_MAX_BYTES;

  /** PUT /v1/ruleset: the whole text, atomically (and the next cluster version). */
  async replace(text: string): Promise<{ generation: number; version?: number; warnings: string[] }> {
    if (!this.cluster) {
      const generation = await this.loadText(text, '<api>');
      return { generation, warnings: this.warnings({ text }) };
    }
    try {
      let generation = 0;
      const r = await this.cluster.write(async () => void (generation = await this.loadText(text, '<api>')), undefined, 'apply (whole ruleset)');
      return { generation, version: r.version, warnings: this.warnings({ text }) };
    } catch (err) {
      if (err instanceof NotWriterError) throw new RulesetApiError(err.message, 409);
      throw err;
    }
  }

  /** A version's ops from the master (no new version); throws RulesetApiError when refused. */
  async applyOps(ops: unknown, origin: string): Promise<void> {
    await this.commitOps(ops, undefined, origin);
  }

  /** A version's whole text from the master or the history (no new version). */
  async applyText(text: string, origin: string): Promise<void> {
    await this.loadText(text, origin);
  }

  /**
   * Drops timed-out set elements from both engines: the control engine decides what has
   * expired and the datapath applies that same batch, so the two copies never disagree
   * about an element (each expiring on its own timer, a later `delete element` could be
   * accepted by one and refused by the other). Lookups already ignore an expired
   * element; this frees it, and subscribers see the removal like any other commit.
   * Call it about once a second.
   */
  async expireElements(nowMs?: number): Promise<void> {
    const ops = this.engine.expiredOps(nowMs);
    if (ops.length > 0) await this.commitOps(ops, undefined, EXPIRE_ORIGIN);
  }

  /**
   * Set by the daemon: a replace's text goes to the datapath thread before the control
   * engine validates it, so the two compile at once (each a few hundred ms for 10,000
   * rules) instead of one after the other. Only the control engine's verdict decides: the
   * datapath's copy is swapped in on commit() and dropped on abort(), both posted right
   * after the verdict with no await in between, so no other commit can come between them.
   * The datapath's reading of a text that will be refused is bounded by the node's caps.
   */
  datapathPrepare?: DatapathPrepare;

  private async loadText(text: string, origin: string): Promise<number> {
    let r: CommitResult;
    const { maxBytes, maxExpandedTokens } = this.engine.limits;
    const prepared = this.datapathPrepare?.(text, origin, { maxBytes, maxExpandedTokens });
    this.ownCommit = true;
    try {
      r = this.engine.load(text, origin);
    } catch (err) {
      prepared?.abort();
      if (err instanceof RulesetError) throw new RulesetApiError(err.message, 400, err.errors);
      throw new RulesetApiError(`${origin}: ${(err as Error).message}`, 400);
    } finally {
      this.ownCommit = false;
    }
    const d = prepared ? await prepared.commit() : this.datapathLoad ? await this.datapathLoad(text, origin) : undefined;
    if (d && !d.ok) this.log.error({ event: 'ruleset.datapathRefused', err: d.error, generation: r.generation }, 'datapath refused a ruleset the control thread accepted');
    this.log.info({ generation: r.generation, origin, ms: Math.round(r.ms * 100) / 100 }, 'ruleset replaced');
    this.events.emit('change', { generation: r.generation, changes: r.changes } satisfies ChangeEvent);
    if (origin !== '<api>') this.warnings({ text });
    return r.generation;
  }

  private async commitOps(ops: unknown, baseGeneration: number | undefined, origin: string): Promise<RulesetTxResult> {
    if (baseGeneration !== undefined && baseGeneration !== this.engine.generation) {
      throw new RulesetApiError(`ruleset changed: transaction based on generation ${baseGeneration}, current is ${this.engine.generation}`, 409);
    }
    let r: CommitResult;
    this.ownCommit = true;
    try {
      // A copy: the engine keeps (and annotates) the objects it commits; the datapath gets the original.
      r = this.engine.transaction(structuredClone(ops) as never, undefined, origin);
    } catch (err) {
      if (err instanceof RulesetError) throw new RulesetApiError(err.message, 400, err.errors);
      throw new RulesetApiError(`${origin}: ${(err as Error).message}`, 400);
    } finally {
      this.ownCommit = false;
    }
    const d = await this.datapath(ops);
    if (d && !d.ok) this.log.error({ event: 'ruleset.datapathRefused', err: d.error, generation: r.generation }, 'datapath refused a transaction the control thread accepted; SIGHUP reloads the file');
    // Expiry runs every second on a node with timed elements: not worth a log line each time.
    if (origin !== EXPIRE_ORIGIN) this.log.info({ generation: r.generation, changes: r.changes.length, ms: Math.round(r.ms * 100) / 100 }, 'ruleset transaction applied');
    this.events.emit('change', { generation: r.generation, changes: r.changes } satisfies ChangeEvent);
    if (origin === EXPIRE_ORIGIN) return { generation: r.generation, changes: r.changes, ms: r.ms };
    return { generation: r.generation, changes: r.changes, ms: r.ms, warnings: this.warnings({ ops }, r.changes) };
  }
}
