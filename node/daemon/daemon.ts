/**
 * `hafw node --config FILE`: one firewall node. Wires the datapath thread, the kernel
 * plumbing and the control API, and owns the process lifecycle: SIGTERM/SIGINT stop
 * cleanly, SIGHUP reloads what can be reloaded.
 */
import type { Logger } from 'pino';
import { DatapathThread, OwnTrafficRouting, inputDeviceNames, outputTable, rulePriorities, setupTunRouting, teardownTunRouting } from '../datapath/index.js';
import { startCommandRunner, stopCommandRunner } from './command-runner.js';
import { startControlServer, startManagementServer, stopControlServer, resolveControlSocket, createNodeMetrics, EventBus, StreamLimit, SyncAlarmWatcher, TapHub, buildClusterInfo, type NodeStatus, type NodeView } from '../api/index.js';
import { RulesetService, type RulesetChange } from './ruleset-service.js';
import { SyncAloneGuard } from './sync-alone-guard.js';
import { RulesetCluster, sourceHash } from './ruleset-cluster.js';
import { loadConfig, type NodeConfig } from './config.js';
import { createLogger } from './logger.js';
import { writeRulesetLog } from './ruleset-log.js';
import { VrrpService, DrillService } from '../ha/index.js';
import { takeoverPhases } from '../../failover/index.js';
import { RulesetEngine, expandIncludes, type SourceMap, type TraceRecordOut } from '../ruleset/index.js';
import type { CtEventFilter, CtEventOut } from '../conntrack/index.js';
import { datapathClock } from '../datapath/shared/clock.js';
import { readInterfaceAddresses, readLocalAddresses, readMainRoutes } from '../datapath/control/route-source.js';
import type { PlainAddress, PlainRoute } from '../datapath/shared/messages.js';
import { EffectWarningsCache } from '../datapath/control/effect-warnings-cache.js';
import { lockoutWarnings } from '../datapath/control/lockout-check.js';
import { readFile } from 'node:fs/promises';
import { readNodeSecrets, type NodeSecrets } from './secrets.js';
import { reloadListenerTls, warnCertExpiry } from './api-tls.js';
import { VrrpReadiness } from './readiness.js';
import { buildInfo } from '../build-info.js';
import { SystemdNotifier, reloadWithNotify, reportReadiness, startWatchdog, type ReadySource } from './sd-notify.js';
import type { SyncSettings, VrrpConfig } from './config.js';
import type { DatapathSyncSettings } from '../datapath/shared/messages.js';

export class NodeDaemon {
  private readonly startedAt = Date.now();
  private datapath?: DatapathThread;
  private api?: Awaited<ReturnType<typeof startControlServer>>;
  private stopping?: Promise<void>;
  private vrrp?: VrrpService;
  private mgmt?: Awaited<ReturnType<typeof startManagementServer>>;
  /** The notAfter (Unix seconds) of the certificate the management listener serves now. */
  private tlsNotAfter?: number;
  /**
   * The control thread's copy of the rule engine: validates, lists, emits events. It holds
   * the node's caps (ruleset.maxBytes ...): every ruleset, whatever its way in, is parsed
   * and compiled here first, on the thread that runs VRRP.
   */
  readonly rules: RulesetEngine;
  /** The ruleset API: transactions go to `rules` first, then to the datapath thread; events follow. */
  private readonly rulesetApi: RulesetService;
  /** Concurrent event streams, per listener (api.maxEventStreams). */
  private readonly socketStreams: StreamLimit;
  private readonly mgmtStreams: StreamLimit;
  /** Cluster-wide ruleset versions (ruleset.dist; needs sync). */
  rulesetCluster?: RulesetCluster;
  private routeTimer?: NodeJS.Timeout;
  /** The node's own output through the TUN device, and the anti-spoof rules (own-traffic-routes.ts). */
  private ownTraffic?: OwnTrafficRouting;
  /** Removes timed-out set elements from both ruleset engines (RulesetService.expireElements). */
  private expiryTimer?: NodeJS.Timeout;
  /** The node-wide event bus (GET /v1/events): ruleset, vrrp, sync, drill, ruleset-dist. */
  readonly events = new EventBus();
  private syncAlarmTimer?: NodeJS.Timeout;
  private lastRoutes = '';
  /** The node's routes and addresses as last read (route refresh), for the lock-out check. */
  private routeList: PlainRoute[] = [];
  private addressList: PlainAddress[] = [];
  private lastAddresses = '';
  private aloneGuard?: SyncAloneGuard;
  /** What VRRP waits for before it may take the VIPs (startVrrp); undefined: nothing. */
  private readiness?: VrrpReadiness;
  /** systemd notifications (READY, WATCHDOG, STOPPING); inert when not run by systemd. */
  notifier?: SystemdNotifier;
  private readonly socketPath: string;
  /** Why the node is failing stop (a part of it died), undefined while healthy. */
  fault: string | undefined;
  private resolveExited!: (code: number) => void;
  /** Settles with the exit code once stop() finished, whoever started it (signal or fault). */
  readonly exited = new Promise<number>((resolve) => (this.resolveExited = resolve));

