/**
 * The VRRPv3 router for one virtual router (RFC 5798 §6.4, RFC 9568 §6.4), sans-I/O:
 * events in (packet received, timer fired, link change, sync readiness, startup,
 * shutdown), actions out (send advertisement, add/remove VIPs, announce with GARP/NA,
 * arm the one timer, state changes, alarms). The shell owns sockets, clocks and `ip`.
 *
 * Beyond the RFC, for a firewall pair (after OpenBSD carp's demotion counter):
 * - Readiness: while state sync is not complete the router advertises a demoted
 *   priority and never preempts; it still takes over when no master is heard for
 *   Master_Down_Interval, because forwarding without state beats not forwarding.
 * - Tracking: a LAN/WAN link down lowers the priority by a configured amount, or
 *   ('fault') takes the router out of service like a shutdown until the link returns;
 *   the sync link going down raises an alarm.
 * - Send errors: the shell reports whether each advertisement left the node; after
 *   SEND_ERRORS_TO_DEMOTE failures in a row the router demotes itself (like carp's
 *   send-error demotion) so that a master nobody hears yields to the backup that takes
 *   over instead of fighting it; SENDS_TO_RECOVER good sends in a row lift the demotion.
 * - Split brain: a master that hears a lower-priority master answers at once with an
 *   advertisement (so the loser steps down within one round trip) and re-announces its
 *   VIPs (the loser's gratuitous ARPs may have redirected hosts). The order on
 *   (priority, primary address) is total, so the outcome cannot oscillate.
 */

import { compareIp, formatIp, IpBytes } from './ip-address.js';
import { MAX_ADVER_INT_CS } from './vrrp-packet.js';
import { SEND_ERROR_DEMOTION, SEND_ERRORS_TO_DEMOTE, SENDS_TO_RECOVER, vrrpTimers, VrrpTimers } from './vrrp-timers.js';

export type VrrpState = 'initialize' | 'backup' | 'master';

export type LinkRole = 'lan' | 'wan' | 'sync';

export interface TrackedLink {
  name: string;
  role: LinkRole;
  /**
   * What the link going down does: lower the priority by this much, or 'fault' (leave
   * service: resign if master, stay in Initialize until the link is up again).
   * Default: 'fault' for lan/wan, 0 for sync (the sync link only raises an alarm).
   */
  onDown?: number | 'fault';
}

export interface VrrpRouterConfig {
  vrid: number;
  /** Configured priority: 1..254, or 255 for the address owner (§5.2.4). */
  priority: number;
  /** Advertisement_Interval in centiseconds, 1..4095 (1 = 10 ms). */
  advertIntervalCs: number;
  /** Preempt_Mode (§6.1); default true. */
  preempt?: boolean;
  /** A backup preempts only after being continuously eligible this long (ms); default 0. */
  preemptDelayMs?: number;
  /** Our primary address: source of our advertisements and the split-brain tie-break. */
  primaryAddress: IpBytes;
  /** Priority decrement while state sync is not complete; default 254 (down to 1). */
  syncDemotion?: number;
  /** Whether sync is complete at start (e.g. no state sync configured). Default false. */
  initiallyInSync?: boolean;
  tracks?: readonly TrackedLink[];
}

export type TransitionReason =
  | 'startup' // Initialize -> Backup, or owner Initialize -> Master
  | 'masterDown' // Master_Down_Timer expired: master silent
  | 'peerResigned' // master sent priority 0, we took over after Skew_Time
  | 'preempted' // we preempted a lower-priority master
  | 'higherPriority' // a better master was heard while we were master
  | 'shutdown'
  | 'fault'
  | 'faultCleared';

export type VrrpEvent =
  | { type: 'startup' }
  | { type: 'shutdown' }
  | { type: 'advert'; priority: number; maxAdverIntervalCs: number; src: IpBytes }
  | { type: 'timer' }
  | { type: 'link'; name: string; up: boolean }
  | { type: 'syncReady'; ready: boolean }
  /** Whether a `sendAdvert` action's advertisement left the node (every copy of it). */
  | { type: 'sendResult'; ok: boolean };

