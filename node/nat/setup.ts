/**
 * Making a binding on the first packet of a connection: the NAT statement's request, the
 * packet and (for masquerade / redirect) the interface address give the translated
 * address and port. Per new connection, not per packet: no allocation either (the pool
 * map may grow the first time an address is used).
 *
 * Like Linux, the first manip of each side wins (nf_nat_initialized): a second SNAT rule
 * matching the same first packet changes nothing. DNAT (prerouting) and SNAT
 * (postrouting) on the same connection both land in one binding.
 */
import { IpProto, PacketInfo } from '../packet/packet-info.js';
import { NatBinding, NatKind, NatManip, ORIG_DST, ORIG_SRC, initBindingFromPacket, setDestNat, setSourceNat } from './binding.js';
import { NatFlags } from './nat-flags.js';
import { PORT_EXHAUSTED, PortAllocator, allocatesPorts } from './port-allocator.js';
import { addressWords } from './port-hash.js';
import { NatRequest, rangeLow32 } from './request.js';

export const enum NatSetupStatus {
  Ok = 0,
  /** masquerade / redirect without an interface address of the packet's family. */
  NoAddress = 1,
  /** Every port of the range is taken on every address tried (counted by the allocator). */
  PortsExhausted = 2,
  /** The request's addresses are of the other family. */
  FamilyMismatch = 3,
  /** Not an IP packet, or the request is inconsistent (should have been refused at load). */
  Invalid = 4,
}

/** Addresses of a range tried when the first one's ports are exhausted. */
export const MAX_ADDRESS_TRIES = 16;

const addrScratch = new Uint8Array(16);
const words = new Uint32Array(10);

/**
 * Picks address number `index` of the request's range into `addrScratch`; returns the
 * number of addresses in the range.
 */
function rangeAddress(req: NatRequest, n: number, index: number): number {
  const lo = req.addrMin as Uint8Array;
  const hi = req.addrMax as Uint8Array;
  const a = rangeLow32(lo, 0, n);
  const count = rangeLow32(hi, 0, n) - a + 1;
  const v = (a + (index % count)) >>> 0;
  for (let i = 0; i < n - 4; i++) addrScratch[i] = lo[i];
  addrScratch[n - 4] = v >>> 24;
  addrScratch[n - 3] = (v >>> 16) & 0xff;
  addrScratch[n - 2] = (v >>> 8) & 0xff;
  addrScratch[n - 1] = v & 0xff;
  return count;
}

/**
 * The hash that spreads connections over an address range: the original source, and the
 * original destination unless `persistent` (so one client keeps one public address).
 */
function addressHash(b: NatBinding, alloc: PortAllocator, persistent: boolean): number {
  const n = b.addrLen;
  let at = addressWords(b.addrs, ORIG_SRC, n, words, 0);
  if (!persistent) at = addressWords(b.addrs, ORIG_DST, n, words, at);
  return alloc.hashWords(words, at);
}

function copyIface(addr: Uint8Array, off: number, n: number): void {
  for (let i = 0; i < n; i++) addrScratch[i] = addr[off + i];
}

/**
 * Applies `req` to the binding of the connection whose first packet is `pkt` (in the
 * original direction, as it is at this hook). An empty binding is first initialised from
 * the packet. `ifaceAddr` is the egress interface's address for masquerade or the ingress
 * interface's for redirect (same family as the packet), else null.
 *
 * Does not touch the packet: translate it with `applyNat(pkt, b, 'original')` afterwards.
 * On failure the binding keeps what it had (the connection should be dropped, as Linux
 * drops a packet whose NAT setup fails).
 */
export function setupNat(
  b: NatBinding,
  req: NatRequest,
  pkt: PacketInfo,
  alloc: PortAllocator,
  ifaceAddr: Uint8Array | null = null,
  ifaceAddrOff = 0,
): NatSetupStatus {
  if (pkt.family !== 4 && pkt.family !== 6) return NatSetupStatus.Invalid;
  if (b.family === 0) initBindingFromPacket(b, pkt);
  else if (b.family !== pkt.family) return NatSetupStatus.FamilyMismatch;
  if (req.family !== 0 && req.family !== b.family) return NatSetupStatus.FamilyMismatch;
  const n = b.addrLen;
  const fam = b.family as 4 | 6;
  switch (req.kind) {
    case NatKind.Snat:
    case NatKind.Masquerade: {
      if (b.manip & NatManip.Src) return NatSetupStatus.Ok;
      let count = 1;
      let base = 0;
      if (req.kind === NatKind.Masquerade) {
        if (ifaceAddr === null || ifaceAddr.length - ifaceAddrOff < n) return NatSetupStatus.NoAddress;
        copyIface(ifaceAddr, ifaceAddrOff, n);
      } else {
        if (req.addrMin === null || req.addrMax === null || req.addrMin.length !== n) return NatSetupStatus.Invalid;
        count = rangeAddress(req, n, 0);
        if (count > 1) {
          base = addressHash(b, alloc, (req.flags & NatFlags.Persistent) !== 0);
          rangeAddress(req, n, base);
        }
      }
      if (!allocatesPorts(b.proto)) {
        // GRE, ESP, SCTP...: no ports we can rewrite; the address alone is translated.
        setSourceNat(b, req.kind, addrScratch, 0, b.origSport);
        return NatSetupStatus.Ok;
      }
      const tries = count < MAX_ADDRESS_TRIES ? count : MAX_ADDRESS_TRIES;
      for (let t = 0; t < tries; t++) {
        if (t > 0) rangeAddress(req, n, (base + t) >>> 0);
        const pool = alloc.pool(fam, addrScratch, 0, b.proto);
        const port = alloc.allocate(pool, b, req.portMin, req.portMax, req.flags);
        if (port !== PORT_EXHAUSTED) {
          setSourceNat(b, req.kind, addrScratch, 0, port);
          b.pool = pool;
          return NatSetupStatus.Ok;
        }
      }
      return NatSetupStatus.PortsExhausted;
    }
    case NatKind.Dnat:
    case NatKind.Redirect: {
      if (b.manip & NatManip.Dst) return NatSetupStatus.Ok;
      if (req.kind === NatKind.Redirect) {
        if (ifaceAddr === null || ifaceAddr.length - ifaceAddrOff < n) return NatSetupStatus.NoAddress;
        copyIface(ifaceAddr, ifaceAddrOff, n);
      } else {
        if (req.addrMin === null || req.addrMax === null || req.addrMin.length !== n) return NatSetupStatus.Invalid;
        if (rangeAddress(req, n, 0) > 1) rangeAddress(req, n, addressHash(b, alloc, false));
      }
      let port = b.origDport;
      if ((b.proto === IpProto.Tcp || b.proto === IpProto.Udp) && req.portMax !== 0) {
        // Keep the port when the range holds it (Linux does the same for DNAT ranges),
        // else spread connections over the range.
        if (port < req.portMin || port > req.portMax) {
          port = req.portMin + (alloc.connectionHash(b) % (req.portMax - req.portMin + 1));
        }
      }
      setDestNat(b, req.kind, addrScratch, 0, port);
      return NatSetupStatus.Ok;
    }
    default:
      return NatSetupStatus.Invalid;
  }
}
