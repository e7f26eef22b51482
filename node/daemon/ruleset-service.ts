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
 */
import { EventEmitter } from 'node:events';
import { RulesetError, type ChangeEvent, type CommitResult, type RulesetEngine } from '../ruleset/index.js';
import { RulesetApiError, type RulesetTxResult, type RulesetView } from '../api/index.js';

/** Applies an accepted batch to the datapath's own engine. */
/** Where the service logs (the daemon's pino logger, or a test's array). */
export interface RulesetServiceLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type DatapathApply = (ops: unknown) => Promise<{ ok: boolean; error?: string } | undefined>;

export class RulesetService implements RulesetView {
  private readonly events = new EventEmitter().setMaxListeners(0);
  /** Set while an API transaction commits: its event waits for the datapath's answer. */
  private ownCommit = false;

  constructor(
    private readonly engine: RulesetEngine,
    private readonly datapath: DatapathApply,
    private readonly log: RulesetServiceLog,
  ) {
    // Commits made elsewhere (SIGHUP reload, element expiry) are published as they happen.
    engine.on('change', (ev: ChangeEvent) => {
      if (!this.ownCommit) this.events.emit('change', ev);
    });
  }

  generation(): number {
    return this.engine.generation;
  }

  listText(handles: boolean): string {
    return this.engine.list({ handles });
  }

  listJson(): unknown {
    return this.engine.toJSON();
  }

  onChange(listener: (ev: ChangeEvent) => void): () => void {
    this.events.on('change', listener);
    return () => void this.events.off('change', listener);
  }

  async transaction(ops: unknown, baseGeneration?: number): Promise<RulesetTxResult> {
    if (baseGeneration !== undefined && baseGeneration !== this.engine.generation) {
      throw new RulesetApiError(`ruleset changed: transaction based on generation ${baseGeneration}, current is ${this.engine.generation}`, 409);
    }
    let r: CommitResult;
    this.ownCommit = true;
    try {
      // A copy: the engine keeps (and annotates) the objects it commits; the datapath gets the original.
      r = this.engine.transaction(structuredClone(ops) as never, undefined, '<api>');
    } catch (err) {
      if (err instanceof RulesetError) throw new RulesetApiError(err.message, 400, err.errors);
      throw new RulesetApiError(`<api>: ${(err as Error).message}`, 400);
    } finally {
      this.ownCommit = false;
    }
    const d = await this.datapath(ops);
    if (d && !d.ok) this.log.error({ err: d.error, generation: r.generation }, 'datapath refused a transaction the control thread accepted; SIGHUP reloads the file');
    this.log.info({ generation: r.generation, changes: r.changes.length, ms: Math.round(r.ms * 100) / 100 }, 'ruleset transaction applied');
    this.events.emit('change', { generation: r.generation, changes: r.changes } satisfies ChangeEvent);
    return { generation: r.generation, changes: r.changes, ms: r.ms };
  }
}
