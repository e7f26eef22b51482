/**
 * The thin shell around one VrrpRouter: it turns the router's actions into effects
 * through the ports (send the advertisement, move the VIP group, schedule GARP/NA
 * rounds, run notify hooks) and feeds the ports' events back in. Still free of real
 * I/O: node/ supplies a real clock, raw sockets, netlink and `ip addr`.
 */

import { AnnounceOptions, AnnounceStep, planAnnouncements } from './garp.js';
import { formatIp, IpBytes, IpFamily, vrrpGroup } from './ip-address.js';
import { NotifyQueue } from './notify.js';
import { AdvertCopy, AdvertOutcome, AdvertRepeater, Clock, FrameSender, LinkStateSource, MacSource, PacketSender, SyncReadinessSource, TimerHandle } from './ports.js';
import { VipGroup, VipGroupResult, VipMover, Vip } from './vip-group.js';
import { TakeoverTiming } from './takeover.js';
import { ChecksumVariant, encode, encodingLength } from './vrrp-packet.js';
import { receiveAdvertisement, ReceivedDatagram, receiveIpv4Datagram, VrrpReceiveError } from './vrrp-receive.js';
import { TrackedLink, VrrpAction, VrrpEvent, VrrpRouter, VrrpState, TransitionReason } from './vrrp-state-machine.js';

export interface VrrpInstanceConfig {
  /** A name for logs and notify hooks. */
  name: string;
  family: IpFamily;
  vrid: number;
  priority: number;
  advertIntervalCs: number;
  preempt?: boolean;
  preemptDelayMs?: number;
  /** Our address on the VRRP interface (IPv6: its link-local address). */
  primaryAddress: IpBytes;
  /**
   * The group's VIPs on all interfaces. Those of `family` are listed in advertisements
   * (IPv6 VIPs travel in an IPv6 instance); all are moved and announced together.
   */
  vips: readonly Vip[];
  /** Send to these instead of the multicast group (networks without multicast). */
  unicastPeers?: readonly IpBytes[];
  /** Checksum computation for what we send; default RFC ('pseudoHeader'). */
  sendChecksum?: ChecksumVariant;
  /** Variants accepted on receive; default only 'pseudoHeader'. */
  acceptChecksums?: readonly ChecksumVariant[];
  /** §7.1 optional address-list check; default false (keepalived may list other VIPs). */
  checkAddresses?: boolean;
  syncDemotion?: number;
  tracks?: readonly TrackedLink[];
  announce?: AnnounceOptions;
}

export interface VrrpInstancePorts {
  clock: Clock;
  packets: PacketSender;
  frames: FrameSender;
  vipMover: VipMover;
  macOf: MacSource;
  /** Absent: there is no state sync and the node is always "in sync". */
  sync?: SyncReadinessSource;
  links?: LinkStateSource;
  notify?: NotifyQueue;
  /**
   * Absent: every advertisement is sent from the instance's thread, on its timer. Present:
   * a master's periodic advertisements come from the repeater's own thread.
   */
  repeater?: AdvertRepeater;
}

export type VrrpInstanceEvent =
  | { type: 'state'; from: VrrpState; to: VrrpState; reason: TransitionReason; at: number; priority: number; inSync: boolean }
  /**
   * syncLinkDown names the `link`; sendErrors gives the failed sends in a row (`failures`)
   * and the last send's error (`error`), or lifts the alarm (active false).
   */
  | { type: 'alarm'; code: string; link?: string; failures?: number; error?: string; active: boolean; at: number }
  | { type: 'rejected'; error: VrrpReceiveError | { code: string }; from?: string; at: number }
  | { type: 'vips'; result: VipGroupResult; at: number }
  | { type: 'checksumVariant'; variant: ChecksumVariant; from: string; at: number }
  /** A backup became master; sent once its VIPs are on the interfaces (takeover.ts). */
  | { type: 'takeover'; timing: TakeoverTiming; at: number };

export interface VrrpInstanceCounters {
  /** Advertisements that left the node (one per destination). */
  advertsSent: number;
  /** Advertisements the socket refused (PacketSender.sendAdvert threw): not in advertsSent. */
  advertSendErrors: number;
  advertsReceived: number;
  advertsRejected: number;
  framesSent: number;
  transitions: number;
}

