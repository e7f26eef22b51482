/**
 * The node's VRRP: one failover/VrrpInstance per group (vrrp.groups; one group without
 * it), wired to real sockets, `ip addr`, sysfs link state and (when configured) the sync
 * worker's readiness. The groups share one raw socket per family (VrrpGroups routes each
 * advertisement to its VRID's instance); each group's master advertises from a thread of
 * its own. Runs on the control thread, whose event loop the datapath never blocks.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import {
  NotifyQueue,
  VrrpInstance,
  VrrpGroups,
  type VrrpGroupRef,
  parseIp,
  formatIp,
  parseVip,
  type IpBytes,
  type SyncReadinessSource,
  type TrackedLink,
  type Vip,
  type VrrpInstanceEvent,
  type VrrpState,
  type TakeoverTiming,
  type TakeoverPhases,
  takeoverPhases,
  shiftTiming,
} from '../../failover/index.js';
import type { VrrpConfig } from '../daemon/config.js';
import { IprouteVipMover } from './vip-mover.js';
import { runHookCommand } from '../daemon/command-runner.js';
import { setRealtimePriority } from '../native/index.js';
import { readInterfaceAddresses } from '../datapath/control/route-source.js';
import { WorkerAdvertSender } from './advert-sender.js';
import { PacketFrameSender, RawVrrpSocket, SysfsLinkState, macOf, realClock, type VrrpReceiver } from './vrrp-ports.js';

/** The interface's own address of `family` (IPv6: its link-local one, RFC 5798 §5.1.2.1). */
async function primaryAddress(ifname: string, family: 4 | 6, vips: Vip[]): Promise<IpBytes> {
  const info = await readInterfaceAddresses(ifname, family);
  const vipTexts = new Set(vips.map((v) => v.cidr.split('/')[0]));
  const pick = info.find((a) => !vipTexts.has(a.local) && (family === 4 || a.scope === 'link'));
  const addr = pick && parseIp(pick.local);
  if (!addr) throw new Error(`vrrp.interface ${ifname} has no ${family === 4 ? 'IPv4 address' : 'IPv6 link-local address'} of its own to send advertisements from`);
  return addr;
}

export interface VrrpStatus {
  state: VrrpState;
  priority: number;
  configuredPriority: number;
  inSync: boolean;
  master?: { address: string; priority: number };
  counters: Record<string, number>;
  /** The last time this node took over as master: step times (epoch ms) and phases (ms). */
  lastTakeover?: { timing: TakeoverTiming; phases: TakeoverPhases };
  /**
   * Every group (vrrp.groups), in configuration order; the fields above are the first
   * group's (the only one of a single-group config).
   */
  groups: VrrpGroupStatus[];
}

export interface VrrpGroupStatus {
  name: string;
  vrid: number;
  state: VrrpState;
  priority: number;
  configuredPriority: number;
  master?: { address: string; priority: number };
  vips: string[];
  counters: Record<string, number>;
  lastTakeover?: { timing: TakeoverTiming; phases: TakeoverPhases };
}

export class VrrpService {
  /** The first group's instance (status, drills); every group's is in `groups`. */
  private instance?: VrrpInstance;
  private groups?: VrrpGroups;
  private readonly sockets: RawVrrpSocket[] = [];
  private readonly senders: WorkerAdvertSender[] = [];
  private readonly frames = new PacketFrameSender();
  private readonly listeners: ((e: VrrpInstanceEvent, group: VrrpGroupRef) => void)[] = [];
  private readonly advertListeners = new Set<(from: string, priority: number, atMs: number, vrid: number) => void>();
  /** Routers whose advertisements this node accepted, by source address (for GET /v1/cluster). */
  private readonly heard = new Map<string, { priority: number; lastMs: number; adverts: number }>();
  private resigned = false;
  /** The groups a drill resigned (undefined: all of them). */
  private resignedVrids: number[] | undefined;

  constructor(
    private readonly cfg: VrrpConfig,
    private readonly log: Logger,
    private readonly sync?: SyncReadinessSource,
  ) {}

  /** Every group's events, with the group (name, VRID) they belong to. */
  on(cb: (e: VrrpInstanceEvent, group: VrrpGroupRef) => void): void {
    this.listeners.push(cb);
  }

  /** The VRIDs of the groups this node is master of now. */
  mastered(): number[] {
    return this.groups?.mastered() ?? [];
  }

