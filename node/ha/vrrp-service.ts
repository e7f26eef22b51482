/**
 * The node's VRRP: one failover/VrrpInstance wired to real sockets, `ip addr`, sysfs link
 * state and (when configured) the sync worker's readiness. Runs on the control thread,
 * whose event loop the datapath never blocks.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import {
  NotifyQueue,
  VrrpInstance,
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
}

export class VrrpService {
  private instance?: VrrpInstance;
  private socket?: RawVrrpSocket;
  private sender?: WorkerAdvertSender;
  private readonly frames = new PacketFrameSender();
  private readonly listeners: ((e: VrrpInstanceEvent) => void)[] = [];
  private readonly advertListeners = new Set<(from: string, priority: number, atMs: number) => void>();
  /** Routers whose advertisements this node accepted, by source address (for GET /v1/cluster). */
  private readonly heard = new Map<string, { priority: number; lastMs: number; adverts: number }>();
  private resigned = false;

  constructor(
    private readonly cfg: VrrpConfig,
    private readonly log: Logger,
    private readonly sync?: SyncReadinessSource,
  ) {}

  on(cb: (e: VrrpInstanceEvent) => void): void {
    this.listeners.push(cb);
  }

  async start(): Promise<void> {
    this.raisePriority();
    const vips = this.cfg.vips.map((v, i) => {
      const vip = parseVip(v.interface, v.address);
      if (!vip) throw new Error(`vrrp.vips[${i}].address: not an address: ${v.address}`);
      return vip;
    });
    const family: 4 | 6 = vips.some((v) => v.address.length === 4) ? 4 : 6;
    const primary = await primaryAddress(this.cfg.interface, family, vips);
    const tracks: TrackedLink[] = [
      ...this.cfg.track.map((name) => ({ name, role: 'lan' as const })),
      ...(this.cfg.syncInterface ? [{ name: this.cfg.syncInterface, role: 'sync' as const }] : []),
    ];
    const links = new SysfsLinkState(tracks.map((t) => t.name));
    const unicastPeers = this.cfg.unicastPeers.map((p) => parseIp(p)!).filter((p) => p.length === (family === 4 ? 4 : 16));
    const socket = new RawVrrpSocket(family, this.cfg.interface, unicastPeers.length > 0);
    this.socket = socket;
    // A master's periodic advertisements leave from a thread of their own, so that a long
    // ruleset compile on this thread does not silence it (docs/failover.md).
    this.sender = new WorkerAdvertSender({
      fd: socket.fd,
      family,
      send: (payload, dst) => socket.sendAdvert(payload, dst),
      realtimePriority: this.cfg.realtimePriority,
      stallLimitMs: this.cfg.controlStallLimitMs,
      onSilenced: (ms) => this.log.warn({ stalledMs: ms, controlStallLimitMs: this.cfg.controlStallLimitMs }, 'vrrp: the control thread stalled beyond vrrp.controlStallLimitMs; advertisements stopped until it ran again (a backup may have taken over)'),
      onDead: (err) => this.log.error({ err: err.message }, 'vrrp: advertisement sender thread is gone; advertisements are sent from the control thread only (a long ruleset compile can delay them)'),
    });
    const notify = this.cfg.notify.length > 0 ? new NotifyQueue(this.cfg.notify.map((path) => ({ path })), { logger: this.log, spawner: runHookCommand }) : undefined;
    this.instance = new VrrpInstance(
      {
        name: `vrid${this.cfg.vrid}`,
        family,
        vrid: this.cfg.vrid,
        priority: this.cfg.priority,
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
      { clock: realClock, packets: socket, frames: this.frames, vipMover: new IprouteVipMover(), macOf, sync: this.sync, links, notify, repeater: this.sender },
    );
    let transitionAt = 0;
    this.instance.on((e) => {
      if (e.type === 'state') transitionAt = e.at;
      if (e.type === 'vips') this.log.info({ active: e.result.active, ms: Math.round((e.at - transitionAt) * 10) / 10, failed: e.result.failed.length }, e.result.active ? 'VIPs added' : 'VIPs removed');
      if (e.type === 'state') this.log.info({ event: 'vrrp.state', from: e.from, to: e.to, reason: e.reason, priority: e.priority, inSync: e.inSync }, `vrrp ${e.from} -> ${e.to}`);
      else if (e.type === 'alarm' && e.code === 'sendErrors') {
        if (e.active) this.log.error({ code: e.code, failures: e.failures, err: e.error, active: true }, 'vrrp: advertisements cannot be sent; priority demoted so the peer takes over');
        else this.log.warn({ code: e.code, active: false }, 'vrrp: advertisements are sent again; demotion lifted');
      } else if (e.type === 'alarm') this.log.warn({ code: e.code, link: e.link, active: e.active }, 'vrrp alarm');
      else if (e.type === 'vips' && e.result.failed.length > 0) this.log.error({ failed: e.result.failed.map((f) => `${f.vip.cidr} ${f.vip.ifname}: ${f.error}`) }, 'some VIPs could not be moved');
      else if (e.type === 'takeover') this.log.info({ reason: e.timing.reason, ...takeoverPhases(e.timing) }, 'vrrp takeover');
      else if (e.type === 'rejected') this.log.debug({ error: e.error, from: e.from }, 'vrrp advertisement rejected');
      for (const l of this.listeners) l(e);
    });
    // The announcement sockets are opened now so the first takeover does not wait for them.
    this.frames.prepare(new Set(vips.map((v) => v.ifname)));
    socket.listen(this.countingReceiver(this.instance));
    this.instance.start();
    this.log.info({ event: 'vrrp.started', vrid: this.cfg.vrid, priority: this.cfg.priority, interface: this.cfg.interface, advertIntervalMs: this.cfg.advertIntervalMs, vips: vips.map((v) => `${v.cidr} ${v.ifname}`) }, 'vrrp started');
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
    if (!i) return undefined;
    return {
      state: i.state,
      priority: i.router.effectivePriority,
      configuredPriority: this.cfg.priority,
      inSync: i.router.inSync,
      master: i.router.currentMaster,
      counters: { ...i.counters },
      // The clock is performance.now(): epoch ms compare with other processes' (drills).
      lastTakeover: i.lastTakeover && { timing: shiftTiming(i.lastTakeover, performance.timeOrigin), phases: takeoverPhases(i.lastTakeover) },
    };
  }

  /** Whether this node takes mastership back from a lower-priority master (RFC 5798 Preempt_Mode). */
  get preempt(): boolean {
    return this.cfg.preempt;
  }

  /** Calls `cb` for every advertisement accepted from another router (drills, cluster view). */
  onAdvert(cb: (from: string, priority: number, atMs: number) => void): () => void {
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
  async resign(): Promise<void> {
    if (!this.instance) throw new Error('vrrp is not running');
    this.resigned = true;
    await this.instance.stop();
  }

  /** After resign(): start again as backup (§6.4.1); with preempt on, a higher priority takes the VIPs back. */
  resume(): void {
    if (!this.instance || !this.resigned) return;
    this.resigned = false;
    this.instance.start();
  }

  /** Notes the source and priority of each accepted advertisement, then lets the instance handle it. */
  private countingReceiver(inst: VrrpInstance): VrrpReceiver {
    // Adverts arrive every few ms from the same router: keep its address text instead of
    // formatting a new string for each one.
    let lastSrc = new Uint8Array(0);
    let lastFrom = '';
    const note = (src: Uint8Array | undefined, off: number, len: number, priority: number, before: number): void => {
      if (inst.counters.advertsReceived === before || !src) return;
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
      for (const l of this.advertListeners) l(from, priority, at);
    };
    return {
      // VRRPv3 header (RFC 5798 §5.1): byte 2 is the priority; IPv4 datagrams carry their header.
      receiveIpv4: (d, len) => {
        const before = inst.counters.advertsReceived;
        inst.receiveIpv4(d, len);
        const ihl = (d[0]! & 0x0f) * 4;
        note(len >= 20 ? d : undefined, 12, 4, d[ihl + 2] ?? 0, before);
      },
      receive: (payload, dgram, off, len) => {
        const before = inst.counters.advertsReceived;
        inst.receive(payload, dgram, off, len);
        note(dgram.src, 0, dgram.src.length, payload[off + 2] ?? 0, before);
      },
    };
  }

  /** Graceful: a master resigns with priority 0 and releases the VIPs before we return. */
  async stop(): Promise<void> {
    await this.instance?.stop();
    // The sender thread sends on the socket: it ends first.
    await this.sender?.close();
    this.socket?.close();
    this.frames.close();
  }
}
