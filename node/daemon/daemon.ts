/**
 * `hafw node --config FILE`: one firewall node. Wires the datapath thread, the kernel
 * plumbing and the control API, and owns the process lifecycle: SIGTERM/SIGINT stop
 * cleanly, SIGHUP reloads what can be reloaded.
 */
import type { Logger } from 'pino';
import { DatapathThread, setupTunRouting, teardownTunRouting } from '../datapath/index.js';
import { startControlServer, stopControlServer, resolveControlSocket, createNodeMetrics, type NodeStatus } from '../api/index.js';
import { loadConfig, type NodeConfig } from './config.js';
import { createLogger } from './logger.js';
import { VrrpService } from '../ha/index.js';

export class NodeDaemon {
  private readonly startedAt = Date.now();
  private datapath?: DatapathThread;
  private api?: Awaited<ReturnType<typeof startControlServer>>;
  private stopping?: Promise<void>;
  private vrrp?: VrrpService;
  private readonly socketPath: string;

  constructor(
    readonly config: NodeConfig,
    readonly log: Logger,
  ) {
    this.socketPath = resolveControlSocket(config.api.socket);
  }

  async start(): Promise<void> {
    const dp = this.config.datapath;
    this.datapath = await DatapathThread.start(
      { tunName: dp.tun, offloads: dp.offloads, batchSize: dp.batchSize, maxBatchesPerWake: dp.maxBatchesPerWake },
      (err) => {
        this.log.fatal({ err: err.message }, 'datapath thread died; stopping the node');
        void this.stop(1);
      },
    );
    this.log.info({ tun: dp.tun, offloads: dp.offloads, vnetHdrLen: this.datapath.vnetHdrLen }, 'datapath running');
    await setupTunRouting({
      tun: dp.tun,
      interfaces: dp.interfaces,
      table: dp.routeTable,
      rulePriority: dp.rulePriority,
      mtu: dp.mtu,
      txQueueLen: dp.txQueueLen,
    });
    this.log.info({ interfaces: dp.interfaces, table: dp.routeTable }, 'traffic of the protected interfaces now goes through the filter');
    const metrics = createNodeMetrics({ nodeName: this.config.node.name, datapathCounters: () => this.datapath?.counters() ?? {} });
    this.api = await startControlServer({ status: () => this.status(), metrics }, this.socketPath, this.log);
    this.log.info({ socket: this.socketPath }, 'control socket listening');
    if (this.config.vrrp) {
      this.vrrp = new VrrpService(this.config.vrrp, this.log);
      await this.vrrp.start();
    }
  }

  status(): NodeStatus {
    const dp = this.config.datapath;
    return {
      node: this.config.node.name,
      role: this.vrrp?.status()?.state ?? 'standalone',
      vrrp: this.vrrp?.status(),
      pid: process.pid,
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      datapath: {
        tun: dp.tun,
        offloads: dp.offloads,
        vnetHdrLen: this.datapath?.vnetHdrLen ?? 0,
        counters: this.datapath?.counters() ?? {},
        native: this.datapath?.nativeStats() ?? {},
      },
    };
  }

  /** Idempotent; resolves when everything is released. */
  stop(exitCode = 0): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('stopping');
      // Resign first: the peer takes the VIPs after Skew_Time instead of Master_Down_Interval.
      if (this.vrrp) await this.vrrp.stop().catch((e: Error) => this.log.warn({ err: e.message }, 'vrrp stop'));
      if (this.api) await stopControlServer(this.api, this.socketPath).catch((e: Error) => this.log.warn({ err: e.message }, 'api close'));
      if (this.datapath) await this.datapath.stop();
      const dp = this.config.datapath;
      if (!dp.failClosed) await teardownTunRouting({ interfaces: dp.interfaces, table: dp.routeTable, rulePriority: dp.rulePriority });
      this.log.info({ exitCode }, 'stopped');
      process.exitCode = exitCode;
    })();
    return this.stopping;
  }
}

export async function runNode(configFile: string): Promise<number> {
  const config = await loadConfig(configFile);
  const log = createLogger(config.node.name, config.log.level);
  const daemon = new NodeDaemon(config, log);
  const done = new Promise<number>((resolve) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      log.info({ signal: sig }, 'signal received');
      void daemon.stop(0).then(() => resolve(0));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    process.on('SIGHUP', () => log.info('SIGHUP: nothing reloadable yet in this version'));
  });
  try {
    await daemon.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'node failed to start');
    await daemon.stop(1);
    throw err;
  }
  return done;
}
