/**
 * The node's adapter to ruleset-dist: the RulesetService is the store (atomic apply on the
 * control engine, then the datapath), VRRP's state is the role, the sync segment and key
 * carry the messages. It also turns the distributor into what the rest of the node reads:
 * API views, VRRP readiness and metrics.
 */
import { createHash } from 'node:crypto';
import type { RulesetEngine } from '../ruleset/index.js';
import { Printer } from '../ruleset/printer.js';
import {
  DistRunner, NotWriterError, RulesetDistributor, UdpTcpTransport,
  type DistEvent, type DistLog, type DistTransport, type DistRole, type DistStatus, type DistCounters, type RulesetStore, type FetchServerCounters,
} from '../../ruleset-dist/index.js';
import { RulesetApiError, type RulesetDistView } from '../api/ruleset-routes.js';
import type { RulesetService } from './ruleset-service.js';
import type { RulesetDistSettings } from './config.js';

interface RulesetClusterOptions {
  settings: RulesetDistSettings;
  nodeName: string;
  nodeId: number;
  epoch: number;
  key: Uint8Array;
  /** Our address on the sync interface. */
  address: string;
  group?: string;
  peers?: string[];
  /** Largest datagram for UPDATEs (the sync MTU less IP and UDP headers). */
  maxDatagramBytes: number;
  role: () => DistRole;
  /** The rule engine's clock (element expiry). */
  clock: () => number;
  /** Tests: another transport than UDP/TCP on the sync address. */
  transport?: DistTransport;
}

/** Hash of a ruleset file's bytes: tells a file edited while the node was down. */
export function sourceHash(text: string | undefined): string {
  return createHash('sha256').update(text ?? '', 'utf8').digest('hex');
}

/** What the metrics file reads at scrape time. */
interface RulesetDistMetricsSnapshot {
  status: DistStatus;
  counters: DistCounters;
  server?: FetchServerCounters;
}

export class RulesetCluster {
  /** The protocol core (status, writes, history); the runner owns its sockets and timer. */
  readonly dist: RulesetDistributor;

  private constructor(
    private readonly runner: DistRunner,
    private readonly transport: DistTransport,
  ) {
    this.dist = runner.core;
  }

  static async start(service: RulesetService, engine: RulesetEngine, o: RulesetClusterOptions, log: DistLog, fileHash?: string): Promise<RulesetCluster> {
    const printer = new Printer(engine.registry);
    const store: RulesetStore = {
      // No handles, no counters (the printer's counter callback is left out), expired elements skipped.
      canonicalText: () => printer.ruleset(engine.ruleset, { nowMs: o.clock() }),
      applyText: (text, origin) => service.applyText(text, origin),
      applyOps: (ops, origin) => service.applyOps(ops, origin),
    };
    const transport = o.transport ?? await UdpTcpTransport.open({
      address: o.address, port: o.settings.port, group: o.peers?.length ? undefined : o.group, peers: o.peers,
      maxConnections: o.settings.maxConnections, connectionDeadlineMs: o.settings.connectionDeadlineMs,
    });
    const runner = new DistRunner(
      {
        nodeId: o.nodeId, name: o.nodeName, epoch: o.epoch, key: o.key, role: o.role,
        historySize: o.settings.historySize, stateDir: o.settings.stateDir, repairDrift: o.settings.repairDrift, driftGraceMs: o.settings.driftGraceMs,
        announceIntervalMs: o.settings.announceIntervalMs, startupGraceMs: o.settings.startupGraceMs, maxDatagramBytes: o.maxDatagramBytes,
      },
      store,
      transport,
      log,
    );
    try {
      await runner.start(fileHash);
    } catch (err) {
      await transport.close().catch(() => undefined);
      throw err;
    }
    const cluster = new RulesetCluster(runner, transport);
    service.setCluster(runner.core, cluster.view());
    return cluster;
  }

  /** Routes' view: status, history, version texts, rollback. */
  view(): RulesetDistView {
    const dist = this.dist;
    return {
      status: () => dist.status(),
      history: () => dist.listHistory(),
      version: (v) => dist.versionEntry(v),
      rollback: async (v) => {
        try {
          return await dist.rollback(v);
        } catch (err) {
          if (err instanceof NotWriterError) throw new RulesetApiError(err.message, 409);
          if (err instanceof RangeError) throw new RulesetApiError(err.message, 404);
          if (err instanceof RulesetApiError) throw err;
          throw new RulesetApiError((err as Error).message, 500);
        }
      },
    };
  }

  /** VRRP's readiness input: the ruleset is current (see RulesetDistributor). */
  get ready(): boolean {
    return this.dist.isReady();
  }

  onReadyChange(cb: (ready: boolean) => void): () => void {
    return this.dist.onReadyChange(cb);
  }

  onEvent(fn: (e: DistEvent) => void): () => void {
    return this.dist.onEvent(fn);
  }

  /** SIGHUP replaced the ruleset from the file. */
  reloaded(fileText: string | undefined): Promise<void> {
    return this.dist.localReplaced('SIGHUP reload', sourceHash(fileText));
  }

  metrics(): RulesetDistMetricsSnapshot {
    return { status: this.dist.status(), counters: this.dist.counters, server: this.transport.serverCounters };
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }
}
