/**
 * A simulated shared segment with a fake clock for driving VrrpRouter instances in
 * tests: advertisements really go through the codec and the §7.1 receive checks,
 * timers run on virtual time, and links can be cut or partitioned. Deterministic.
 */

import { IpBytes, ip, VRRP_GROUP_V4 } from '../ip-address.js';
import { encode } from '../vrrp-packet.js';
import { receiveAdvertisement } from '../vrrp-receive.js';
import { VrrpAction, VrrpEvent, VrrpRouter, VrrpRouterConfig, VrrpState } from '../vrrp-state-machine.js';
import { Rng } from '../../inet/index.js';

interface SimNode {
  name: string;
  address: IpBytes;
  router: VrrpRouter;
  alive: boolean;
  /** Partition label: packets are delivered only between nodes with the same label. */
  segment: string;
  holdsVips: boolean;
  timerGen: number;
  log: { at: number; action: VrrpAction }[];
}

interface Pending { at: number; seq: number; run: () => void }

const SIM_VIP = ip('192.0.2.1');

export class SimLan {
  now = 0;
  private seq = 0;
  private queue: Pending[] = [];
  readonly nodes = new Map<string, SimNode>();
  /** One-way delivery latency, ms. */
  latencyMs = 0.2;
  /** Extra random latency in [0, jitterMs), ms (seeded, deterministic). */
  jitterMs = 0;
  /** Probability that a copy is lost, never two in a row to the same receiver. */
  isolatedLoss = 0;
  /** Copies lost so far. */
  lost = 0;
  private lastLost = new Set<string>();
  /** Deterministic across runs. */
  private readonly rng = new Rng(0x2545f491);
  /** Advertisements put on the wire (any node). */
  sent = 0;
  /** Nodes whose sends fail (the socket refuses them): nothing goes out, the router is told. */
  readonly sendFails = new Set<string>();

  add(name: string, address: string, cfg: Omit<VrrpRouterConfig, 'primaryAddress' | 'vrid'> & { vrid?: number }): SimNode {
    const addr = ip(address);
    const node: SimNode = {
      name, address: addr, router: new VrrpRouter({ vrid: 51, ...cfg, primaryAddress: addr }),
      alive: true, segment: 'lan', holdsVips: false, timerGen: 0, log: [],
    };
    this.nodes.set(name, node);
    return node;
  }

  node(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Feeds an event to a node now and executes its actions. */
  input(name: string, ev: VrrpEvent): void {
    const n = this.node(name);
    if (!n.alive) return;
    this.execute(n, n.router.handle(ev, this.now));
  }

  start(name: string): void { this.input(name, { type: 'startup' }); }

  /** SIGKILL: the node stops without sending anything (VIPs die with it). */
  kill(name: string): void {
    const n = this.node(name);
    n.alive = false;
    n.holdsVips = false;
    n.timerGen++;
  }

  /** Restart a killed node with a fresh router (new config merged over the old one). */
  restart(name: string, cfg: Omit<VrrpRouterConfig, 'primaryAddress' | 'vrid'> & { vrid?: number }): void {
    const n = this.node(name);
    n.router = new VrrpRouter({ vrid: 51, ...cfg, primaryAddress: n.address });
    n.alive = true;
    n.timerGen++;
    this.start(name);
  }

  at(t: number, run: () => void): void {
    this.queue.push({ at: t, seq: this.seq++, run });
    // keep sorted by (at, seq); the queue stays small so insertion order suffices
    this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
  }

  runUntil(t: number): void {
    for (;;) {
      const next = this.queue[0];
      if (!next || next.at > t) break;
      this.queue.shift();
      this.now = next.at;
      next.run();
    }
    this.now = t;
  }

  runFor(ms: number): void { this.runUntil(this.now + ms); }

  masters(): string[] {
    return [...this.nodes.values()].filter((n) => n.alive && n.router.state === 'master').map((n) => n.name);
  }
  vipHolders(): string[] {
    return [...this.nodes.values()].filter((n) => n.alive && n.holdsVips).map((n) => n.name);
  }
  stateOf(name: string): VrrpState { return this.node(name).router.state; }

  /** State changes of a node at or after a time. */
  changes(name: string, since = 0): { at: number; to: VrrpState; reason: string }[] {
    const out: { at: number; to: VrrpState; reason: string }[] = [];
    for (const e of this.node(name).log) {
      if (e.at >= since && e.action.type === 'stateChange') out.push({ at: e.at, to: e.action.to, reason: e.action.reason });
    }
    return out;
  }
  actions(name: string, type: VrrpAction['type'], since = 0): VrrpAction[] {
    return this.node(name).log.filter((e) => e.at >= since && e.action.type === type).map((e) => e.action);
  }

  private execute(n: SimNode, actions: VrrpAction[]): void {
    const sendResults: boolean[] = [];
    for (const a of actions) {
      n.log.push({ at: this.now, action: a });
      switch (a.type) {
        case 'sendAdvert':
          // Like VrrpInstance: each send's outcome goes back once this event's actions are done.
          if (this.sendFails.has(n.name)) sendResults.push(false);
          else {
            this.broadcast(n, a.priority, a.maxAdverIntervalCs);
            sendResults.push(true);
          }
          break;
        case 'addVips': n.holdsVips = true; break;
        case 'removeVips': n.holdsVips = false; break;
        case 'armTimer': {
          const gen = ++n.timerGen;
          this.at(a.at, () => { if (n.alive && n.timerGen === gen) this.input(n.name, { type: 'timer' }); });
          break;
        }
        case 'cancelTimer': n.timerGen++; break;
        default: break;
      }
    }
    for (const ok of sendResults) this.input(n.name, { type: 'sendResult', ok });
  }

  private broadcast(from: SimNode, priority: number, intervalCs: number): void {
    this.sent++;
    const wire = encode({ family: 4, vrid: from.router.vrid, priority, maxAdverIntervalCs: intervalCs, addresses: [SIM_VIP] },
      { src: from.address, dst: VRRP_GROUP_V4 });
    const segment = from.segment;
    for (const to of this.nodes.values()) {
      if (to === from) continue;
      const link = `${from.name}>${to.name}`;
      if (this.isolatedLoss > 0 && !this.lastLost.has(link) && this.rng.next() < this.isolatedLoss) {
        this.lastLost.add(link);
        this.lost++;
        continue;
      }
      this.lastLost.delete(link);
      const delay = this.latencyMs + (this.jitterMs > 0 ? this.rng.next() * this.jitterMs : 0);
      this.at(this.now + delay, () => {
        if (!to.alive || to.segment !== segment || from.segment !== segment) return;
        const r = receiveAdvertisement(wire, { src: from.address, dst: VRRP_GROUP_V4, ttl: 255 }, {
          family: 4, vrid: to.router.vrid, localIsOwner: to.router.effectivePriority === 255,
          addresses: [SIM_VIP], checkAddresses: true, ownAddresses: [to.address],
        });
        if (!r.ok) return;
        this.input(to.name, { type: 'advert', priority: r.packet.priority, maxAdverIntervalCs: r.packet.maxAdverIntervalCs, src: r.src });
      });
    }
  }
}