  constructor(
    readonly config: NodeConfig,
    readonly log: Logger,
    /** The file the config came from: it is a secret file too when it holds sync.key. */
    private readonly configFile?: string,
  ) {
    this.socketPath = resolveControlSocket(config.api.socket);
    // With the shared input device the datapath only infers the input interface: rules that
    // need the real one (fib saddr . iif oif) are refused with the reason.
    this.rules = new RulesetEngine({ clock: datapathClock, limits: config.ruleset.limits, inputInterfaces: inputInterfacesOf(config) });
    this.rulesetApi = new RulesetService(this.rules, async (ops) => this.datapath?.transaction(ops), { info: (o, m) => this.log.info(o, m), error: (o, m) => this.log.error(o, m) }, async (text, file) => this.datapath?.loadRuleset(text, file));
    this.rulesetApi.datapathPrepare = (text, file, caps) => this.datapath?.prepareRuleset(text, file, caps);
    // Listings come from the copy that counts packets, once there is one (ruleset-service.ts).
    this.rulesetApi.datapathList = async (format, handles) => {
      if (!this.datapath) throw new Error('no datapath thread');
      return this.datapath.listRuleset(format, handles);
    };
    this.rulesetApi.datapathObjects = async (text, json) => {
      if (!this.datapath) throw new Error('no datapath thread');
      return this.datapath.objectCommand(text, json);
    };
    this.socketStreams = new StreamLimit(config.api.maxEventStreams);
    this.mgmtStreams = new StreamLimit(config.api.maxEventStreams);
  }

  /**
   * The start steps, in order. A step that throws stops the start; runNode then calls stop(),
   * which releases whatever the earlier steps set up (every stop step checks what exists).
   */
  async start(): Promise<void> {
    const secrets = await this.readSecrets();
    await this.startCommandHelper();
    const rulesetText = await this.loadRuleset();
    const sync = await this.startDatapath(secrets);
    await this.plumbKernel();
    await this.loadDatapathRuleset(rulesetText);
    this.startOwnTraffic();
    await this.startRulesetCluster(sync, rulesetText);
    await this.startRouteRefresh();
    await this.startApi(secrets);
    this.startSync();
    await this.startVrrp();
  }

  /** Secrets first: a key file anyone may read stops the start before anything is touched. */
  private readSecrets(): Promise<NodeSecrets> {
    return readNodeSecrets(this.config, this.log, this.configFile);
  }

  /**
   * Before the tables exist: later forks (ip for routes, addresses, VIPs) come from this
   * small helper, not from a process holding hundreds of MB (command-runner.ts).
   */
  private async startCommandHelper(): Promise<void> {
    await startCommandRunner().catch((e: Error) => this.log.warn({ err: e.message }, 'command helper not started; commands are spawned directly'));
  }

  /**
   * The ruleset is parsed, validated and compiled on the control thread first: a bad file
   * stops the start with its file:line:col before anything touches the network.
   */
  private async loadRuleset(): Promise<string | undefined> {
    const file = await this.readRulesetFile();
    const rulesetText = file?.text;
    if (file !== undefined) {
      const r = this.rules.load(file.text, this.rulesetFile, file.sources);
      this.log.info({ file: this.rulesetFile, generation: r.generation, ms: Math.round(r.ms), ...this.rules.counts() }, 'ruleset loaded');
    } else this.log.warn('no ruleset configured: every packet is accepted');
    return rulesetText;
  }

