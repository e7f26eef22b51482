/**
 * Announcement frames a new master sends so that hosts and switches move the VIPs to
 * it at once instead of waiting for cache expiry (RFC 5798 §6.4.2 "broadcast a
 * gratuitous ARP request", "send an unsolicited ND Neighbor Advertisement with the
 * Router Flag (R) set, the Solicited Flag (S) unset, the Override flag (O) set"), as
 * complete Ethernet frames for an AF_PACKET socket, plus the repeat schedule.
 * Frames are built once per takeover and the same buffers are sent every round.
 */

import { onesSum, pseudoHeaderSum } from '../inet/index.js';
import { IpBytes } from './ip-address.js';

export type MacAddress = Uint8Array;

const ETH_P_ARP = 0x0806;
const ETH_P_IPV6 = 0x86dd;
const IPPROTO_ICMPV6 = 58;
const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
/** Ethernet frames shorter than 60 bytes (without FCS) must be padded (IEEE 802.3). */
const ETH_MIN_FRAME = 60;
const GARP_FRAME_LENGTH = ETH_MIN_FRAME; // 14 + 28 ARP, padded
const NA_FRAME_LENGTH = 14 + 40 + 32; // Ethernet + IPv6 + NA with one option

export function parseMac(text: string): MacAddress | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(mac: MacAddress): string {
  return [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** RFC 5798 §7.3: the virtual router MAC 00-00-5E-00-01-{VRID} (IPv4), -02- (IPv6). */
export function virtualRouterMac(vrid: number, family: 4 | 6): MacAddress {
  return Uint8Array.of(0x00, 0x00, 0x5e, 0x00, family === 4 ? 0x01 : 0x02, vrid & 0xff);
}

function writeEthernet(out: Uint8Array, dst: ArrayLike<number>, src: MacAddress, ethertype: number): void {
  out.set(dst, 0);
  out.set(src, 6);
  out[12] = ethertype >> 8;
  out[13] = ethertype & 0xff;
}

const BROADCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/**
 * Gratuitous ARP request (RFC 5227 §3 "ARP Announcement", RFC 5798 §6.4.1): broadcast,
 * sender and target protocol address both the VIP, target hardware address zero.
 * A request rather than a reply because every host processes requests, and Linux
 * updates existing neighbour entries from either.
 */
export function buildGratuitousArp(mac: MacAddress, vip: IpBytes, out = new Uint8Array(GARP_FRAME_LENGTH)): Uint8Array {
  if (mac.length !== 6 || vip.length !== 4) throw new RangeError('need a 6-byte MAC and an IPv4 address');
  out.fill(0, 0, GARP_FRAME_LENGTH);
  writeEthernet(out, BROADCAST, mac, ETH_P_ARP);
  const a = 14;
  out[a + 0] = 0; out[a + 1] = 1; // htype Ethernet
  out[a + 2] = 0x08; out[a + 3] = 0x00; // ptype IPv4
  out[a + 4] = 6; out[a + 5] = 4; // hlen, plen
  out[a + 6] = 0; out[a + 7] = 1; // oper request
  out.set(mac, a + 8); // sender hardware address
  out.set(vip, a + 14); // sender protocol address
  // target hardware address stays zero (RFC 5227 §2.1.1: ignored, SHOULD be zero)
  out.set(vip, a + 24); // target protocol address
  return out.subarray(0, GARP_FRAME_LENGTH);
}

const ALL_NODES = Uint8Array.of(0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01);
/** RFC 2464 §7: ff02::1 maps to 33:33:00:00:00:01. */
const ALL_NODES_MAC = [0x33, 0x33, 0x00, 0x00, 0x00, 0x01];

export interface NaOptions {
  /** IPv6 source; default the VIP itself (any address of the interface is allowed, RFC 4861 §4.4). */
  source?: IpBytes;
  /** Router flag (R); default true: the VIP is a gateway (RFC 5798 §6.4.2). */
  router?: boolean;
}

/**
 * Unsolicited Neighbour Advertisement (RFC 4861 §4.4, §7.2.6) to all-nodes with hop
 * limit 255 (receivers drop anything else, §7.1.2), S=0, O=1, and the target
 * link-layer address option so caches take the new MAC.
 */
export function buildUnsolicitedNa(mac: MacAddress, vip: IpBytes, opts: NaOptions = {}, out = new Uint8Array(NA_FRAME_LENGTH)): Uint8Array {
  const src = opts.source ?? vip;
  if (mac.length !== 6 || vip.length !== 16 || src.length !== 16) throw new RangeError('need a 6-byte MAC and IPv6 addresses');
  out.fill(0, 0, NA_FRAME_LENGTH);
  writeEthernet(out, ALL_NODES_MAC, mac, ETH_P_IPV6);
  const ip6 = 14;
  const payloadLength = 32;
  out[ip6] = 0x60; // version 6, traffic class 0, flow label 0
  out[ip6 + 4] = 0; out[ip6 + 5] = payloadLength;
  out[ip6 + 6] = IPPROTO_ICMPV6;
  out[ip6 + 7] = 255; // hop limit
  out.set(src, ip6 + 8);
  out.set(ALL_NODES, ip6 + 24);
  const icmp = ip6 + 40;
  out[icmp] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
  out[icmp + 1] = 0; // code
  out[icmp + 4] = ((opts.router ?? true) ? 0x80 : 0) | 0x20; // R, S=0, O=1
  out.set(vip, icmp + 8); // target address
  out[icmp + 24] = 2; // option: target link-layer address
  out[icmp + 25] = 1; // length in units of 8 bytes
  out.set(mac, icmp + 26);
  let sum = pseudoHeaderSum(src, 0, ALL_NODES, 0, 16, IPPROTO_ICMPV6, payloadLength);
  sum = onesSum(out, icmp, payloadLength, sum);
  const ck = ~sum & 0xffff;
  out[icmp + 2] = ck >> 8;
  out[icmp + 3] = ck & 0xff;
  return out.subarray(0, NA_FRAME_LENGTH);
}

/** One VIP as the announcer sees it. */
export interface AnnouncedVip {
  ifname: string;
  address: IpBytes;
}

export interface AnnounceOptions {
  /** Rounds of frames; default 5 (keepalived's default garp_master_repeat is 5). */
  repeat?: number;
  /** Gap between rounds, ms; default 200. The first round goes out at once. */
  spacingMs?: number;
  router?: boolean;
  /** Source for NAs per interface (e.g. its link-local); default the VIP. */
  naSource?: (ifname: string) => IpBytes | undefined;
}

export interface AnnounceStep {
  /** Offset from the start of the takeover, ms. */
  atMs: number;
  ifname: string;
  frame: Uint8Array;
}

/**
 * The announcement schedule for a takeover: every VIP's frame in each round, rounds
 * spaced evenly. The shell sends each step at its offset (and drops the rest of the
 * schedule if the router leaves master meanwhile). VIPs on interfaces without a known
 * MAC are skipped and reported.
 */
export function planAnnouncements(
  vips: readonly AnnouncedVip[],
  macOf: (ifname: string) => MacAddress | undefined,
  opts: AnnounceOptions = {},
): { steps: AnnounceStep[]; skipped: AnnouncedVip[] } {
  const repeat = Math.max(1, Math.floor(opts.repeat ?? 5));
  const spacing = Math.max(0, opts.spacingMs ?? 200);
  const frames: { ifname: string; frame: Uint8Array }[] = [];
  const skipped: AnnouncedVip[] = [];
  for (const v of vips) {
    const mac = macOf(v.ifname);
    if (!mac) { skipped.push(v); continue; }
    const frame = v.address.length === 4
      ? buildGratuitousArp(mac, v.address)
      : buildUnsolicitedNa(mac, v.address, { router: opts.router ?? true, source: opts.naSource?.(v.ifname) });
    frames.push({ ifname: v.ifname, frame });
  }
  const steps: AnnounceStep[] = [];
  for (let r = 0; r < repeat; r++) {
    for (const f of frames) steps.push({ atMs: r * spacing, ifname: f.ifname, frame: f.frame });
  }
  return { steps, skipped };
}