export type VrrpAction =
  | { type: 'sendAdvert'; priority: number; maxAdverIntervalCs: number }
  | { type: 'addVips' }
  | { type: 'removeVips' }
  | { type: 'announce'; reason: 'becameMaster' | 'splitBrainWon' }
  | { type: 'armTimer'; at: number }
  | { type: 'cancelTimer' }
  | { type: 'stateChange'; from: VrrpState; to: VrrpState; reason: TransitionReason }
  | { type: 'priorityChange'; from: number; to: number }
  | { type: 'alarm'; code: 'syncLinkDown'; link: string; active: boolean }
  /** Demoted for `failures` failed sends in a row (active), or lifted after good sends. */
  | { type: 'alarm'; code: 'sendErrors'; failures: number; active: boolean };

export class VrrpRouter {
  readonly vrid: number;
  private readonly basePriority: number;
  private readonly advertIntervalCs: number;
  private readonly preempt: boolean;
  private readonly preemptDelayMs: number;
  private readonly primary: IpBytes;
  private readonly syncDemotion: number;
  private readonly tracks = new Map<string, Required<TrackedLink>>();

  private st: VrrpState = 'initialize';
  private started = false;
  private syncReady: boolean;
  private readonly down = new Set<string>();
  private masterAdverIntervalCs: number;
  private deadline: number | undefined;
  private prio: number;
  /** When this backup first became eligible to preempt the current master. */
  private preemptEligibleSince: number | undefined;
  /** We are discarding a lower-priority master's advertisements to preempt it. */
  private preempting = false;
  /** The master we last accepted resigned (priority 0): the next expiry is a handover. */
  private peerResigned = false;
  private lastSplitBrainAnnounce = -Infinity;
  private master: { address: IpBytes; priority: number } | undefined;
  /** Failed sends in a row; good sends in a row while demoted (vrrp-timers.ts thresholds). */
  private sendFailures = 0;
  private sendSuccesses = 0;
  private sendDemoted = false;

  constructor(cfg: VrrpRouterConfig) {
    const intOk = (v: number, lo: number, hi: number) => Number.isInteger(v) && v >= lo && v <= hi;
    if (!intOk(cfg.vrid, 1, 255)) throw new RangeError(`vrid ${cfg.vrid} not in 1..255`);
    if (!intOk(cfg.priority, 1, 255)) throw new RangeError(`priority ${cfg.priority} not in 1..255`);
    if (!intOk(cfg.advertIntervalCs, 1, MAX_ADVER_INT_CS)) throw new RangeError(`advertisement interval ${cfg.advertIntervalCs} cs not in 1..4095`);
    this.vrid = cfg.vrid;
    this.basePriority = cfg.priority;
    this.advertIntervalCs = cfg.advertIntervalCs;
    this.masterAdverIntervalCs = cfg.advertIntervalCs;
    this.preempt = cfg.preempt ?? true;
    this.preemptDelayMs = Math.max(0, cfg.preemptDelayMs ?? 0);
    this.primary = cfg.primaryAddress;
    this.syncDemotion = Math.max(0, cfg.syncDemotion ?? 254);
    this.syncReady = cfg.initiallyInSync ?? false;
    for (const t of cfg.tracks ?? []) {
      this.tracks.set(t.name, { name: t.name, role: t.role, onDown: t.onDown ?? (t.role === 'sync' ? 0 : 'fault') });
    }
    this.prio = this.computePriority();
  }

  get state(): VrrpState { return this.st; }
  /** The priority we advertise now (after demotions). */
  get effectivePriority(): number { return this.prio; }
  get inSync(): boolean { return this.syncReady; }
  /** The deadline of the single armed timer, if any (ms, the caller's clock). */
  get timerDeadline(): number | undefined { return this.deadline; }
  get learnedMasterAdverIntervalCs(): number { return this.masterAdverIntervalCs; }
  /** The master we follow as backup (address and its advertised priority). */
  get currentMaster(): { address: string; priority: number } | undefined {
    if (this.st === 'master') return { address: formatIp(this.primary), priority: this.prio };
    return this.master && { address: formatIp(this.master.address), priority: this.master.priority };
  }
  /** Demoted because advertisements could not be sent (SEND_ERRORS_TO_DEMOTE). */
  get demotedForSendErrors(): boolean { return this.sendDemoted; }
  get faulted(): boolean {
    for (const n of this.down) if (this.tracks.get(n)?.onDown === 'fault') return true;
    return false;
  }
  /** Timers as they stand now (for metrics and tests). */
  timers(): VrrpTimers {
    return vrrpTimers(this.prio, this.advertIntervalCs, this.masterAdverIntervalCs);
  }