  /** The datapath thread (and its sync worker); its death fails the node stop. */
  private async startDatapath(secrets: NodeSecrets): Promise<DatapathSyncSettings | undefined> {
    const dp = this.config.datapath;
    const ct = this.config.conntrack;
    const sync = this.config.sync ? await syncSettings(this.config.sync, this.config.node.name, secrets.syncKey!) : undefined;
    const timeoutsMs = Object.fromEntries(Object.entries(ct.timeouts).map(([k, v]) => [k, v * 1000]));
    this.datapath = await DatapathThread.start(
      {
        tunName: dp.tun,
        ...(dp.inputDevices === 'per-interface' ? { inputDevices: inputDeviceNames(dp.tun, dp.interfaces) } : {}),
        offloads: dp.offloads,
        batchSize: dp.batchSize,
        maxBatchesPerWake: dp.maxBatchesPerWake,
        conntrack: ct.enabled ? { maxEntries: ct.maxEntries, tcpLoose: ct.tcpLoose, tcpBeLiberal: ct.tcpBeLiberal, checksum: ct.checksum, prefaultIndex: ct.prefaultIndex, timeouts: timeoutsMs } : undefined,
        routes: [],
        sniffInterfaces: this.config.sniff?.interfaces,
        sync,
        fragments: {
          timeoutMs4: dp.fragments.timeoutIpv4 * 1000,
          timeoutMs6: dp.fragments.timeoutIpv6 * 1000,
          maxBytes: dp.fragments.maxBytes,
          maxFragments: dp.fragments.maxPerDatagram,
        },
        rulesetLog: { ratePerSec: this.config.log.rulesetRate, burst: this.config.log.rulesetBurst, pcapFile: this.config.log.pcapFile, pcapMaxBytes: this.config.log.pcapMaxBytes },
        nice: dp.nice,
      },
      (err) => this.failStop(err.message),
    );
    // Ruleset `log` statements: their lines (rate limited in the datapath) go to the node log.
    const rulesetLog = this.log.child({ component: 'ruleset-log' });
    this.datapath.onRulesetLog((lines) => {
      for (const l of lines) writeRulesetLog(rulesetLog, l);
    });
    const nice = this.datapath.nice;
    if (nice && 'error' in nice) this.log.warn({ nice: dp.nice, running: nice.nice, err: nice.error }, 'datapath: cannot set datapath.nice (needs CAP_SYS_NICE); the packet path competes with every other process for the CPU, and takeovers on a loaded host are slower');
    this.log.info({ tun: dp.tun, inputDevices: dp.inputDevices === 'per-interface' ? inputDeviceNames(dp.tun, dp.interfaces).map((d) => d.tun) : 'shared', offloads: dp.offloads, vnetHdrLen: this.datapath.vnetHdrLen, nice: nice?.nice }, 'datapath running');
    return sync;
  }

  /** The TUN device's link settings and the policy routes that steer the protected interfaces into it. */
  private async plumbKernel(): Promise<void> {
    const dp = this.config.datapath;
    await setupTunRouting({
      tun: dp.tun,
      interfaces: dp.interfaces,
      table: dp.routeTable,
      rulePriority: dp.rulePriority,
      managementSources: dp.managementSources,
      mtu: dp.mtu,
      txQueueLen: dp.txQueueLen,
      inputDevices: dp.inputDevices,
    });
  }

  private async loadDatapathRuleset(rulesetText: string | undefined): Promise<void> {
    if (rulesetText === undefined) return;
    const r = await this.datapath!.loadRuleset(rulesetText, this.rulesetFile);
    if (!r.ok) throw new Error(`datapath refused the ruleset the control thread accepted: ${r.error}`);
  }

  /**
   * The node's own output goes through the TUN device (the output hook) by a table that
   * follows main; forged own source addresses are dropped by the kernel. The route refresh
   * programs it.
   */
  private startOwnTraffic(): void {
    const dp = this.config.datapath;
    this.rulesetApi.warningsFor = (change) => this.rulesetWarnings(change);
    this.ownTraffic = new OwnTrafficRouting(
      { tun: dp.tun, interfaces: dp.interfaces, table: outputTable(dp.routeTable), antiSpoofPriority: rulePriorities(dp.rulePriority).antiSpoof },
      this.log.child({ component: 'own-traffic' }),
    );
  }

  /** Cluster-wide ruleset versions (ruleset.dist): over the sync segment, with the sync key. */
  private async startRulesetCluster(sync: DatapathSyncSettings | undefined, rulesetText: string | undefined): Promise<void> {
    if (!(this.config.ruleset.dist && sync && this.config.sync)) return;
    const t = sync.transport;
    this.rulesetCluster = await RulesetCluster.start(this.rulesetApi, this.rules, {
      settings: this.config.ruleset.dist, nodeName: this.config.node.name, nodeId: this.config.sync.nodeId, epoch: sync.config.epoch, key: sync.config.key,
      address: (t.mode === 'unicast' ? t.bindAddr : t.ifaceAddr)!, group: t.mode === 'multicast' ? t.group : undefined, peers: t.mode === 'unicast' ? (t.peers ?? []).map((p) => p.address) : undefined,
      maxDatagramBytes: this.config.sync.mtu - 28, clock: datapathClock,
      role: () => (this.config.vrrp ? (this.vrrp?.status()?.state ?? 'initialize') : 'standalone'),
    }, this.log.child({ component: 'ruleset-dist' }), rulesetText === undefined ? undefined : sourceHash(rulesetText));
    this.rulesetCluster.onEvent((e) => this.events.publish('ruleset-dist', e));
  }

  /** Routes and addresses now and every 2 s; set elements expire every second. */
  private async startRouteRefresh(): Promise<void> {
    const dp = this.config.datapath;
    await this.refreshRoutes();
    for (const w of this.rulesetWarnings()) this.log.warn({ warning: w }, 'ruleset warning');
    this.routeTimer = setInterval(() => void this.refreshRoutes(), 2000);
    this.expiryTimer = setInterval(() => {
      this.rulesetApi.expireElements().catch((e: Error) => this.log.error({ err: e.message }, 'set element expiry'));
    }, 1000);
    this.log.info({ interfaces: dp.interfaces, table: dp.routeTable }, 'traffic of the protected interfaces now goes through the filter');
  }

