/**
 * The node's own addresses (interface addresses and the VIPs held now), for the datapath's
 * choice of path: a new packet from one of them is the node's own (output hook), one to
 * one of them after prerouting is for the node (input hook); see filter-stage.ts and
 * docs/local-traffic.md. Also masquerade's source. Per-packet test: no allocation.
 */
import type { PlainAddress } from '../shared/messages.js';

export class LocalAddresses {
  private v4 = new Set<number>();
  private v6: Uint8Array[] = [];
  /** The interfaces each address is on (`fib daddr . iif type local`): IPv4 by value, IPv6 by index in v6. */
  private on4 = new Map<number, string[]>();
  private on6: string[][] = [];

  load(list: readonly PlainAddress[]): void {
    const v4 = new Set<number>();
    const v6: Uint8Array[] = [];
    const on4 = new Map<number, string[]>();
    const on6: string[][] = [];
    for (const a of list) {
      if (a.family === 4 && a.bytes.length === 4) {
        const n = ((a.bytes[0]! << 24) | (a.bytes[1]! << 16) | (a.bytes[2]! << 8) | a.bytes[3]!) >>> 0;
        v4.add(n);
        const names = on4.get(n);
        if (names === undefined) on4.set(n, [a.ifname]);
        else names.push(a.ifname);
      } else if (a.family === 6 && a.bytes.length === 16) {
        v6.push(Uint8Array.from(a.bytes));
        on6.push([a.ifname]);
      }
    }
    this.v4 = v4;
    this.v6 = v6;
    this.on4 = on4;
    this.on6 = on6;
  }

  /** Is the address one of `ifname`'s (the kernel's local route for it uses that device)? */
  hasOn(buf: Uint8Array, off: number, family: number, ifname: string): boolean {
    if (family === 4) return this.on4.get(((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0)?.includes(ifname) === true;
    outer: for (let i = 0; i < this.v6.length; i++) {
      const a = this.v6[i]!;
      for (let k = 15; k >= 0; k--) if (a[k] !== buf[off + k]) continue outer;
      if (this.on6[i]!.includes(ifname)) return true;
    }
    return false;
  }

  get size(): number {
    return this.v4.size + this.v6.length;
  }

  /** Is the address at `buf[off]` (4 or 16 bytes) one of the node's own? */
  has(buf: Uint8Array, off: number, family: number): boolean {
    if (family === 4) return this.v4.size !== 0 && this.v4.has(((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0);
    outer: for (let i = 0; i < this.v6.length; i++) {
      const a = this.v6[i]!;
      for (let k = 15; k >= 0; k--) if (a[k] !== buf[off + k]) continue outer;
      return true;
    }
    return false;
  }
}