  async start(): Promise<void> {
    this.raisePriority();
    const tracks: TrackedLink[] = [
      ...this.cfg.track.map((name) => ({ name, role: 'lan' as const })),
      ...(this.cfg.syncInterface ? [{ name: this.cfg.syncInterface, role: 'sync' as const }] : []),
    ];
    const links = new SysfsLinkState(tracks.map((t) => t.name));
    const notify = this.cfg.notify.length > 0 ? new NotifyQueue(this.cfg.notify.map((path) => ({ path })), { logger: this.log, spawner: runHookCommand }) : undefined;
    const allVips: Vip[] = [];
    // One raw socket per family, opened on first use, shared by the groups of that family.
    const perFamily = new Map<4 | 6, { socket: RawVrrpSocket; primary: IpBytes }>();
    const instances: VrrpInstance[] = [];
    for (const [gi, g] of this.cfg.groups.entries()) {
      const vips = g.vips.map((v, i) => {
        const vip = parseVip(v.interface, v.address);
        if (!vip) throw new Error(`vrrp.groups[${gi}].vips[${i}].address: not an address: ${v.address}`);
        return vip;
      });
      allVips.push(...vips);
      const family: 4 | 6 = vips.some((v) => v.address.length === 4) ? 4 : 6;
      let fam = perFamily.get(family);
      if (!fam) {
        const primary = await primaryAddress(this.cfg.interface, family, this.cfg.groups.flatMap((x) => x.vips.map((v) => parseVip(v.interface, v.address)!)));
        const socket = new RawVrrpSocket(family, this.cfg.interface, this.cfg.unicastPeers.length > 0);
        this.sockets.push(socket);
        fam = { socket, primary };
        perFamily.set(family, fam);
      }
      const { socket, primary } = fam;
      const unicastPeers = this.cfg.unicastPeers.map((p) => parseIp(p)!).filter((p) => p.length === (family === 4 ? 4 : 16));
      // A master's periodic advertisements leave from a thread of their own, so that a long
      // ruleset compile on this thread does not silence it (docs/failover.md); one per group,
      // as each group has its own master and interval timer.
      const sender = new WorkerAdvertSender({
        fd: socket.fd,
        family,
        send: (payload, dst) => socket.sendAdvert(payload, dst),
        realtimePriority: this.cfg.realtimePriority,
        stallLimitMs: this.cfg.controlStallLimitMs,
        onSilenced: (ms) => this.log.warn({ group: g.name, stalledMs: ms, controlStallLimitMs: this.cfg.controlStallLimitMs }, 'vrrp: the control thread stalled beyond vrrp.controlStallLimitMs; advertisements stopped until it ran again (a backup may have taken over)'),
        onDead: (err) => this.log.error({ group: g.name, err: err.message }, 'vrrp: advertisement sender thread is gone; advertisements are sent from the control thread only (a long ruleset compile can delay them)'),
      });
      this.senders.push(sender);
      instances.push(new VrrpInstance(
        {
          name: g.name,
          family,
          vrid: g.vrid,
          priority: g.priority,
          advertIntervalCs: this.cfg.advertIntervalMs / 10,
          preempt: this.cfg.preempt,
          preemptDelayMs: this.cfg.preemptDelayMs,
          primaryAddress: primary,
          vips,
          unicastPeers,
          sendChecksum: this.cfg.checksum,
          acceptChecksums: [this.cfg.checksum],
          tracks,
          announce: { repeat: this.cfg.announceRepeat, spacingMs: this.cfg.announceSpacingMs },
        },
        { clock: realClock, packets: socket, frames: this.frames, vipMover: new IprouteVipMover(), macOf, sync: this.sync, links, notify, repeater: sender },
      ));
    }
    const groups = new VrrpGroups(instances);
    this.groups = groups;
    this.instance = instances[0];
    const transitionAt = new Map<number, number>();
    const many = instances.length > 1;
    groups.on((e, group) => {
      const log = many ? this.log.child({ group: group.name, vrid: group.vrid }) : this.log;
      if (e.type === 'state') transitionAt.set(group.vrid, e.at);
      if (e.type === 'vips') log.info({ active: e.result.active, ms: Math.round((e.at - (transitionAt.get(group.vrid) ?? e.at)) * 10) / 10, failed: e.result.failed.length }, e.result.active ? 'VIPs added' : 'VIPs removed');
      if (e.type === 'state') log.info({ event: 'vrrp.state', from: e.from, to: e.to, reason: e.reason, priority: e.priority, inSync: e.inSync }, `vrrp ${many ? `${group.name} ` : ''}${e.from} -> ${e.to}`);
      else if (e.type === 'alarm' && e.code === 'sendErrors') {
        if (e.active) log.error({ code: e.code, failures: e.failures, err: e.error, active: true }, 'vrrp: advertisements cannot be sent; priority demoted so the peer takes over');
        else log.warn({ code: e.code, active: false }, 'vrrp: advertisements are sent again; demotion lifted');
      } else if (e.type === 'alarm') log.warn({ code: e.code, link: e.link, active: e.active }, 'vrrp alarm');
      else if (e.type === 'vips' && e.result.failed.length > 0) log.error({ failed: e.result.failed.map((f) => `${f.vip.cidr} ${f.vip.ifname}: ${f.error}`) }, 'some VIPs could not be moved');
      else if (e.type === 'takeover') log.info({ reason: e.timing.reason, ...takeoverPhases(e.timing) }, 'vrrp takeover');
      else if (e.type === 'rejected') log.debug({ error: e.error, from: e.from }, 'vrrp advertisement rejected');
      for (const l of this.listeners) l(e, group);
    });
    // The announcement sockets are opened now so the first takeover does not wait for them.
    this.frames.prepare(new Set(allVips.map((v) => v.ifname)));
    for (const { socket } of perFamily.values()) socket.listen(this.countingReceiver(groups));
    groups.start();
    for (const g of this.cfg.groups) {
      this.log.info({ event: 'vrrp.started', ...(many ? { group: g.name } : {}), vrid: g.vrid, priority: g.priority, interface: this.cfg.interface, advertIntervalMs: this.cfg.advertIntervalMs, vips: g.vips.map((v) => `${v.address} ${v.interface}`) }, 'vrrp started');
    }
  }