  /** The control socket and, when configured, the management listener (bearer token). */
  private async startApi(secrets: NodeSecrets): Promise<void> {
    const datapath = this.datapath!;
    // `hafw ct events` and `hafw trace`: the datapath produces them only while a stream is open.
    const ctEvents = new TapHub<CtEventFilter, CtEventOut>((subs) => datapath.setCtEventSubscribers(subs));
    datapath.onCtEvents((events) => ctEvents.dispatch(events));
    const trace = new TapHub<{ filter?: string }, TraceRecordOut>((list) => datapath.setTraceSessions(list.map((s) => ({ id: s.id, ...s.filter }))));
    datapath.onTrace((records) => trace.dispatch(records));
    const metrics = createNodeMetrics({
      streamDrops: () => ({ ctEvents: ctEvents.dropped, trace: trace.dropped }),
      nodeName: this.config.node.name,
      datapathCounters: () => this.datapath?.counters() ?? {},
      vrrp: this.config.vrrp ? () => this.vrrp?.status() : undefined,
      ruleset: () => ({ generation: this.rules.generation, rules: this.rules.counts().rules, elements: this.rules.elementCount() }),
      rulesetDist: () => this.rulesetCluster?.metrics(),
      ...(this.config.api.listen && this.config.api.tls ? { apiTlsCertExpiry: () => this.tlsNotAfter } : {}),
      eventStreams: () => [
        { listener: 'socket', open: this.socketStreams.open, refused: this.socketStreams.refused, max: this.socketStreams.max },
        ...(this.config.api.listen ? [{ listener: 'management', open: this.mgmtStreams.open, refused: this.mgmtStreams.refused, max: this.mgmtStreams.max }] : []),
      ],
    });
    this.rulesetApi.onChange((ev) => this.events.publish('ruleset', { generation: ev.generation, changes: ev.changes }));
    const drills = new DrillService({
      vrrp: this.config.vrrp
        ? {
            state: () => this.vrrp?.status()?.state ?? 'initialize',
            preempt: this.config.vrrp.preempt,
            resign: async (vrids) => this.vrrp!.resign(vrids),
            resume: () => this.vrrp?.resume(),
            onAdvert: (cb) => this.vrrp?.onAdvert(cb) ?? (() => undefined),
            groups: () => this.vrrp?.groupStates() ?? [],
          }
        : undefined,
      peerInSync: async () => {
        const r = this.config.sync ? await datapath.syncReport() : null;
        return r ? r.inSync && r.status.peers.length > 0 && r.status.peers.every((p) => p.inSync) : null;
      },
      publish: (type, data) => this.events.publish(type, data),
      traffic: {
        forwarded: () => datapath.forwardedPackets(),
        watch: (step, vrids) => datapath.drillWatch(step, vrids),
        watchEnd: () => datapath.drillWatch('end'),
      },
    });
    const view: NodeView = {
      events: this.events,
      control: {
        ctOp: this.config.conntrack.enabled ? (op) => datapath.ctOp(op) : undefined,
        ctEvents: this.config.conntrack.enabled ? ctEvents : undefined,
        trace,
        ctImport: this.config.conntrack.enabled ? (entries) => datapath.ctImport(entries) : undefined,
        cluster: async () => buildClusterInfo(this.status(), this.vrrp?.peersHeard() ?? [], this.config.sync ? await datapath.syncReport() : null, this.rulesetCluster?.dist.status(), this.config.vrrp?.vips ?? []),
        drills,
      },
      status: () => this.status(),
      metrics,
      ruleset: this.rulesetApi,
      cluster: { syncReport: () => datapath.syncReport(), ctCount: () => datapath.ctCount() },
      extraMetrics: async () => {
        const r = this.config.sync ? await datapath.syncReport() : null;
        return r ? [r.metrics] : [];
      },
    };
    // A PUT /v1/ruleset body is the text as a JSON string (escapes can double it) and a
    // JSON transaction is wordier than its text: room for both, and the engine checks the text.
    const bodyLimit = Math.min(2 * this.config.ruleset.limits.maxBytes + 64 * 1024, 2 ** 31 - 1);
    this.api = await startControlServer(view, this.socketPath, this.log, { streams: this.socketStreams, bodyLimit });
    if (this.config.api.listen) {
      const token = secrets.apiToken!;
      const metricsFile = this.config.api.metricsTokenFile;
      const metricsToken = secrets.metricsToken;
      if (metricsToken !== undefined && metricsToken === token) throw new Error(`api.metricsTokenFile ${metricsFile}: holds the same token as api.tokenFile; the metrics token must be a different one`);
      const viewToken = secrets.viewToken;
      const viewFile = this.config.api.viewTokenFile;
      // The same token in two files would give the weaker credential's holder the stronger one's rights.
      if (viewToken !== undefined && viewToken === token) throw new Error(`api.viewTokenFile ${viewFile}: holds the same token as api.tokenFile; the view token must be a different one`);
      if (viewToken !== undefined && viewToken === metricsToken) throw new Error(`api.viewTokenFile ${viewFile}: holds the same token as api.metricsTokenFile; the two must differ`);
      const { host, port } = this.config.api.listen;
      const tls = secrets.tls;
      this.mgmt = await startManagementServer(view, host, port, { token, metricsToken, viewToken, streams: this.mgmtStreams, bodyLimit, ...(tls ? { tls } : {}) }, this.log);
      if (tls) {
        this.tlsNotAfter = tls.notAfter;
        warnCertExpiry(tls, this.log);
      }
      this.log.info({ host, port, metricsToken: metricsToken !== undefined, viewToken: viewToken !== undefined, tls: tls ? { fingerprint: tls.fingerprint, validTo: tls.validTo, clientCa: tls.clientCa !== undefined } : false }, `management API listening (${tls ? (tls.clientCa ? 'HTTPS with client certificates, ' : 'HTTPS, ') : ''}bearer token required)`);
    }
    this.log.info({ socket: this.socketPath }, 'control socket listening');
  }

