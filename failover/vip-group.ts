/**
 * The virtual addresses of one virtual router, on several interfaces (LAN and WAN),
 * moved as one group: a master holds all of them or tries to, a backup none. The
 * actual `ip addr add/del` is the node's VipMover; this module orders the work.
 */

import { IpBytes, parseIp } from './ip-address.js';

export interface Vip {
  ifname: string;
  address: IpBytes;
  prefixLength: number;
  /** "192.0.2.1/24" or "2001:db8::1/64", as `ip addr` takes it. */
  cidr: string;
}

/** Parses "address/prefix" (prefix defaults to a host route) for an interface. */
export function parseVip(ifname: string, text: string): Vip | undefined {
  const slash = text.indexOf('/');
  const addrText = slash >= 0 ? text.slice(0, slash) : text;
  const address = parseIp(addrText);
  if (!address || ifname.length === 0) return undefined;
  const max = address.length * 8;
  let prefixLength = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) return undefined;
    prefixLength = Number(p);
  }
  return { ifname, address, prefixLength, cidr: `${addrText}/${prefixLength}` };
}

/**
 * What node/ implements, e.g. with `ip addr add|del <cidr> dev <ifname>` (adding an
 * address that is present, or removing one that is absent, must count as success so
 * the group can be re-applied after a crash).
 */
export interface VipMover {
  add(vip: Vip): Promise<void>;
  remove(vip: Vip): Promise<void>;
}

export interface VipGroupResult {
  active: boolean;
  failed: { vip: Vip; error: string }[];
}

/**
 * Applies "hold all" / "hold none" to the group. Calls are serialized: a request
 * made while one is running waits, and of several waiting requests only the latest
 * runs (a master that flips to backup and back need not churn addresses). Within one
 * request the interfaces are worked on in parallel, so the takeover is as fast as the
 * slowest single `ip` call.
 */
export class VipGroup {
  readonly vips: readonly Vip[];
  private readonly mover: VipMover;
  private desired: boolean | undefined;
  private applied: boolean | undefined;
  private running: Promise<void> | undefined;
  private waiters: { resolve: (r: VipGroupResult) => void }[] = [];
  private lastResult: VipGroupResult = { active: false, failed: [] };

  constructor(vips: readonly Vip[], mover: VipMover) {
    this.vips = vips;
    this.mover = mover;
  }

  /** The state last asked for (undefined before the first request). */
  get wanted(): boolean | undefined { return this.desired; }
  /** The state last completely applied. */
  get current(): boolean | undefined { return this.applied; }

  /** Take (true) or release (false) every VIP; resolves when this or a later request has run. */
  setActive(active: boolean): Promise<VipGroupResult> {
    this.desired = active;
    const p = new Promise<VipGroupResult>((resolve) => this.waiters.push({ resolve }));
    if (!this.running) this.running = this.drain();
    return p;
  }

  private async drain(): Promise<void> {
    try {
      while (this.desired !== undefined && this.waiters.length > 0) {
        const target = this.desired;
        const waiting = this.waiters;
        this.waiters = [];
        this.lastResult = await this.apply(target);
        // Requests that arrived meanwhile are served by the next round; if they asked
        // for what we just applied, answer them without touching the system again.
        if (this.desired === target) {
          for (const w of this.waiters) w.resolve(this.lastResult);
          this.waiters = [];
        }
        for (const w of waiting) w.resolve(this.lastResult);
      }
    } finally {
      this.running = undefined;
    }
  }

  private async apply(active: boolean): Promise<VipGroupResult> {
    const results = await Promise.allSettled(this.vips.map((v) => (active ? this.mover.add(v) : this.mover.remove(v))));
    const failed: VipGroupResult['failed'] = [];
    results.forEach((r, i) => {
      if (r.status === 'rejected') failed.push({ vip: this.vips[i]!, error: r.reason instanceof Error ? r.reason.message : String(r.reason) });
    });
    this.applied = active;
    return { active, failed };
  }
}