  handle(ev: VrrpEvent, now: number): VrrpAction[] {
    const out: VrrpAction[] = [];
    switch (ev.type) {
      case 'startup':
        this.started = true;
        if (this.st === 'initialize' && !this.faulted) this.leaveInitialize(now, 'startup', out);
        break;
      case 'shutdown':
        this.started = false;
        this.enterInitialize('shutdown', out);
        break;
      case 'timer':
        this.onTimer(now, out);
        break;
      case 'advert':
        this.onAdvert(ev, now, out);
        break;
      case 'link':
        this.onLink(ev.name, ev.up, now, out);
        break;
      case 'syncReady':
        if (ev.ready !== this.syncReady) {
          this.syncReady = ev.ready;
          if (!ev.ready) this.preemptEligibleSince = undefined;
          this.updatePriority(out);
          this.recheckPreemption(now, out);
        }
        break;
      case 'sendResult':
        this.onSendResult(ev.ok, now, out);
        break;
    }
    return out;
  }

  // --- transitions -------------------------------------------------------------

  /** §6.4.1: Startup. The owner goes straight to Master; everyone else to Backup. */
  private leaveInitialize(now: number, reason: TransitionReason, out: VrrpAction[]): void {
    if (this.prio === 255) {
      this.becomeMaster(now, reason, out);
      return;
    }
    this.masterAdverIntervalCs = this.advertIntervalCs;
    this.master = undefined;
    this.peerResigned = false;
    this.preempting = false;
    this.preemptEligibleSince = undefined;
    this.arm(now + this.timers().masterDownMs, out);
    this.transition('backup', reason, out);
  }

  /** §6.4.2 "Master_Down_Timer fires" and §6.4.1 owner startup. */
  private becomeMaster(now: number, reason: TransitionReason, out: VrrpAction[]): void {
    out.push({ type: 'addVips' });
    out.push({ type: 'sendAdvert', priority: this.prio, maxAdverIntervalCs: this.advertIntervalCs });
    out.push({ type: 'announce', reason: 'becameMaster' });
    this.arm(now + this.timers().advertIntervalMs, out);
    this.master = undefined;
    this.peerResigned = false;
    this.preempting = false;
    this.preemptEligibleSince = undefined;
    this.transition('master', reason, out);
  }

  /** §6.4.2/§6.4.3 "Shutdown": a master resigns with priority 0 so backups skip the wait. */
  private enterInitialize(reason: TransitionReason, out: VrrpAction[]): void {
    if (this.st === 'initialize') return;
    this.cancel(out);
    if (this.st === 'master') {
      out.push({ type: 'sendAdvert', priority: 0, maxAdverIntervalCs: this.advertIntervalCs });
      out.push({ type: 'removeVips' });
    }
    this.master = undefined;
    this.transition('initialize', reason, out);
  }

  private transition(to: VrrpState, reason: TransitionReason, out: VrrpAction[]): void {
    const from = this.st;
    this.st = to;
    out.push({ type: 'stateChange', from, to, reason });
  }

  // --- events --------------------------------------------------------------------

  private onTimer(now: number, out: VrrpAction[]): void {
    if (this.deadline === undefined || now < this.deadline) return; // stale or early wake-up
    this.deadline = undefined;
    if (this.st === 'backup') {
      const reason: TransitionReason = this.peerResigned ? 'peerResigned'
        : this.preempting ? 'preempted' : 'masterDown';
      this.becomeMaster(now, reason, out);
    } else if (this.st === 'master') {
      out.push({ type: 'sendAdvert', priority: this.prio, maxAdverIntervalCs: this.advertIntervalCs });
      this.arm(now + this.timers().advertIntervalMs, out);
    }
  }