  /** State sync's events and alarms (the sync worker itself started with the datapath). */
  private startSync(): void {
    if (!this.config.sync) return;
    const datapath = this.datapath!;
    datapath.onInSync((v) => {
      this.log.info({ event: 'sync.inSync', inSync: v }, v ? 'state sync: in sync' : 'state sync: NOT in sync');
      this.events.publish('sync', { event: 'inSync', inSync: v });
    });
    // Resyncs, gaps, lost records and dropped (e.g. unauthenticated) messages, as alarms.
    const alarms = new SyncAlarmWatcher();
    this.syncAlarmTimer = setInterval(() => {
      void datapath.syncReport().then((r) => {
        if (!r) return;
        for (const a of alarms.next(r.status)) {
          this.events.publish('sync', a);
          if (a.event === 'auth') {
            this.log.warn({ source: a.source, count: a.sourceCount, reason: a.reason, increase: a.increase, total: a.total }, 'state sync: datagrams failing authentication (another cluster key, or forged)');
          }
        }
      }).catch(() => undefined);
    }, 2000);
    this.syncAlarmTimer.unref();
    this.log.info({ interface: this.config.sync.interface, nodeId: this.config.sync.nodeId, mode: this.config.sync.peers.length > 0 ? 'unicast' : 'multicast' }, 'state sync running');
  }

  /** Last: VRRP may take the VIPs only once everything that carries their traffic runs. */
  private async startVrrp(): Promise<void> {
    if (!this.config.vrrp) return;
    const datapath = this.datapath!;
    const readiness = this.vrrpReadiness(this.config.vrrp, datapath);
    this.readiness = readiness;
    this.vrrp = new VrrpService(this.config.vrrp, this.log, readiness);
    if (readiness) {
      this.vrrp.onAdvert(() => readiness.recheck());
      this.aloneGuard?.start(() => readiness.recheck());
    }
    // The datapath adopts the group's replicas when this node becomes master of a group.
    this.vrrp.on((e, group) => {
      if (e.type === 'state') this.datapath?.setMaster(e.to === 'master', group.vrid);
    });
    const many = this.config.vrrp.groups.length > 1;
    this.vrrp.on((e, group) => {
      // With several groups, every vrrp event names its group.
      const g = many ? { group: group.name, vrid: group.vrid } : {};
      if (e.type === 'state') this.events.publish('vrrp', { event: 'state', ...g, from: e.from, to: e.to, reason: e.reason, priority: e.priority, inSync: e.inSync });
      else if (e.type === 'alarm') this.events.publish('vrrp', { event: 'alarm', ...g, code: e.code, active: e.active, ...(e.link !== undefined ? { link: e.link } : {}), ...(e.failures !== undefined ? { failures: e.failures, error: e.error } : {}) });
      // VIPs came or went: masquerade's source follows them at once, not at the next poll.
      else if (e.type === 'vips') void this.refreshRoutes();
      else if (e.type === 'takeover') this.events.publish('vrrp', { event: 'takeover', ...g, reason: e.timing.reason, ...takeoverPhases(e.timing) });
    });
    if (this.config.sniff) {
      // Sniff while standby (master of no group); as master the TUN path tracks the traffic itself.
      this.vrrp.on((e) => {
        if (e.type === 'state') this.datapath?.setSniffing((this.vrrp?.mastered().length ?? 0) === 0);
      });
      datapath.setSniffing(true);
      this.log.info({ interfaces: this.config.sniff.interfaces }, 'sniff mode: learning connections from the segments while standby');
    }
    await this.vrrp.start();
  }