  /**
   * VRRP's timers run on this (the control) thread; with 10-20 ms advertisements a few tens
   * of milliseconds without CPU under full load look like a dead master. The datapath thread
   * and any traffic generator compete for the same cores, so this thread asks the scheduler
   * for precedence (keepalived runs its VRRP process with real-time priority for the same
   * reason). setpriority on the process id changes only the main thread on Linux; the
   * datapath thread keeps its normal priority.
   */
  private raisePriority(): void {
    if (this.cfg.realtimePriority > 0) {
      try {
        setRealtimePriority(this.cfg.realtimePriority);
        this.log.info({ realtimePriority: this.cfg.realtimePriority }, 'vrrp: control thread runs with real-time scheduling (SCHED_RR)');
        return;
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'vrrp: cannot get real-time scheduling; falling back to nice');
      }
    }
    try {
      os.setPriority(0, this.cfg.nice);
      this.log.info({ nice: this.cfg.nice }, 'vrrp: control thread runs with raised scheduling priority');
    } catch (err) {
      this.log.warn({ err: (err as Error).message, nice: this.cfg.nice }, 'vrrp: cannot raise scheduling priority (needs CAP_SYS_NICE); false takeovers are more likely under load');
    }
  }

  status(): VrrpStatus | undefined {
    const i = this.instance;
    if (!i || !this.groups) return undefined;
    const groups = this.groups.instances.map((g): VrrpGroupStatus => ({
      name: g.cfg.name,
      vrid: g.cfg.vrid,
      state: g.state,
      priority: g.router.effectivePriority,
      configuredPriority: g.cfg.priority,
      master: g.router.currentMaster,
      vips: g.cfg.vips.map((v) => `${v.cidr} ${v.ifname}`),
      counters: { ...g.counters },
      // The clock is performance.now(): epoch ms compare with other processes' (drills).
      lastTakeover: g.lastTakeover && { timing: shiftTiming(g.lastTakeover, performance.timeOrigin), phases: takeoverPhases(g.lastTakeover) },
    }));
    const first = groups[0]!;
    return {
      state: first.state,
      priority: first.priority,
      configuredPriority: first.configuredPriority,
      inSync: i.router.inSync,
      master: first.master,
      counters: { ...first.counters },
      lastTakeover: first.lastTakeover,
      groups,
    };
  }

  /** Whether this node takes mastership back from a lower-priority master (RFC 5798 Preempt_Mode). */
  get preempt(): boolean {
    return this.cfg.preempt;
  }

  /** Calls `cb` for every advertisement accepted from another router (drills, cluster view), with its group's VRID. */
  onAdvert(cb: (from: string, priority: number, atMs: number, vrid: number) => void): () => void {
    this.advertListeners.add(cb);
    return () => void this.advertListeners.delete(cb);
  }

  /** Other routers heard on the VRRP link: address, last advertised priority, ms since last heard. */
  peersHeard(nowMs = Date.now()): { address: string; priority: number; lastHeardMs: number; adverts: number }[] {
    return [...this.heard].map(([address, h]) => ({ address, priority: h.priority, lastHeardMs: nowMs - h.lastMs, adverts: h.adverts }));
  }

  /** True between resign() and resume(). */
  get isResigned(): boolean {
    return this.resigned;
  }

  /**
   * Drill: give up mastership as on SIGTERM (priority-0 advertisement, VIPs released,
   * RFC 5798 §6.4.3 "Shutdown"), but keep the process, the datapath and the socket (so
   * the peer's advertisements are still counted). resume() starts the instance again.
   */
  async resign(vrids?: readonly number[]): Promise<void> {
    if (!this.groups) throw new Error('vrrp is not running');
    if (this.resigned) throw new Error('vrrp is resigned already (a drill is running)');
    this.resigned = true;
    this.resignedVrids = vrids === undefined ? undefined : [...vrids];
    await this.groups.stop(this.resignedVrids);
  }

  /**
   * After resign(): the resigned groups start again as backup (§6.4.1); with preempt on, a
   * higher priority takes the VIPs back.
   */
  resume(): void {
    if (!this.groups || !this.resigned) return;
    this.resigned = false;
    this.groups.start(this.resignedVrids);
    this.resignedVrids = undefined;
  }

  /** Each group's name, VRID and state (drills of one group). */
  groupStates(): { name: string; vrid: number; state: VrrpState }[] {
    return this.groups?.states() ?? [];
  }

  /** Notes the source and priority of each accepted advertisement, then lets the instance handle it. */
  private countingReceiver(groups: VrrpGroups): VrrpReceiver {
    // Adverts arrive every few ms from the same router: keep its address text instead of
    // formatting a new string for each one.
    let lastSrc = new Uint8Array(0);
    let lastFrom = '';
    const received = (): number => groups.instances.reduce((n, i) => n + i.counters.advertsReceived, 0);
    const note = (src: Uint8Array | undefined, off: number, len: number, priority: number, vrid: number, before: number): void => {
      if (received() === before || !src) return;
      let same = len === lastSrc.length;
      for (let i = 0; same && i < len; i++) same = src[off + i] === lastSrc[i];
      if (!same) {
        lastSrc = src.slice(off, off + len);
        lastFrom = formatIp(lastSrc);
      }
      const from = lastFrom;
      const at = Date.now();
      const h = this.heard.get(from);
      if (h) {
        h.priority = priority;
        h.lastMs = at;
        h.adverts++;
      } else this.heard.set(from, { priority, lastMs: at, adverts: 1 });
      for (const l of this.advertListeners) l(from, priority, at, vrid);
    };
    return {
      // VRRPv3 header (RFC 5798 §5.1): byte 1 is the VRID, byte 2 the priority; IPv4 datagrams carry their header.
      receiveIpv4: (d, len) => {
        const before = received();
        groups.receiveIpv4(d, len);
        const ihl = (d[0]! & 0x0f) * 4;
        note(len >= 20 ? d : undefined, 12, 4, d[ihl + 2] ?? 0, d[ihl + 1] ?? 0, before);
      },
      receive: (payload, dgram, off, len) => {
        const before = received();
        groups.receive(payload, dgram, off, len);
        note(dgram.src, 0, dgram.src.length, payload[off + 2] ?? 0, payload[off + 1] ?? 0, before);
      },
    };
  }

  /** Graceful: a master resigns with priority 0 and releases the VIPs before we return. */
  async stop(): Promise<void> {
    await this.groups?.stop();
    // The sender threads send on the sockets: they end first.
    await Promise.all(this.senders.map((s) => s.close()));
    for (const s of this.sockets) s.close();
    this.frames.close();
  }
}
