/**
 * The datapath thread's wiring: owns the packet device and the packet loop and does nothing
 * else (DESIGN §3). The control thread talks to it by messages; counters travel through
 * shared memory so reading them never disturbs the loop.
 *
 * It runs its own RulesetEngine (compiled rules are closures and cannot cross threads),
 * fed with exactly the loads and transactions the control thread's engine accepted; the
 * engine is deterministic, so both agree on handles and generations. Timed-out set
 * elements are removed the same way: the control thread sends the `delete element` batch
 * (lookups here ignore an expired element from the moment it expires).
 *
 * buildDatapath takes what a thread would give it as ports (where messages go, how the
 * device opens), so a test builds the whole datapath in-process on an in-memory device;
 * worker.ts adapts the worker thread's parentPort and workerData to it.
 */
import { PacketLoop } from './packet-loop.js';
import type { PacketDevice } from './packet-device.js';
import { FilterStage } from './filter-stage.js';
import { DefragStage } from './defrag-stage.js';
import { RejectReplies } from './reject.js';
import { RouteInterfaces, type RouteEntry } from './route-interfaces.js';
import { NO_LIMITS, RulesetEngine, StalePrepareError, type CommitResult } from '../../ruleset/index.js';
import { ConnTracker, CtSnapshot, runCtOp, CtQueryError } from '../../conntrack/index.js';
import { datapathClock } from '../shared/clock.js';
import { C } from '../shared/counters.js';
import { Sniffer } from './sniffer.js';
import { TakeoverAdopter } from './takeover-adopt.js';
import { TableWalker } from './sync-walk.js';
import { SyncBridge } from './sync-bridge.js';
import { setThreadNice } from './thread-priority.js';
import { DrillWatch } from './drill-watch.js';
import { udpHandoffTransport, wireHandoff } from './handoff.js';
import { Deferral } from './defer.js';

import { ConntrackGc } from './ct-gc.js';
import { runDatapathExtensions } from './extensions.js';
import { NatState } from './nat-state.js';
import { importInSlices } from './ct-import.js';
import { LocalAddresses } from './local-addresses.js';
import { DEFAULT_RULESET_LOG, LogCollector } from './log-collector.js';
import { DEFAULT_PCAP_MAX_BYTES, PcapWriter } from './pcap-writer.js';
import { CtEventTap } from './ct-event-tap.js';
import { TraceCollector } from './trace-collector.js';
import { EventRing, SyncWorkerHandle, syncClock } from '../../../sync-protocol/index.js';
import type { DatapathWorkerData, ToDatapath, FromDatapath, PlainAddress, PlainRoute } from '../shared/messages.js';

/** First packets held at most by the deferral (2 KiB each: 2 MiB; 20 ms of 50,000 new connections a second). */
const DEFER_MAX_PACKETS = 1024;

/** What the datapath needs from the thread it runs in. */
export interface DatapathPorts {
  /** Delivers a message to the control thread. */
  send(m: FromDatapath): void;
  /** Opens the packet device (in a node: the TUN device `data.tunName`); may throw. */
  openDevice(data: DatapathWorkerData): PacketDevice;
}

export interface Datapath {
  /** Handles one message from the control thread (answers through ports.send). */
  handle(m: ToDatapath): void;
}

/**
 * Builds the datapath and starts its loop; resolves once it has sent `ready` (or `error`:
 * it never rejects, the control thread hears of the failure and stops it).
 */