  /**
   * Until state sync has the whole table, VRRP neither takes nor preempts the VIPs; nor
   * before the ruleset is the cluster's current version (readiness.ts). Undefined when
   * neither sync nor ruleset-dist runs: VRRP is then always ready.
   */
  private vrrpReadiness(vrrp: VrrpConfig, datapath: DatapathThread): VrrpReadiness | undefined {
    const rc = this.rulesetCluster;
    if (!this.config.sync && !rc) return undefined;
    // State sync counts a node that hears no sync peer within its startup grace as alone,
    // hence in sync. That must not let it preempt with an empty table while the VRRP peer is
    // alive and only the sync link is broken: for VRRP, "alone" needs no VRRP router heard
    // either, for longer than a master would stay silent (Master_Down_Interval, plus margin).
    const aloneAfterMs = 3 * vrrp.advertIntervalMs + 1000;
    const alone = this.config.sync ? new SyncAloneGuard(aloneAfterMs, () => datapath.syncReport()) : undefined;
    this.aloneGuard = alone;
    const sync = !!this.config.sync;
    return new VrrpReadiness(
      () => ({
        syncInSync: sync ? (datapath.syncInSync ?? false) : undefined,
        aloneGuardAllows: alone?.allowsReady(this.vrrp?.peersHeard().length ?? 0, this.vrrp?.peersHeard().filter((p) => p.lastHeardMs < aloneAfterMs).length ?? 0),
        rulesetCurrent: rc?.ready,
      }),
      (changed) => {
        if (sync) datapath.onInSync(changed);
        const off = rc?.onReadyChange(changed);
        return () => off?.();
      },
    );
  }

  /** What READY=1 waits for once started: VRRP's readiness; undefined when nothing holds VRRP back (or no VRRP). */
  readySource(): ReadySource | undefined {
    const r = this.readiness;
    if (!r) return undefined;
    return {
      get inSync() {
        return r.inSync;
      },
      get reason() {
        const v = r.verdict;
        return v.ready ? undefined : v.reason;
      },
      onChange: (cb) => r.onChange(cb),
    };
  }

  private get rulesetFile(): string | undefined {
    return this.config.ruleset.file;
  }