  private onAdvert(ev: Extract<VrrpEvent, { type: 'advert' }>, now: number, out: VrrpAction[]): void {
    if (ev.priority < 0 || ev.priority > 255 || ev.maxAdverIntervalCs < 1 || ev.maxAdverIntervalCs > MAX_ADVER_INT_CS) return;
    if (this.st === 'backup') {
      if (ev.priority === 0) {
        // §6.4.2: the master resigned; take over after Skew_Time, not Master_Down_Interval.
        this.peerResigned = true;
        this.master = undefined;
        this.arm(now + this.timers().skewMs, out);
        return;
      }
      if (this.wantsToPreempt(ev.priority)) {
        this.preemptEligibleSince ??= now;
        if (now - this.preemptEligibleSince >= this.preemptDelayMs) {
          // §6.4.2 "Otherwise, discard the ADVERTISEMENT": the running
          // Master_Down_Timer will make us master.
          this.preempting = true;
          this.master = { address: ev.src, priority: ev.priority };
          return;
        }
      } else {
        this.preemptEligibleSince = undefined;
      }
      this.peerResigned = false;
      this.preempting = false;
      this.master = { address: ev.src, priority: ev.priority };
      this.masterAdverIntervalCs = ev.maxAdverIntervalCs; // §6.4.2: learned from the master
      this.arm(now + this.timers().masterDownMs, out);
      return;
    }
    if (this.st !== 'master') return; // Initialize ignores advertisements
    if (ev.priority === 0) {
      // §6.4.3: someone resigned while we are master; assert ourselves at once.
      out.push({ type: 'sendAdvert', priority: this.prio, maxAdverIntervalCs: this.advertIntervalCs });
      this.arm(now + this.timers().advertIntervalMs, out);
      return;
    }
    if (this.outranks(ev.priority, ev.src)) {
      // §6.4.3: a better master exists; become its backup. Before stepping down we
      // send one parting advertisement at our own priority: the winner may never have
      // heard us (its advertisement can arrive first after a partition heals), and a
      // lower-priority advertisement is how it learns that hosts may hold our ARP
      // entries and must be re-announced (below). Others just see a lower master.
      out.push({ type: 'sendAdvert', priority: this.prio, maxAdverIntervalCs: this.advertIntervalCs });
      out.push({ type: 'removeVips' });
      this.master = { address: ev.src, priority: ev.priority };
      this.masterAdverIntervalCs = ev.maxAdverIntervalCs;
      this.peerResigned = false;
      this.preempting = false;
      this.preemptEligibleSince = undefined;
      this.arm(now + this.timers().masterDownMs, out);
      this.transition('backup', 'higherPriority', out);
      return;
    }
    // Two masters and we win: answer now and reclaim the VIPs' neighbour caches. The
    // announce is rate-limited to one per Master_Down_Interval so a peer that cannot
    // hear us does not make us flood the segment.
    out.push({ type: 'sendAdvert', priority: this.prio, maxAdverIntervalCs: this.advertIntervalCs });
    const t = this.timers();
    if (now - this.lastSplitBrainAnnounce >= t.masterDownMs) {
      this.lastSplitBrainAnnounce = now;
      out.push({ type: 'announce', reason: 'splitBrainWon' });
    }
    this.arm(now + t.advertIntervalMs, out);
  }

  private onLink(name: string, up: boolean, now: number, out: VrrpAction[]): void {
    const t = this.tracks.get(name);
    if (!t) return;
    if (up === !this.down.has(name)) return; // no change
    const wasFaulted = this.faulted;
    if (up) this.down.delete(name); else this.down.add(name);
    if (t.role === 'sync') out.push({ type: 'alarm', code: 'syncLinkDown', link: name, active: !up });
    if (!up) this.preemptEligibleSince = undefined;
    const faulted = this.faulted;
    if (faulted && !wasFaulted) {
      this.enterInitialize('fault', out);
    }
    this.updatePriority(out);
    this.recheckPreemption(now, out);
    if (!faulted && wasFaulted && this.started && this.st === 'initialize') {
      this.leaveInitialize(now, 'faultCleared', out);
    }
  }

