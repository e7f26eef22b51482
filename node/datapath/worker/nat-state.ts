/**
 * NAT state of the datapath: one NatBinding per conntrack entry (indexed by entry, like
 * Linux keeps the nat extension inside the conntrack), the port allocator, and the
 * interface addresses masquerade / redirect use.
 *
 * Bindings are allocated once per entry slot and reused for every later connection in
 * that slot, so the per-packet and per-connection paths allocate nothing.
 */
import type { ConnTracker } from '../../conntrack/index.js';
import { CtEventKind } from '../../conntrack/index.js';
import { NatBinding, clearBinding } from '../../nat/binding.js';
import { PortAllocator, type PortAllocatorOptions } from '../../nat/port-allocator.js';
import { InstallResult, installReplicatedBinding } from '../../nat/replicate.js';

/** An interface address, as the datapath receives it from the control thread. */
interface InterfaceAddress {
  ifId: number;
  family: 4 | 6;
  bytes: Uint8Array;
  /**
   * A virtual IP this node holds on the interface (VRRP master). Masquerade and redirect
   * prefer it to the interface's own address: on a pair the VIP moves to the new master
   * with the replicated bindings, so a masqueraded connection survives a failover, while
   * the node's own address stays behind with the dead node.
   */
  vip?: boolean;
}

export class NatState {
  readonly allocator: PortAllocator;
  /**
   * Grown as entries get a binding (entries are handed out from slot 0 up): a table sized
   * for a million connections, few of them NATed, holds no million-slot array (8 MB).
   */
  private readonly slots: (NatBinding | undefined)[] = [];
  /** 1 when entry e holds a binding that translates something. */
  private readonly active: Uint8Array;
  private addr4: (Uint8Array | undefined)[] = [];
  private addr6: (Uint8Array | undefined)[] = [];
  readonly counts = { bindings: 0, released: 0, replicated: 0, replicaPortConflicts: 0 };

  constructor(capacity: number, opts: PortAllocatorOptions = {}) {
    this.allocator = new PortAllocator(opts);
    this.active = new Uint8Array(capacity);
  }

  /**
   * Chains onto conntrack's event handler: the binding is released after the other
   * handlers (state sync) saw the Destroy event, so they can still read it.
   */
  attach(ct: ConnTracker): void {
    const prev = ct.onEvent;
    ct.onEvent = (kind, entry) => {
      if (prev !== null) prev(kind, entry);
      if (kind === CtEventKind.Destroy) this.release(entry);
    };
  }

  /** The binding of a live NATed entry, or null. */
  get(entry: number): NatBinding | null {
    return entry >= 0 && this.active[entry] === 1 ? (this.slots[entry] as NatBinding) : null;
  }

  /** The (cleared) binding slot of entry `entry`, for setting a new connection up. */
  prepare(entry: number): NatBinding {
    const slots = this.slots;
    while (slots.length <= entry) slots.push(undefined);
    let b = slots[entry];
    if (b === undefined) slots[entry] = b = new NatBinding();
    else {
      if (this.active[entry] === 1) this.release(entry);
      clearBinding(b);
    }
    return b;
  }

  /** Marks entry's prepared binding live (it translates something). */
  activate(entry: number): void {
    this.active[entry] = 1;
    this.counts.bindings++;
  }

  /** Returns the binding's port and forgets it (connection destroyed or never confirmed). */
  release(entry: number): void {
    const b = this.slots[entry];
    if (b === undefined) return;
    this.allocator.releaseBinding(b);
    if (this.active[entry] === 1) {
      this.active[entry] = 0;
      this.counts.released++;
    }
  }

  /**
   * Installs a binding made on the peer for replica `entry` (filled in by `fill`), holding
   * its port in this node's allocator so later local connections cannot take it.
   */
  installReplica(entry: number, fill: (b: NatBinding) => void): void {
    const b = this.prepare(entry);
    fill(b);
    if (b.manip === 0) return;
    if (installReplicatedBinding(b, this.allocator) === InstallResult.PortConflict) this.counts.replicaPortConflicts++;
    this.active[entry] = 1;
    this.counts.replicated++;
  }

  /**
   * Replaces the interface addresses. Per interface and family the first VIP wins, else the
   * first own address. Called when routes or VIPs change (control plane), never per packet;
   * bindings already made keep their address (Linux masquerade does the same until the
   * address goes away).
   */
  setAddresses(list: InterfaceAddress[]): void {
    const a4: (Uint8Array | undefined)[] = [];
    const a6: (Uint8Array | undefined)[] = [];
    const vip4: boolean[] = [];
    const vip6: boolean[] = [];
    for (const a of list) {
      const t = a.family === 4 ? a4 : a6;
      const v = a.family === 4 ? vip4 : vip6;
      const isVip = a.vip === true;
      if (t[a.ifId] === undefined || (isVip && v[a.ifId] !== true)) {
        t[a.ifId] = a.bytes;
        v[a.ifId] = isVip;
      }
    }
    this.addr4 = a4;
    this.addr6 = a6;
  }

  /** The address of interface `ifId` in `family`, or null. */
  interfaceAddress(ifId: number, family: number): Uint8Array | null {
    return (family === 4 ? this.addr4[ifId] : family === 6 ? this.addr6[ifId] : undefined) ?? null;
  }
}