  /**
   * The file's text with its includes expanded (includes.ts): what the control engine
   * checks is what the datapath's copy loads and what the cluster's source hash covers, so
   * an edit of an included file is seen as a change, and no copy reads the files again.
   */
  private async readRulesetFile(): Promise<{ text: string; sources?: SourceMap } | undefined> {
    const file = this.rulesetFile;
    if (!file) return undefined;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`ruleset.file ${file}: ${(err as Error).message}`);
    }
    if (text.trimStart().startsWith('{')) return { text };
    const x = expandIncludes(text, file, { includePath: this.config.ruleset.includePath, maxBytes: this.config.ruleset.limits.maxBytes });
    return { text: x.text, sources: x.sources };
  }

  /**
   * The datapath derives iif/oif from the main routing table and needs the node's own
   * addresses (local delivery; masquerade prefers a VIP held now); keep its copies current.
   */
  private async refreshRoutes(): Promise<void> {
    try {
      const routes = await readMainRoutes(this.config.datapath.tun);
      this.routeList = routes;
      const key = JSON.stringify(routes);
      if (key !== this.lastRoutes) {
        this.lastRoutes = key;
        this.datapath?.setRoutes(routes);
      }
      const addresses = await readLocalAddresses((this.config.vrrp?.vips ?? []).map((v) => v.address));
      this.addressList = addresses;
      const akey = JSON.stringify(addresses);
      if (akey !== this.lastAddresses) {
        this.lastAddresses = akey;
        this.datapath?.setAddresses(addresses);
      }
      // The output table follows main (every route type) and the addresses; it changes
      // only what differs.
      await this.ownTraffic?.update(addresses);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot read the routing table or the addresses');
    }
  }

  /**
   * What the running ruleset cannot make true here, and whether it cuts the management
   * listener off from the management sources (probed on a scratch copy of the ruleset, so
   * the live counters, quotas and limits are not touched).
   */
  private rulesetWarnings(change?: RulesetChange): string[] {
    const dp = this.config.datapath;
    // Follows the commits: a transaction recomputes the chains it touched, not the ruleset.
    this.effectWarnings ??= new EffectWarningsCache(this.rules, { interfaces: dp.interfaces, syncInterface: this.config.sync?.interface });
    const out = this.effectWarnings.warnings();
    const listen = this.config.api.listen;
    if (listen && this.addressList.length > 0) {
      out.push(...lockoutWarnings(this.probeEngineFor(change), { listen, sources: dp.managementSources, addresses: this.addressList, routes: this.routeList, interfaces: dp.interfaces }));
    }
    return out;
  }

  /**
   * The lock-out probe's copy of the ruleset (probing the control engine would move its
   * counters, quotas and limits). It follows each commit as the datapath's copy does: a
   * transaction costs what the transaction costs, not a reload of the whole ruleset; it is
   * rebuilt from the control engine only when it cannot follow (first use, SIGHUP, a
   * transaction it refuses because element changes it skipped).
   */
  private probeEngine?: RulesetEngine;
  private effectWarnings?: EffectWarningsCache;
  private probeEngineFor(change: RulesetChange | undefined): RulesetEngine {
    const e = this.probeEngine;
    try {
      if (e && change && 'ops' in change) {
        e.transaction(structuredClone(change.ops) as never, undefined, '<lock-out probe>');
        return e;
      }
      if (change && 'text' in change) {
        const fresh = new RulesetEngine({ limits: this.config.ruleset.limits, inputInterfaces: this.rules.inputInterfaces });
        fresh.load(change.text, '<lock-out probe>');
        return (this.probeEngine = fresh);
      }
    } catch {
      // Fall through to a copy of the control engine's ruleset.
    }
    const fresh = new RulesetEngine({ limits: this.config.ruleset.limits, inputInterfaces: this.rules.inputInterfaces });
    fresh.load(this.rules.toJSON());
    return (this.probeEngine = fresh);
  }

  /** SIGHUP: re-read the ruleset file and the listener's TLS files; a bad file changes nothing. */
  async reload(): Promise<void> {
    if (this.mgmt && this.config.api.tls) {
      const pair = await reloadListenerTls(this.mgmt, this.config.api.tls, this.config.security.secretFileMode, this.log);
      if (pair) this.tlsNotAfter = pair.notAfter;
    }
    await this.reloadRuleset();
  }

  private async reloadRuleset(): Promise<void> {
    const file = await this.readRulesetFile().catch((e: Error) => (this.log.error({ err: e.message }, 'reload: ruleset file unreadable; keeping the running ruleset'), null));
    if (file === null) return;
    const text = file?.text;
    try {
      const r = this.rules.load(text ?? '', this.rulesetFile, file?.sources);
      const d = await this.datapath?.loadRuleset(text, this.rulesetFile);
      if (d && !d.ok) throw new Error(`datapath: ${d.error}`);
      this.log.info({ generation: r.generation, ...this.rules.counts() }, 'reload: ruleset replaced');
      for (const w of this.rulesetWarnings()) this.log.warn({ warning: w }, 'ruleset warning');
      // On the writer the file becomes the next cluster version; elsewhere it is drift.
      await this.rulesetCluster?.reloaded(text);
    } catch (err) {
      this.log.error({ event: 'ruleset.reloadRejected', err: (err as Error).message }, 'reload: ruleset rejected; keeping the running ruleset');
    }
  }

  status(): NodeStatus {
    const dp = this.config.datapath;
    return {
      node: this.config.node.name,
      version: buildInfo(),
      role: this.vrrp?.status()?.state ?? 'standalone',
      vrrp: this.vrrp?.status(),
      ruleset: { file: this.rulesetFile ?? null, generation: this.rules.generation, ...this.rules.counts() },
      conntrack: { enabled: this.config.conntrack.enabled, maxEntries: this.config.conntrack.maxEntries, tcpLoose: this.config.conntrack.tcpLoose },
      sync: this.config.sync ? { inSync: this.datapath?.syncInSync ?? false, nodeId: this.config.sync.nodeId } : undefined,
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

  /**
   * A part the node cannot run without died (the datapath thread, or its sync worker): never
   * a half-dead node that still holds the VIPs. It stops as on SIGTERM (VRRP resigns so the
   * peer takes over after Skew_Time, the VIPs go, the TUN route stays a blackhole with
   * datapath.failClosed) and exits non-zero so systemd or Docker restarts it; until the API
   * closes, queries about the table and sync answer 503 with the reason.
   */
  failStop(reason: string): void {
    if (this.fault !== undefined) return;
    this.fault = reason;
    this.log.fatal({ reason }, `node fails stop: ${reason}; releasing the VIPs and exiting with code 1`);
    void this.stop(1);
  }

  /**
   * Idempotent; resolves when everything is released. The stop steps, in order: not simply
   * the start steps reversed, because two safety orders differ from it (see each step).
   */
  stop(exitCode = 0): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('stopping');
      this.notifier?.stopping(this.fault ? `failing stop: ${this.fault}` : 'stopping');
      this.stopTimers();
      await this.stopVrrp();
      await this.stopRulesetCluster();
      await this.stopApi();
      await this.stopDatapath();
      await this.unplumbKernel();
      stopCommandRunner();
      this.log.info({ exitCode }, 'stopped');
      process.exitCode = exitCode;
    })().finally(() => this.resolveExited(exitCode));
    return this.stopping;
  }

  /**
   * First, before anything is awaited: the route refresh, set expiry, alone-guard and sync
   * alarm timers of startRouteRefresh, startVrrp and startSync, so nothing polls or
   * reprograms a part while a later step takes it down.
   */
  private stopTimers(): void {
    if (this.routeTimer) clearInterval(this.routeTimer);
    if (this.expiryTimer) clearInterval(this.expiryTimer);
    this.aloneGuard?.stop();
    if (this.syncAlarmTimer) clearInterval(this.syncAlarmTimer);
  }

  /** Resign first: the peer takes the VIPs after Skew_Time instead of Master_Down_Interval. */
  private async stopVrrp(): Promise<void> {
    if (this.vrrp) await this.vrrp.stop().catch((e: Error) => this.log.warn({ err: e.message }, 'vrrp stop'));
  }

  private async stopRulesetCluster(): Promise<void> {
    if (this.rulesetCluster) await this.rulesetCluster.stop().catch((e: Error) => this.log.warn({ err: e.message }, 'ruleset-dist stop'));
  }

  private async stopApi(): Promise<void> {
    if (this.mgmt) await this.mgmt.close().catch(() => undefined);
    if (this.api) await stopControlServer(this.api, this.socketPath).catch((e: Error) => this.log.warn({ err: e.message }, 'api close'));
  }

  private async stopDatapath(): Promise<void> {
    if (this.datapath) await this.datapath.stop();
  }

  /**
   * After the datapath stopped (unlike the start order): until the routes go, the
   * protected interfaces' traffic and the node's own go into a TUN device nobody reads,
   * never around the filter. With datapath.failClosed the routes stay, a blackhole.
   */
  private async unplumbKernel(): Promise<void> {
    const dp = this.config.datapath;
    if (dp.failClosed) return;
    await this.ownTraffic?.clear();
    await teardownTunRouting({ interfaces: dp.interfaces, table: dp.routeTable, rulePriority: dp.rulePriority, managementSources: dp.managementSources, inputDevices: dp.inputDevices });
  }
}