  /**
   * Counts failed and good sends (carp_send_ad's sc_sendad_errors / sc_sendad_success).
   * Demoting changes only the priority: a master keeps its VIPs until a better router is
   * heard (the backup that takes over after Master_Down_Interval of silence), then steps
   * down as from any higher priority; a demoted backup no longer preempts.
   */
  private onSendResult(ok: boolean, now: number, out: VrrpAction[]): void {
    if (!ok) {
      this.sendSuccesses = 0;
      this.sendFailures++;
      if (!this.sendDemoted && this.sendFailures >= SEND_ERRORS_TO_DEMOTE) {
        this.sendDemoted = true;
        this.preemptEligibleSince = undefined;
        out.push({ type: 'alarm', code: 'sendErrors', failures: this.sendFailures, active: true });
        this.updatePriority(out);
        this.recheckPreemption(now, out);
      }
      return;
    }
    this.sendFailures = 0;
    if (!this.sendDemoted) return;
    if (++this.sendSuccesses < SENDS_TO_RECOVER) return;
    this.sendDemoted = false;
    this.sendSuccesses = 0;
    out.push({ type: 'alarm', code: 'sendErrors', failures: 0, active: false });
    this.updatePriority(out);
  }

  // --- priority ------------------------------------------------------------------

  private computePriority(): number {
    let dec = this.syncReady ? 0 : this.syncDemotion;
    if (this.sendDemoted) dec += SEND_ERROR_DEMOTION;
    for (const n of this.down) {
      const d = this.tracks.get(n)?.onDown;
      if (typeof d === 'number') dec += d;
    }
    if (dec <= 0) return this.basePriority;
    // A demoted owner is no longer the owner; 0 is reserved for resigning (§5.2.4).
    return Math.max(1, Math.min(254, this.basePriority - dec));
  }

  private updatePriority(out: VrrpAction[]): void {
    const p = this.computePriority();
    if (p === this.prio) return;
    out.push({ type: 'priorityChange', from: this.prio, to: p });
    this.prio = p;
    // A master tells the others at once so a now-better backup can preempt.
    if (this.st === 'master') out.push({ type: 'sendAdvert', priority: p, maxAdverIntervalCs: this.advertIntervalCs });
  }

  /**
   * A backup that is discarding a live master's advertisements in order to preempt it
   * and stops being eligible (sync lost, link down, demoted) must not let the running
   * Master_Down_Timer make it master: it goes back to following that master.
   */
  private recheckPreemption(now: number, out: VrrpAction[]): void {
    if (this.st !== 'backup' || !this.preempting) return;
    if (this.master && this.wantsToPreempt(this.master.priority)) return;
    this.preempting = false;
    this.preemptEligibleSince = undefined;
    this.arm(now + this.timers().masterDownMs, out);
  }

  private wantsToPreempt(peerPriority: number): boolean {
    // §6.4.2 accepts the master when "Preempt_Mode is False, or ... the Priority in the
    // ADVERTISEMENT is greater than or equal to the local Priority". The address owner
    // always preempts (§6.1 Preempt_Mode note). A router whose state is incomplete
    // behaves as if Preempt_Mode were False.
    return (this.preempt || this.prio === 255) && this.syncReady && peerPriority < this.prio;
  }

  /** §6.4.3: does the sender beat us? Higher priority, then higher primary address. */
  private outranks(peerPriority: number, peerAddress: IpBytes): boolean {
    if (peerPriority !== this.prio) return peerPriority > this.prio;
    return compareIp(peerAddress, this.primary) > 0;
  }

  private arm(at: number, out: VrrpAction[]): void {
    this.deadline = at;
    out.push({ type: 'armTimer', at });
  }

  private cancel(out: VrrpAction[]): void {
    if (this.deadline === undefined) return;
    this.deadline = undefined;
    out.push({ type: 'cancelTimer' });
  }
}
