/**
 * Flowtables: `flowtable f { hook ingress priority filter; devices = { lan, wan }; }` in a
 * table, and `flow add @f` (older spelling `flow offload @f`) in a forward chain.
 *
 * In the kernel a flowtable is a software fast path hooked at ingress of its devices: once
 * `flow add` has offloaded a connection (established TCP, or UDP, seen from the forward
 * hook), that connection's later packets arriving on those devices skip the whole
 * classic path (prerouting, forward, postrouting) and are sent straight out with their
 * NAT applied. Rules added later never see them. A TCP FIN or RST tears the flow down and
 * that packet, and the rest, take the slow path again.
 *
 * hafw's datapath sees one TUN device; the node knows each packet's in and out interface
 * by name (ctx.iif / ctx.oif, the same ids `iifname` / `oifname` read). So `devices`
 * names interfaces of the node, and a connection is offloaded only when both its in and
 * its out interface are among them (the kernel's fast path sees a packet only on a hooked
 * device and sends it to the flow's out device). The fast path itself lives in the
 * datapath's filter stage; this file holds the declaration and its runtime state.
 */
import type { FlowtableJ } from './ast.js';
import type { InterfaceNames } from './interface-names.js';
import { IFNAME_MAX_BYTES } from './interface-names.js';
import { isPriority, PRIORITY_RANGE } from './priorities.js';

/** Why `flags offload` is refused. */
export const HW_OFFLOAD_REFUSED =
  "flowtable 'flags offload' (hardware offload to the NIC) is not supported: hafw forwards in user space through a TUN device, there is no NIC flow table to program; drop the flag (the software fast path still applies)";
/** Why the `counter` flag is refused. */
export const FT_COUNTER_REFUSED =
  "flowtable 'counter' (conntrack byte/packet accounting of offloaded flows) is not supported: hafw's conntrack keeps no per-connection counters; remove it (rule counters count the packets that went through the rules, as in the kernel)";

/** A flowtable of a committed (or draft) table, with what the datapath reads per packet. */
export class FlowtableState {
  /** Interface ids (engine's InterfaceNames) of `devices`; bit set per id. */
  private devMask = new Uint8Array(0);
  private boundTo: InterfaceNames | null = null;
  /** Connections this flowtable offloaded (the datapath adds; for tests and the bench). */
  offloaded = 0;
  /** No longer in the committed ruleset: its flows go back to the slow path (engine.ts). */
  retired = false;

  constructor(readonly json: FlowtableJ, readonly id: number) {}

  get devices(): string[] {
    const d = this.json.dev;
    return d === undefined ? [] : typeof d === 'string' ? [d] : d;
  }

  /** Resolves the device names to the ids the datapath uses (once per engine). */
  bind(ifnames: InterfaceNames): void {
    if (this.boundTo === ifnames) return;
    const ids = this.devices.map((n) => ifnames.idOf(n));
    const mask = new Uint8Array(Math.max(0, ...ids) + 1);
    for (const id of ids) mask[id] = 1;
    this.devMask = mask;
    this.boundTo = ifnames;
  }

  /** Are both interfaces (ids; 0: unknown) among the devices? */
  covers(iif: number, oif: number): boolean {
    const m = this.devMask;
    return iif > 0 && oif > 0 && iif < m.length && oif < m.length && m[iif] === 1 && m[oif] === 1;
  }
}

/** nft's priority text for a flowtable (netdev ingress: only `filter` is named, reach 10). */
export function flowtablePrioText(prio: number): string {
  if (prio === 0) return 'filter';
  if (Math.abs(prio) <= 10) return `filter ${prio > 0 ? '+' : '-'} ${Math.abs(prio)}`;
  return String(prio);
}

/** What nft lists between a flowtable's braces (one line each). */
export function flowtableBodyLines(j: FlowtableJ): string[] {
  const out = [`hook ${j.hook ?? 'ingress'} priority ${flowtablePrioText(j.prio ?? 0)}`];
  const devs = j.dev === undefined ? [] : typeof j.dev === 'string' ? [j.dev] : j.dev;
  if (devs.length > 0) out.push(`devices = { ${devs.join(', ')} }`);
  return out;
}

/** An interface name as the kernel accepts it: 1..15 bytes, no '/', no whitespace, no wildcard. */
function badDevice(d: unknown): string | null {
  if (typeof d !== 'string' || d === '') return `a device is an interface name, got ${JSON.stringify(d)}`;
  if (new TextEncoder().encode(d).length > IFNAME_MAX_BYTES) return `device '${d}' is longer than ${IFNAME_MAX_BYTES} bytes (IFNAMSIZ)`;
  if (/[\s/:]/.test(d) || d === '.' || d === '..') return `device '${d}' is not a valid interface name`;
  if (d.endsWith('*')) return `device '${d}': a flowtable names devices, not wildcards (nft refuses them too)`;
  return null;
}

/** The flowtable's fields, checked (text and JSON alike); null when fine. */
export function checkFlowtableSpec(j: FlowtableJ): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_.\-/]*$/.test(j.name)) return `the name must be a letter or _ followed by letters, digits, _ . - / (as nft's identifiers), got ${JSON.stringify(j.name)}`;
  if (j.hook === undefined) return 'a flowtable needs "hook": "ingress"';
  if (j.hook !== 'ingress') return `a flowtable's hook is 'ingress' (the only one the kernel offers), got ${JSON.stringify(j.hook)}`;
  if (!isPriority(j.prio)) return `a flowtable needs "prio", ${PRIORITY_RANGE}`;
  if (j.dev !== undefined) {
    const devs = typeof j.dev === 'string' ? [j.dev] : j.dev;
    if (!Array.isArray(devs)) return '"dev" must be an interface name or an array of them';
    for (const d of devs) {
      const err = badDevice(d);
      if (err) return err;
    }
    if (new Set(devs).size !== devs.length) return 'a device is named twice in "dev"';
  }
  for (const k of Object.keys(j)) {
    if (k === 'flags') {
      const f = (j as unknown as { flags: unknown }).flags;
      const list = Array.isArray(f) ? f : [f];
      if (list.includes('offload')) return HW_OFFLOAD_REFUSED;
      if (list.includes('counter')) return FT_COUNTER_REFUSED;
      return `unknown flowtable flags ${JSON.stringify(f)}`;
    }
    if (!['family', 'table', 'name', 'handle', 'hook', 'prio', 'dev'].includes(k)) return `unknown flowtable field "${k}"`;
  }
  return null;
}