/** What the node's datapath knows of a packet's input interface (EngineOptions.inputInterfaces). */
export function inputInterfacesOf(config: NodeConfig): 'exact' | 'inferred' {
  return config.datapath.inputDevices === 'per-interface' ? 'exact' : 'inferred';
}

/** Boot epoch for the sync protocol: must grow on every start; quarter-seconds since 2024 fit its 32 bits for decades. */
function bootEpoch(): number {
  return Math.floor((Date.now() - Date.UTC(2024, 0, 1)) / 250) >>> 0;
}

async function interfaceAddress(ifname: string): Promise<string> {
  const a = (await readInterfaceAddresses(ifname, 4))[0]?.local;
  if (!a) throw new Error(`sync.interface ${ifname} has no IPv4 address (set sync.address)`);
  return a;
}

async function syncSettings(s: SyncSettings, nodeName: string, key: Uint8Array): Promise<DatapathSyncSettings> {
  const ifaceAddr = s.address ?? (await interfaceAddress(s.interface));
  const unicast = s.peers.length > 0;
  return {
    config: { nodeId: s.nodeId, epoch: bootEpoch(), key, mtu: s.mtu, flushDelayMs: s.flushDelayMs, resendQueueSize: s.resendQueueSize },
    transport: unicast
      ? { mode: 'unicast', port: s.port, bindAddr: ifaceAddr, peers: s.peers.map((address) => ({ address, port: s.port })) }
      : { mode: 'multicast', port: s.port, group: s.group, ifaceAddr },
    ringSlots: s.ringSlots,
    metricLabels: { node: nodeName },
    ...(s.handoff ? { handoffPort: s.handoffPort, handoffRate: s.handoffRate } : {}),
    ...(s.deferMs > 0 ? { deferMs: s.deferMs } : {}),
  };
}

export async function runNode(configFile: string): Promise<number> {
  const config = await loadConfig(configFile);
  const log = createLogger(config.node.name, config.log.level);
  const daemon = new NodeDaemon(config, log, configFile);
  // Before anything is started: the processes the node starts must not inherit the socket.
  const notifier = new SystemdNotifier(process.env, log);
  SystemdNotifier.unsetEnvironment();
  daemon.notifier = notifier;
  const onSignal = (sig: NodeJS.Signals): void => {
    log.info({ signal: sig }, 'signal received');
    void daemon.stop(0);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // systemd hears RELOADING=1 ... READY=1 around each reload (sd-notify.ts).
  const reload = reloadWithNotify(notifier, () => daemon.reload());
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reloading the ruleset and the management listener certificate');
    reload().catch((err: Error) => log.error({ err: err.message }, 'reload failed'));
  });
  // A signal's stop exits 0; a fail-stop (daemon.failStop) exits 1.
  const done = daemon.exited;
  try {
    await daemon.start();
  } catch (err) {
    log.error({ err: (err as Error).message }, 'node failed to start');
    await daemon.stop(1);
    throw err;
  }
  // The watchdog proves the control thread's loop runs (VRRP's decisions, the API); it
  // starts after the start steps, whose longest (a ruleset at its caps) is far below
  // WatchdogSec (deploy/systemd/hafw.service).
  const watchdog = startWatchdog(notifier, () => daemon.fault === undefined);
  const offReady = reportReadiness(notifier, daemon.readySource(), () => (config.vrrp ? 'ready: VRRP may take the VIPs' : 'ready (no VRRP: a standalone firewall)'));
  if (notifier.enabled) log.info({ socket: notifier.socket, watchdogMs: notifier.watchdogIntervalMs }, 'systemd notifications on');
  return done.finally(() => {
    if (watchdog) clearInterval(watchdog);
    offReady();
  });
}