export async function buildDatapath(data: DatapathWorkerData, ports: DatapathPorts): Promise<Datapath> {
  const send = ports.send;
  // First, so that the sync worker started below inherits it (thread-priority.ts).
  const nice = data.nice === undefined ? undefined : setThreadNice(data.nice);

  // `log` statements' lines go to the control thread (the node log), batched and rate limited.
  const logCollector = new LogCollector(data.rulesetLog ?? DEFAULT_RULESET_LOG, new Float64Array(data.counters), (lines) => send({ type: 'ruleset-log', lines }));
  // No caps here: this copy only ever loads what the control thread's engine accepted under
  // the node's caps, and must never refuse it (ruleset/limits.ts).
  const counterView = new Float64Array(data.counters);
  const engine = new RulesetEngine({
    clock: datapathClock, limits: NO_LIMITS, log: logCollector,
    // As the control thread's engine (daemon.ts): exact with per-interface input devices.
    inputInterfaces: (data.inputDevices?.length ?? 0) > 0 ? 'exact' : 'inferred',
    onSetFull: () => void (counterView[C.ruleset_set_full] += 1),
  });
  const routes = new RouteInterfaces();
  const ct = data.conntrack
    ? new ConnTracker({
        maxEntries: data.conntrack.maxEntries,
        tcpLoose: data.conntrack.tcpLoose,
        tcpBeLiberal: data.conntrack.tcpBeLiberal,
        checksum: data.conntrack.checksum ?? true,
        timeouts: data.conntrack.timeouts,
        now: datapathClock,
        // The index's pages mapped at start (conntrack.prefaultIndex, default on): no first
        // insert waits for the kernel to map a page, at the cost of the whole index being
        // resident from the start (96 bytes per maxEntries).
        prefaultIndex: data.conntrack.prefaultIndex ?? true,
      })
    : undefined;

  // NAT bindings live beside the conntrack entries they belong to.
  const nat = ct ? new NatState(ct.capacity) : undefined;
  const localAddresses = new LocalAddresses();
  /** Once the control thread sends the node's addresses, they (with VIPs) replace the routes' preferred sources. */
  let addressesKnown = false;
  const loadAddresses = (list: PlainAddress[]): void => {
    addressesKnown = true;
    localAddresses.load(list);
    nat?.setAddresses(list.map((a) => ({ ifId: engine.ifnames.idOf(a.ifname), family: a.family, bytes: Uint8Array.from(a.bytes), vip: a.vip })));
  };
  const loadRoutes = (list: PlainRoute[]): void => {
    routes.load(list.map((r): RouteEntry => ({ family: r.family, prefix: Uint8Array.from(r.prefix), len: r.len, ifId: r.reject === true ? 0 : engine.ifnames.idOf(r.ifname), mtu: r.mtu ?? 0, reject: r.reject === true })));
    // Until the addresses arrive, masquerade / redirect use a connected route's preferred source.
    if (!addressesKnown) nat?.setAddresses(list.filter((r) => r.src !== undefined).map((r) => ({ ifId: engine.ifnames.idOf(r.ifname), family: r.family, bytes: Uint8Array.from(r.src!) })));
  };
  loadRoutes(data.routes);

  // State sync: conntrack events -> ring -> sync worker (started from this thread, so the
  // records it receives come straight here, where the table lives).
  let syncBridge: SyncBridge | undefined;
  let syncRing: EventRing | undefined;
  let syncHandle: SyncWorkerHandle | undefined;
  let tableWalker: TableWalker | undefined;
  if (data.sync && ct) {
    syncRing = new EventRing(data.sync.ringSlots);
    syncBridge = new SyncBridge(ct, syncRing, nat);
    const bridge = syncBridge;
    ct.onEvent = (kind, entry) => bridge.onEvent(kind, entry);
  }
  // After the sync bridge: a Destroy event is announced (with its binding) before the port is released.
  if (ct && nat) nat.attach(ct);
  // Whatever a preloaded module registered (nothing in a node; the sync bench's injector).
  if (ct) runDatapathExtensions({ ct, bridge: syncBridge });
  // `hafw ct events`: hooked into the tracker only while someone subscribes (after sync and NAT).
  const ctEvents = ct ? new CtEventTap(ct, new Float64Array(data.counters), (events) => send({ type: 'ct-events', events }), datapathClock) : undefined;
  // `hafw trace`: consulted per packet only while a session is open.
  const trace = new TraceCollector(engine, new Float64Array(data.counters), (records) => send({ type: 'trace', records }), datapathClock);
  // Expiry while no packets flow (Linux's gc worker); a packet batch also sweeps, on the same cursor.
  const bridgeForGc = syncBridge;
  const ctGc = ct ? new ConntrackGc(ct, new Float64Array(data.counters), datapathClock, undefined, bridgeForGc && (() => bridgeForGc.ringRoom)) : undefined;
  ctGc?.start();
  // On becoming master: the replicas of the former owner become this node's, in the background.
  const adopter = ct && syncBridge ? new TakeoverAdopter(ct, syncBridge, new Float64Array(data.counters)) : undefined;
  // API drills: what becomes of the flows this node hands over (drill-watch.ts).
  const drillWatch = ct && syncBridge ? new DrillWatch(ct, new CtSnapshot(), datapathClock) : undefined;

  let sniffer: Sniffer | undefined;
  let device: PacketDevice | undefined;
  let handoff: { stop(): void } | undefined;
  let deferral: Deferral | undefined;
  // `reject` is answered (TCP reset / ICMP unreachable) by writing the reply into the device.
  const rejectReplies = new RejectReplies((b, o, l) => device?.inject(b, o, l));
  try {
    const pcapFile = data.rulesetLog?.pcapFile;
    if (pcapFile !== undefined) logCollector.pcap = new PcapWriter(pcapFile, data.rulesetLog?.pcapMaxBytes ?? DEFAULT_PCAP_MAX_BYTES);
    device = ports.openDevice(data);
    const filter = Object.assign(new FilterStage(engine, ct, routes, new Float64Array(data.counters), syncBridge, nat, localAddresses), { rejectReplies });
    filter.setTrace(trace);
    // Fragments are put together before the filter, like Linux's nf_defrag in front of conntrack.
    const stage = new DefragStage(
      filter,
      new Float64Array(data.counters),
      (b, o, l) => device?.inject(b, o, l),
      data.fragments,
    );
    // Each source's input interface id, resolved once (a name keeps its id forever).
    const sourceIfs = device.sources.map((n) => (n === undefined ? 0 : engine.ifnames.idOf(n)));
    const loop = new PacketLoop(device, {
      batchSize: data.batchSize, counters: data.counters, stage,
      onSource: (source) => void (filter.inputIf = sourceIfs[source] ?? 0),
    });
    loop.start();
    if (data.sync?.handoffPort !== undefined && ct && syncBridge) {
      handoff = startHandoff(data, device, stage, filter, ct, syncBridge);
    }
    if (data.sync?.deferMs !== undefined && syncRing) {
      const dev = device;
      const d = new Deferral({
        ring: syncRing, deferMs: data.sync.deferMs, maxPackets: DEFER_MAX_PACKETS, counters: new Float64Array(data.counters),
        inject: (b, o, l) => dev.inject(b, o, l), now: datapathClock,
      });
      filter.defer = (buf, offset, length) => d.hold(buf, offset, length);
      deferral = d;
    }
    if (data.sniffInterfaces && data.sniffInterfaces.length > 0) {
      if (!ct) throw new Error('sniff mode needs conntrack (conntrack.enabled: true)');
      sniffer = new Sniffer(data.sniffInterfaces, ct, new Float64Array(data.counters));
    }
    if (data.sync && syncRing && syncBridge && ct) {
      const bridge = syncBridge;
      // Resync walks read the table here, through the ring: the worker keeps no copy of it.
      const walker = new TableWalker(ct, bridge);
      tableWalker = walker;
      syncHandle = await SyncWorkerHandle.start(
        { config: data.sync.config, transport: data.sync.transport, ringSab: syncRing.sab, metricLabels: data.sync.metricLabels, tableWalk: true },
        bridge,
        (value) => send({ type: 'sync-inSync', value }),
        () => syncHandle?.rebuildLocal(bridge.dumpLocal(), syncClock()),
        // No restart: a new worker would need a new epoch and a full resync while the table
        // goes unreplicated; the node stops instead so the peer, in sync, takes over.
        (err) => send({ type: 'fatal', message: `state sync worker failed: ${err.message}` }),
        (start, records) => walker.request(start, records),
      );
    }
    send({ type: 'ready', tunName: device.name, vnetHdrLen: device.vnetHdrLen, ...(nice ? { nice } : {}) });
  } catch (err) {
    send({ type: 'error', message: (err as Error).message });
  }

  /** The replace prepared by the last ruleset-prepare, until its commit or abort. */
  let staged: { prepareId: number; text: string; file?: string; commit?: () => CommitResult } | undefined;
  const handle = (m: ToDatapath): void => {
    switch (m.type) {
      case 'stop':
        logCollector.close();
        ctEvents?.setSubscribers([]);
        trace.setSessions([]);
        ctGc?.stop();
        adopter?.stop();
        tableWalker?.stop();
        handoff?.stop();
        deferral?.stop();
        void syncHandle?.stop();
        sniffer?.close();
        device?.close();
        device = undefined;
        send({ type: 'stopped' });
        break;
      case 'routes':
        loadRoutes(m.routes);
        break;
      case 'addresses':
        loadAddresses(m.list);
        break;
      case 'sniff':
        sniffer?.setActive(m.active);
        break;
      case 'vrrp-master':
        // The bridge first: what the walk adopts is tagged with a group mastered here.
        syncBridge?.setMastered(m.vrid, m.master);
        adopter?.setMaster(m.master, m.vrid);
        break;
      case 'sync-report':
        if (!syncHandle || !syncBridge || !syncRing) send({ type: 'sync-report', id: m.id, report: null });
        else {
          const h = syncHandle;
          const b = syncBridge;
          const r = syncRing;
          void h.metrics().then(
            (x) => send({ type: 'sync-report', id: m.id, report: { inSync: h.inSync, metrics: x.metrics, status: x.status, peers: x.peers, bridge: { ...b.counts }, ringDepth: r.depth, ringDrops: r.drops } }),
            (err: Error) => send({ type: 'sync-report', id: m.id, report: null, error: `state sync worker failed: ${err.message}` }),
          );
        }
        break;
      case 'ct-count':
        send({ type: 'ct-count', id: m.id, total: ct?.count() ?? 0, replicated: ct?.countReplicated() ?? 0, capacity: ct?.capacity ?? 0 });
        break;
      case 'ct-op':
        if (!ct) send({ type: 'ct-op', id: m.id, error: { field: '', message: 'conntrack is off on this node (conntrack.enabled: false)' } });
        else {
          try {
            send({ type: 'ct-op', id: m.id, result: runCtOp(ct, m.op) });
          } catch (err) {
            send({ type: 'ct-op', id: m.id, error: { field: err instanceof CtQueryError ? err.field : '', message: (err as Error).message } });
          }
        }
        break;
      case 'drill-watch':
        if (!drillWatch || !syncBridge) send({ type: 'drill-watch', id: m.id, error: 'no flows to watch: conntrack and state sync are needed' });
        else if (m.step === 'begin') send({ type: 'drill-watch', id: m.id, count: drillWatch.begin(m.vrids) });
        else if (m.step === 'freeze') {
          const n = drillWatch.freeze();
          syncBridge.drillWatch = drillWatch;
          send({ type: 'drill-watch', id: m.id, count: n });
        } else {
          syncBridge.drillWatch = null;
          send({ type: 'drill-watch', id: m.id, result: drillWatch.end() });
        }
        break;
      case 'ct-events':
        ctEvents?.setSubscribers(m.subscribers);
        break;
      case 'trace':
        trace.setSessions(m.sessions);
        break;
      case 'ct-import':
        if (!ct) send({ type: 'ct-import', id: m.id, error: 'conntrack is off on this node (conntrack.enabled: false)' });
        else importInSlices(ct, nat, m.entries, datapathClock, (result) => send({ type: 'ct-import', id: m.id, result }));
        break;
      case 'ruleset-list':
        send({ type: 'ruleset-list', id: m.id, generation: engine.generation, ...(m.format === 'json' ? { json: engine.toJSON() } : { text: engine.list({ handles: m.handles }) }) });
        break;
      case 'ruleset-objects':
        try {
          send({ type: 'ruleset-objects', id: m.id, generation: engine.generation, text: engine.objectCommand(m.text, '<command>', m.json === true) });
        } catch (err) {
          send({ type: 'ruleset-objects', id: m.id, generation: engine.generation, error: (err as Error).message });
        }
        break;
      case 'ruleset-prepare':
        staged = { prepareId: m.prepareId, text: m.text, file: m.file };
        try {
          staged.commit = engine.prepareLoad(m.text, m.file, m.caps);
        } catch {
          // Refused: an abort follows (the control thread refuses it too), or a commit loads it plainly.
        }
        break;
      case 'ruleset-abort':
        if (staged?.prepareId === m.prepareId) staged = undefined;
        break;
      case 'ruleset-commit': {
        const st = staged?.prepareId === m.prepareId ? staged : undefined;
        staged = undefined;
        try {
          if (!st) throw new Error(`no prepared ruleset ${m.prepareId}`);
          let r: CommitResult;
          try {
            if (!st.commit) throw new StalePrepareError(-1, engine.generation);
            r = st.commit();
          } catch (err) {
            // The control thread accepted the text: if the prepare refused it (under the
            // node's caps, which this copy does not have) or something committed between the
            // two messages, the text loads as a plain ruleset-load would have.
            if (!(err instanceof StalePrepareError)) throw err;
            r = engine.load(st.text, st.file);
          }
          send({ type: 'ruleset-result', id: m.id, ok: true, generation: r.generation });
        } catch (err) {
          send({ type: 'ruleset-result', id: m.id, ok: false, generation: engine.generation, error: (err as Error).message });
        }
        break;
      }
      case 'ruleset-load':
      case 'ruleset-tx':
        try {
          const r = m.type === 'ruleset-load' ? engine.load(m.text ?? '', m.file) : engine.transaction(m.ops as never, m.baseGeneration);
          send({ type: 'ruleset-result', id: m.id, ok: true, generation: r.generation });
        } catch (err) {
          send({ type: 'ruleset-result', id: m.id, ok: false, generation: engine.generation, error: (err as Error).message });
        }
        break;
    }
  };
  return { handle };
}

/** Handoff of other groups' packets to their owners over the sync segment (worker/handoff.ts). */
function startHandoff(data: DatapathWorkerData, device: PacketDevice, stage: DefragStage, filter: FilterStage, ct: ConnTracker, bridge: SyncBridge): { stop(): void } {
  const sync = data.sync!;
  const wired = wireHandoff({
    nodeId: sync.config.nodeId, epoch: sync.config.epoch, key: sync.config.key, vnetHdrLen: device.vnetHdrLen,
    counters: new Float64Array(data.counters), ratePerPeer: sync.handoffRate ?? 0, stage, filter, ct, bridge, inject: (b, o, l) => device.inject(b, o, l),
  });
  const t = sync.transport;
  const h = wired.handoff;
  h.transport = udpHandoffTransport(
    t.mode === 'multicast' ? { mode: 'multicast', group: t.group!, ifaceAddr: t.ifaceAddr! } : { mode: 'unicast', bindAddr: t.bindAddr!, peers: (t.peers ?? []).map((p) => p.address) },
    sync.handoffPort!,
    (bytes) => h.receive(bytes),
  );
  return wired;
}
