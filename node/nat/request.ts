/**
 * What a NAT statement asks for, evaluated on the first packet of a connection.
 *
 * The ruleset's snat / dnat / masquerade / redirect statements compile to a NatRequest
 * (one per statement, made once at compile time; a `dnat to tcp dport map { ... }`
 * statement holds one request per map element and picks it per packet). `setupNat`
 * (setup.ts) turns request + packet into a NatBinding.
 *
 * `parseNatTarget` reads the target text of the nft syntax (`to ADDR[-ADDR][:PORT[-PORT]]`,
 * `to [V6ADDR]:PORT`, `to :PORT`), for the ruleset and for tests.
 */
import { parseAddress } from '../packet/address.js';
import { NatKind } from './binding.js';
import { NatFlags } from './nat-flags.js';

export interface NatRequest {
  kind: NatKind;
  /** Family of the addresses (4 or 6); 0 when the request names none (masquerade, redirect, `to :PORT`). */
  family: 0 | 4 | 6;
  /** First and last address of the range (inclusive), 4 or 16 bytes; null when none is named. */
  addrMin: Uint8Array | null;
  addrMax: Uint8Array | null;
  /** Port range (inclusive); both 0 when none is named. */
  portMin: number;
  portMax: number;
  /** NatFlags bits. */
  flags: number;
}

/** The parts of `to ...` text. */
export interface NatTarget {
  family: 0 | 4 | 6;
  addrMin: Uint8Array | null;
  addrMax: Uint8Array | null;
  portMin: number;
  portMax: number;
}

function parsePort(text: string, whole: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new Error(`invalid port "${text}" in NAT target "${whole}"`);
  const v = Number(text);
  if (v > 65535) throw new Error(`port ${v} out of range 0-65535 in NAT target "${whole}"`);
  return v;
}

/**
 * The address and port parts of a NAT target's text (either may be ''): `A`, `A:P`,
 * `A-B:P`, `[A6]:P`, `[A6]-[B6]:P` (nft's form), `[A6-B6]:P` (iptables'), `:P`. Throws an
 * Error for a bracket that does not close.
 */
export function splitNatTarget(text: string): { addr: string; port: string } {
  const t = text.trim();
  if (t.startsWith('[')) {
    const m = /^\[([^\]]*)\](?:-\[([^\]]*)\])?(?::(.*))?$/.exec(t);
    if (!m) throw new Error(`expected [IPv6 address]:PORT in NAT target "${text}"`);
    return { addr: m[2] === undefined ? m[1]! : `${m[1]}-${m[2]}`, port: m[3] ?? '' };
  }
  if (t.startsWith(':')) return { addr: '', port: t.slice(1) };
  // IPv6 without brackets cannot carry a port (nft requires brackets for that too).
  const i = t.indexOf(':');
  if (i >= 0 && t.indexOf(':', i + 1) < 0) return { addr: t.slice(0, i), port: t.slice(i + 1) };
  return { addr: t, port: '' };
}

/**
 * Parses a NAT target: `192.0.2.1`, `192.0.2.1:80`, `192.0.2.1:1024-2047`,
 * `192.0.2.1-192.0.2.9`, `[2001:db8::1]:80`, `[2001:db8::1]-[2001:db8::9]:80`, `2001:db8::1`,
 * `:8080` (redirect). Throws an
 * Error saying what is wrong.
 */
export function parseNatTarget(text: string): NatTarget {
  const { addr: addrPart, port: portPart } = splitNatTarget(text);
  const out: NatTarget = { family: 0, addrMin: null, addrMax: null, portMin: 0, portMax: 0 };
  if (addrPart !== '') {
    const dash = addrPart.indexOf('-');
    const lo = parseAddress(dash < 0 ? addrPart : addrPart.slice(0, dash));
    const hi = dash < 0 ? lo : parseAddress(addrPart.slice(dash + 1));
    if (lo.family !== hi.family) throw new Error(`address range mixes IPv4 and IPv6 in NAT target "${text}"`);
    out.family = lo.family;
    out.addrMin = lo.bytes;
    out.addrMax = hi.bytes;
    const err = addressRangeError(lo.bytes, hi.bytes);
    if (err) throw new Error(`${err} in NAT target "${text}"`);
  }
  if (portPart !== '') {
    const dash = portPart.indexOf('-');
    out.portMin = parsePort(dash < 0 ? portPart : portPart.slice(0, dash), text);
    out.portMax = dash < 0 ? out.portMin : parsePort(portPart.slice(dash + 1), text);
    if (out.portMin > out.portMax) throw new Error(`port range ${out.portMin}-${out.portMax} is reversed in NAT target "${text}"`);
    if (out.portMin === 0) throw new Error(`port 0 cannot be a NAT target in "${text}"`);
  } else if (addrPart === '') {
    throw new Error(`empty NAT target "${text}"`);
  }
  return out;
}

/**
 * Why an address range is unusable, or null. A range must be ascending and differ only
 * in its last 32 bits (so it holds at most 2^32 addresses; larger IPv6 ranges make no
 * sense for NAT).
 */
export function addressRangeError(lo: Uint8Array, hi: Uint8Array): string | null {
  if (lo.length !== hi.length) return 'address range mixes IPv4 and IPv6';
  const n = lo.length;
  for (let i = 0; i < n - 4; i++) {
    if (lo[i] !== hi[i]) return 'address range spans more than 2^32 addresses';
  }
  if (rangeLow32(lo) > rangeLow32(hi)) return 'address range is reversed';
  return null;
}

/** The last 32 bits of an address as a uint32. */
export function rangeLow32(a: Uint8Array, off = 0, len = a.length): number {
  const i = off + len - 4;
  return ((a[i] << 24) | (a[i + 1] << 16) | (a[i + 2] << 8) | a[i + 3]) >>> 0;
}

/** Options for `natRequest`. */
export interface NatRequestOptions {
  /** Target text as after `to` (see parseNatTarget). */
  to?: string;
  flags?: number;
}

/**
 * Builds a request (config time, allocates): `natRequest(NatKind.Snat, { to: '198.51.100.2:20000-29999' })`,
 * `natRequest(NatKind.Masquerade)`, `natRequest(NatKind.Redirect, { to: ':8080' })`.
 * Throws when the combination makes no sense (snat/dnat without an address, masquerade or
 * redirect with one).
 */
export function natRequest(kind: NatKind, opts: NatRequestOptions = {}): NatRequest {
  const t: NatTarget = opts.to !== undefined ? parseNatTarget(opts.to) : { family: 0, addrMin: null, addrMax: null, portMin: 0, portMax: 0 };
  const name = kind === NatKind.Snat ? 'snat' : kind === NatKind.Dnat ? 'dnat' : kind === NatKind.Masquerade ? 'masquerade' : 'redirect';
  if ((kind === NatKind.Snat || kind === NatKind.Dnat) && t.addrMin === null) {
    throw new Error(`${name} needs an address ("${name} to ADDR[:PORT]")`);
  }
  if ((kind === NatKind.Masquerade || kind === NatKind.Redirect) && t.addrMin !== null) {
    throw new Error(`${name} takes no address (only "to :PORT[-PORT]"): it uses the interface's own`);
  }
  if (kind === NatKind.None) throw new Error('a NAT request needs a kind');
  return { kind, family: t.family, addrMin: t.addrMin, addrMax: t.addrMax, portMin: t.portMin, portMax: t.portMax, flags: opts.flags ?? NatFlags.None };
}