export class VrrpInstance {
  readonly cfg: VrrpInstanceConfig;
  readonly router: VrrpRouter;
  readonly vipGroup: VipGroup;
  readonly counters: VrrpInstanceCounters = { advertsSent: 0, advertSendErrors: 0, advertsReceived: 0, advertsRejected: 0, framesSent: 0, transitions: 0 };
  private readonly ports: VrrpInstancePorts;
  private readonly listeners: ((e: VrrpInstanceEvent) => void)[] = [];
  private readonly advertAddresses: IpBytes[];
  /** Where advertisements go, and one encoding buffer per destination (the repeater keeps them all). */
  private readonly advertDsts: readonly IpBytes[];
  private readonly txBufs: Uint8Array[];
  private timer: TimerHandle | undefined;
  private announceTimers: TimerHandle[] = [];
  /** Bumped on every VIP add/remove so a stale announcement never goes out. */
  private vipEpoch = 0;
  private vipsSettled: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void)[] = [];
  private readonly seenVariants = new Set<string>();
  /** Outcomes of the sends of the action list being executed, fed back after it (dispatch). */
  private readonly sendResults: boolean[] = [];
  private lastSendError = '';
  /** When the last advertisement was accepted (clock ms): where a takeover's detection starts. */
  private lastAdvertAt: number | undefined;
  /** Times of the steps of the event being dispatched (the takeover's phases). */
  private marks: { dueAt?: number; advertAt?: number; announceAt?: number } = {};
  /** The takeover in progress: complete once its VIPs are in place. */
  private takeover: { timing: TakeoverTiming; epoch: number } | undefined;
  private lastTakeoverTiming: TakeoverTiming | undefined;

  constructor(cfg: VrrpInstanceConfig, ports: VrrpInstancePorts) {
    this.cfg = cfg;
    this.ports = ports;
    this.advertAddresses = cfg.vips.filter((v) => (v.address.length === 4 ? 4 : 6) === cfg.family).map((v) => v.address);
    if (this.advertAddresses.length === 0) throw new RangeError(`${cfg.name}: no IPv${cfg.family} VIP to advertise`);
    this.advertDsts = cfg.unicastPeers && cfg.unicastPeers.length > 0 ? cfg.unicastPeers : [vrrpGroup(cfg.family)];
    const len = encodingLength({ family: cfg.family, addresses: this.advertAddresses });
    this.txBufs = this.advertDsts.map(() => new Uint8Array(len));
    this.router = new VrrpRouter({
      vrid: cfg.vrid, priority: cfg.priority, advertIntervalCs: cfg.advertIntervalCs, preempt: cfg.preempt,
      preemptDelayMs: cfg.preemptDelayMs, primaryAddress: cfg.primaryAddress, syncDemotion: cfg.syncDemotion,
      initiallyInSync: ports.sync ? ports.sync.inSync : true, tracks: cfg.tracks,
    });
    this.vipGroup = new VipGroup(cfg.vips, ports.vipMover);
  }

  get state(): VrrpState { return this.router.state; }
  /** The last completed takeover (backup to master), with the time of each of its steps. */
  get lastTakeover(): TakeoverTiming | undefined { return this.lastTakeoverTiming; }

  on(cb: (e: VrrpInstanceEvent) => void): void { this.listeners.push(cb); }

  /** Subscribes to the sources, applies current link states, and starts (§6.4.1 Startup). */
  start(): void {
    const { sync, links } = this.ports;
    if (sync) this.unsubscribe.push(sync.onChange((ready) => this.dispatch({ type: 'syncReady', ready })));
    if (links) {
      this.unsubscribe.push(links.onChange((name, up) => this.dispatch({ type: 'link', name, up })));
      for (const t of this.cfg.tracks ?? []) if (!links.isUp(t.name)) this.dispatch({ type: 'link', name: t.name, up: false });
    }
    if (sync) this.dispatch({ type: 'syncReady', ready: sync.inSync });
    const repeater = this.ports.repeater;
    if (repeater) this.unsubscribe.push(repeater.onOutcome((o) => this.dispatch({ type: 'sendResult', ok: this.count(o) })));
    // Addresses left behind by a crashed predecessor must go before we start as backup.
    if (this.router.state === 'initialize') this.vipsSettled = this.vipGroup.setActive(false);
    this.dispatch({ type: 'startup' });
  }

  /** Graceful stop: a master resigns with priority 0 and releases the VIPs. */
  async stop(): Promise<void> {
    this.dispatch({ type: 'shutdown' });
    this.ports.repeater?.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.timer !== undefined) this.ports.clock.clearTimer(this.timer);
    this.timer = undefined;
    await this.vipsSettled;
    await this.ports.notify?.idle();
  }

  /** A VRRP payload from an IPv6 raw socket (addresses and hop limit from cmsg). */
  receive(payload: Uint8Array, dgram: ReceivedDatagram, offset = 0, length = payload.length - offset): void {
    const r = receiveAdvertisement(payload, dgram, this.expectations(), offset, length);
    this.accept(r, dgram.src);
  }

  /** A whole IPv4 datagram from an IPv4 raw socket (the kernel includes the header). */
  receiveIpv4(datagram: Uint8Array, length = datagram.length): void {
    const r = receiveIpv4Datagram(datagram, this.expectations(), length);
    this.accept(r, length >= 16 ? datagram.subarray(12, 16) : undefined);
  }

  private expectations() {
    return {
      family: this.cfg.family, vrid: this.cfg.vrid, localIsOwner: this.router.effectivePriority === 255,
      addresses: this.advertAddresses, checkAddresses: this.cfg.checkAddresses ?? false,
      unicastPeers: this.cfg.unicastPeers, ownAddresses: [this.cfg.primaryAddress],
      decode: { acceptChecksums: this.cfg.acceptChecksums ?? ['pseudoHeader'] },
    };
  }

  private accept(r: ReturnType<typeof receiveIpv4Datagram>, src: IpBytes | undefined): void {
    const at = this.ports.clock.now();
    if (!r.ok) {
      // Our own multicast coming back is normal, not worth an event.
      if (r.error.code === 'ownPacket') return;
      this.counters.advertsRejected++;
      this.emit({ type: 'rejected', error: r.error, from: src && formatIp(src), at });
      return;
    }
    this.counters.advertsReceived++;
    this.lastAdvertAt = at;
    if (r.checksumVariant !== 'pseudoHeader') {
      const key = `${formatIp(r.src)} ${r.checksumVariant}`;
      if (!this.seenVariants.has(key)) {
        this.seenVariants.add(key);
        this.emit({ type: 'checksumVariant', variant: r.checksumVariant, from: formatIp(r.src), at });
      }
    }
    this.dispatch({ type: 'advert', priority: r.packet.priority, maxAdverIntervalCs: r.packet.maxAdverIntervalCs, src: r.src });
  }

  private dispatch(ev: VrrpEvent): void {
    const now = this.ports.clock.now();
    // A master's timer only repeats its advertisement: the repeater does that on its own.
    const periodic = ev.type === 'timer' && this.router.state === 'master' && this.ports.repeater?.repeating === true;
    this.marks = { dueAt: ev.type === 'timer' ? this.router.timerDeadline : undefined };
    for (const a of this.router.handle(ev, now)) {
      if (periodic && a.type === 'sendAdvert' && this.router.state === 'master') continue;
      this.execute(a, now);
    }
    // Each send's outcome goes back to the router once the actions of this event are done,
    // so its reaction (a demotion, a new advertisement) follows them instead of cutting in.
    while (this.sendResults.length > 0) this.dispatch({ type: 'sendResult', ok: this.sendResults.shift()! });
  }

  private execute(a: VrrpAction, now: number): void {
    switch (a.type) {
      case 'sendAdvert': this.sendAdvert(a.priority, a.maxAdverIntervalCs); this.marks.advertAt ??= this.ports.clock.now(); break;
      case 'addVips': this.moveVips(true); break;
      case 'removeVips': this.moveVips(false); break;
      case 'announce': this.announce(); break;
      case 'armTimer':
        if (this.timer !== undefined) this.ports.clock.clearTimer(this.timer);
        // A backup's timer (Master_Down_Interval, or Skew_Time after a resignation) is on
        // the takeover's path and rarely fires (each advertisement re-arms it): precise. A
        // master's fires every interval and only repeats an advertisement: not.
        this.timer = this.ports.clock.setTimer(a.at, () => this.onTimer(), { precise: this.router.state !== 'master' });
        break;
      case 'cancelTimer':
        if (this.timer !== undefined) this.ports.clock.clearTimer(this.timer);
        this.timer = undefined;
        break;
      case 'stateChange':
        if (a.from === 'master') this.ports.repeater?.stop();
        if (a.to === 'master' && a.from === 'backup') this.startTakeover(a.reason, now);
        else if (a.from === 'master') this.takeover = undefined;
        this.counters.transitions++;
        this.emit({ type: 'state', from: a.from, to: a.to, reason: a.reason, at: now, priority: this.router.effectivePriority, inSync: this.router.inSync });
        this.ports.notify?.notify({ instance: this.cfg.name, vrid: this.cfg.vrid, state: a.to, previous: a.from, reason: a.reason, priority: this.router.effectivePriority });
        break;
      case 'alarm':
        if (a.code === 'syncLinkDown') this.emit({ type: 'alarm', code: a.code, link: a.link, active: a.active, at: now });
        else this.emit({ type: 'alarm', code: a.code, failures: a.failures, error: a.active ? this.lastSendError : undefined, active: a.active, at: now });
        break;
      case 'priorityChange':
        break;
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    // Read what is already queued first: an advertisement that arrived during a stall
    // re-arms the timer, and the router then sees this expiry as stale.
    this.ports.packets.drainReceived?.();
    this.dispatch({ type: 'timer' });
  }

  /**
   * While master (the router's state once an event's actions are out), the advertisement
   * goes to the repeater, which sends it now and keeps sending it; anything else (a
   * parting or priority-0 advertisement) stops the repeater first and is sent from here.
   */
  private sendAdvert(priority: number, intervalCs: number): void {
    const copies: AdvertCopy[] = this.advertDsts.map((dst, i) => ({
      dst,
      // The pseudo-header names the real destination, so unicast copies differ.
      payload: encode({ family: this.cfg.family, vrid: this.cfg.vrid, priority, maxAdverIntervalCs: intervalCs, addresses: this.advertAddresses },
        { src: this.cfg.primaryAddress, dst }, this.txBufs[i]!, 0, this.cfg.sendChecksum ?? 'pseudoHeader'),
    }));
    const repeater = this.ports.repeater;
    if (repeater && this.router.state === 'master') {
      this.sendResults.push(this.count(repeater.repeat(copies, intervalCs * 10)));
      return;
    }
    repeater?.stop();
    const o: AdvertOutcome = { sent: 0, failed: 0 };
    for (const c of copies) {
      try {
        this.ports.packets.sendAdvert(c.payload, c.dst);
        o.sent++;
      } catch (err) {
        o.failed++;
        o.error = err instanceof Error ? err.message : String(err);
      }
    }
    this.sendResults.push(this.count(o));
  }

  /**
   * Counts one advertisement's copies; true if all of them left. Failures are counted and
   * reported like carp's sc_sendad_errors, never swallowed: a master whose advertisements
   * do not leave must let the backup take over (vrrp-timers.ts).
   */
  private count(o: AdvertOutcome): boolean {
    this.counters.advertsSent += o.sent;
    this.counters.advertSendErrors += o.failed;
    if (o.failed > 0) this.lastSendError = o.error ?? 'send failed';
    return o.failed === 0;
  }

  private moveVips(active: boolean): void {
    const epoch = ++this.vipEpoch;
    this.cancelAnnouncements();
    const p = this.vipGroup.setActive(active).then((result) => {
      const at = this.ports.clock.now();
      this.emit({ type: 'vips', result, at });
      this.finishTakeover(epoch, result, at);
      return result;
    });
    this.vipsSettled = p;
  }

  /**
   * Called at the backup-to-master state change, after the takeover's actions (VIPs
   * asked for, advertisement and first announcement sent) have run in this dispatch.
   */
  private startTakeover(reason: TransitionReason, firedAt: number): void {
    const m = this.marks;
    this.takeover = {
      epoch: this.vipEpoch,
      timing: {
        reason, lastAdvertAt: this.lastAdvertAt, dueAt: m.dueAt ?? firedAt, firedAt,
        advertAt: m.advertAt, announceAt: m.announceAt, vipsAt: undefined, vipsFailed: 0,
      },
    };
  }

  private finishTakeover(epoch: number, result: VipGroupResult, at: number): void {
    const t = this.takeover;
    if (!t || t.epoch !== epoch || !result.active) return;
    this.takeover = undefined;
    t.timing.vipsAt = at;
    t.timing.vipsFailed = result.failed.length;
    this.lastTakeoverTiming = t.timing;
    this.emit({ type: 'takeover', timing: t.timing, at });
  }

  /**
   * GARP/NA rounds. The first round goes out at once, without waiting for `ip addr` to
   * finish: it only rewrites neighbour entries hosts already have, and forwarding through
   * us needs no VIP on our interfaces; a host without an entry asks later, by which time
   * the VIPs are in place (adding them takes milliseconds; the rounds are spaced by
   * tens). This takes the time of the address change off the takeover.
   */
  private announce(): void {
    const epoch = this.vipEpoch;
    const { steps } = planAnnouncements(this.cfg.vips, this.ports.macOf, this.cfg.announce);
    this.cancelAnnouncements();
    const t0 = this.ports.clock.now();
    const rounds = new Map<number, AnnounceStep[]>();
    for (const s of steps) {
      const r = rounds.get(s.atMs);
      if (r) r.push(s); else rounds.set(s.atMs, [s]);
    }
    for (const [offset, round] of rounds) {
      const send = () => {
        if (epoch !== this.vipEpoch || this.router.state !== 'master') return;
        for (const s of round) { this.ports.frames.sendFrame(s.ifname, s.frame); this.counters.framesSent++; }
      };
      if (offset === 0) { send(); this.marks.announceAt ??= this.ports.clock.now(); }
      else this.announceTimers.push(this.ports.clock.setTimer(t0 + offset, send));
    }
  }

  private cancelAnnouncements(): void {
    for (const t of this.announceTimers.splice(0)) this.ports.clock.clearTimer(t);
  }

  private emit(e: VrrpInstanceEvent): void {
    for (const l of this.listeners) l(e);
  }
}
