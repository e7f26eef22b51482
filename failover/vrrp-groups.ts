/**
 * Several VRRP groups (virtual routers) on one node and one VRRP link: each group is its
 * own VrrpInstance with its own VRID, priority, VIPs and master, so group A can be master
 * on one node while group B is master on another (active/active; docs/active-active.md).
 *
 * One raw socket per family serves every group, as one interface carries all of their
 * advertisements (RFC 5798 §5.2.3: the VRID tells the virtual routers of a LAN apart):
 * each datagram goes to the instance of its VRID only. Without this, every instance would
 * see the other groups' advertisements and count them as rejected (vrid mismatch).
 * Still free of I/O: the instances' ports do it.
 */

import type { ReceivedDatagram } from './vrrp-receive.js';
import type { VrrpInstance, VrrpInstanceEvent } from './vrrp-instance.js';
import type { VrrpState } from './vrrp-state-machine.js';

/** One group of the set, as events and status name it. */
export interface VrrpGroupRef {
  readonly name: string;
  readonly vrid: number;
}

export interface VrrpGroupsCounters {
  /** Datagrams whose VRID is none of this node's groups (another cluster's virtual router on the link). */
  otherVrid: number;
  /** Datagrams too short to hold a VRRP header (IPv4 header included for IPv4). */
  short: number;
}

export class VrrpGroups {
  private readonly byVrid = new Map<number, VrrpInstance>();
  private readonly listeners: ((e: VrrpInstanceEvent, group: VrrpGroupRef) => void)[] = [];
  readonly counters: VrrpGroupsCounters = { otherVrid: 0, short: 0 };

  constructor(readonly instances: readonly VrrpInstance[]) {
    if (instances.length === 0) throw new RangeError('VrrpGroups: at least one group');
    for (const inst of instances) {
      const vrid = inst.cfg.vrid;
      if (this.byVrid.has(vrid)) throw new RangeError(`VrrpGroups: vrid ${vrid} twice (${this.byVrid.get(vrid)!.cfg.name}, ${inst.cfg.name})`);
      this.byVrid.set(vrid, inst);
      const ref: VrrpGroupRef = { name: inst.cfg.name, vrid };
      inst.on((e) => {
        for (const l of this.listeners) l(e, ref);
      });
    }
  }

  /** Every instance's events, with the group they belong to. */
  on(cb: (e: VrrpInstanceEvent, group: VrrpGroupRef) => void): void {
    this.listeners.push(cb);
  }

  instance(vrid: number): VrrpInstance | undefined {
    return this.byVrid.get(vrid);
  }

  /** The VRIDs of the groups this node is master of now. */
  mastered(): number[] {
    return this.instances.filter((i) => i.state === 'master').map((i) => i.cfg.vrid);
  }

  /** Each group's name, VRID and state, in configuration order. */
  states(): { name: string; vrid: number; state: VrrpState }[] {
    return this.instances.map((i) => ({ name: i.cfg.name, vrid: i.cfg.vrid, state: i.state }));
  }

  /** Starts every group, or only those of `vrids` (a drill of one group resuming). */
  start(vrids?: readonly number[]): void {
    for (const i of this.select(vrids)) i.start();
  }

  /**
   * Every group resigns (a master sends priority 0 and releases its VIPs), all at once; or
   * only those of `vrids` (a drill of one group: the others keep their state and timers).
   */
  async stop(vrids?: readonly number[]): Promise<void> {
    await Promise.all(this.select(vrids).map((i) => i.stop()));
  }

  private select(vrids: readonly number[] | undefined): readonly VrrpInstance[] {
    return vrids === undefined ? this.instances : this.instances.filter((i) => vrids.includes(i.cfg.vrid));
  }

  /** A VRRP payload from an IPv6 raw socket: byte 1 of the VRRP header is the VRID (RFC 5798 §5.2.3). */
  receive(payload: Uint8Array, dgram: ReceivedDatagram, offset = 0, length = payload.length - offset): void {
    if (length < 2) {
      this.counters.short++;
      return;
    }
    const inst = this.route(payload[offset + 1]!);
    inst?.receive(payload, dgram, offset, length);
  }

  /** A whole IPv4 datagram (header included): the VRID follows the IPv4 header's IHL words. */
  receiveIpv4(datagram: Uint8Array, length = datagram.length): void {
    const ihl = length >= 1 ? (datagram[0]! & 0x0f) * 4 : 0;
    if (ihl < 20 || length < ihl + 2) {
      this.counters.short++;
      return;
    }
    const inst = this.route(datagram[ihl + 1]!);
    inst?.receiveIpv4(datagram, length);
  }

  /**
   * The instance of `vrid`. With one group every datagram goes to it, as before groups
   * existed: its own checks count a wrong VRID as a rejected advertisement.
   */
  private route(vrid: number): VrrpInstance | undefined {
    if (this.instances.length === 1) return this.instances[0];
    const inst = this.byVrid.get(vrid);
    if (!inst) this.counters.otherVrid++;
    return inst;
  }
}
