/**
 * NAT's part of the FTP helper (Linux's nf_nat_ftp and nf_nat_follow_master, facts only):
 * for an announcement on a NATed control connection, the address and port the other side
 * must be told, the port reserved for the data connection, and that connection's binding.
 *
 * Names, for an announcement by A (client's PORT/EPRT, or server's 227/229) to R:
 * - A_real, R_real: the hosts' own addresses; the helper sees the packet with these (the
 *   destination side of the control connection's binding is applied before the rules, the
 *   source side after the helper);
 * - A_seen: how R knows A (the control connection's translated source when A is the
 *   client, its original destination when A is the server), R_seen: how A knows R.
 *
 * The receiver is told A_seen and a port p' reserved on A_seen's pool (the announced port
 * itself when free, as nf_nat_ftp tries first); the data connection R_real:any -> A_seen:p'
 * is expected, and translated to R_seen:any -> A_real:p, so each end sees it come from and
 * go to the addresses it knows. A side that is not translated keeps its address and port
 * (and reserves nothing).
 */
import { ExpectNatFlag, type ExpectNat } from '../conntrack/expectations.js';
import type { FtpNatHook, FtpNatPlan } from '../conntrack/ftp-helper.js';
import { IpProto, type PacketInfo } from '../packet/packet-info.js';
import { NAT_DST, NAT_SRC, NatBinding, NatKind, ORIG_DST, ORIG_SRC, initBindingFromPacket, setDestNat, setSourceNat } from './binding.js';
import { PORT_EXHAUSTED, PortAllocator, PortPool } from './port-allocator.js';

/** Ports the data connection's reserved port is taken from when the announced one is taken (as the default SNAT range). */
const DATA_PORT_MIN = 1024;
const DATA_PORT_MAX = 65535;

function sameAddr(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

export class FtpNat implements FtpNatHook {
  constructor(
    /** The binding of a NATed connection entry, or null. */
    private readonly bindingOf: (entry: number) => NatBinding | null,
    private readonly alloc: PortAllocator,
  ) {}

  plan(master: number, dir: number, pkt: PacketInfo, port: number, out: FtpNatPlan): boolean {
    const b = this.bindingOf(master);
    const n = pkt.addrLen;
    if (b === null || b.family !== pkt.family || n === 0) return false;
    const fromOrig = dir === 0;
    const aReal = fromOrig ? ORIG_SRC : NAT_DST;
    const aSeen = fromOrig ? NAT_SRC : ORIG_DST;
    const rReal = fromOrig ? NAT_DST : ORIG_SRC;
    const rSeen = fromOrig ? ORIG_DST : NAT_SRC;
    const a = b.addrs;
    const x = out.nat;
    x.clear();
    x.flags = ExpectNatFlag.Decided;
    out.expSrc.fill(0);
    out.expDst.fill(0);
    out.expSrc.set(a.subarray(rReal, rReal + n));
    out.expDst.set(a.subarray(aSeen, aSeen + n));
    out.expDport = port;
    if (!sameAddr(a, aSeen, a, aReal, n)) {
      // A is translated: reserve the port on the address R knows it by.
      const pool = this.alloc.pool(pkt.family as 4 | 6, a, aSeen, IpProto.Tcp);
      const p = this.alloc.allocateNear(pool, port, DATA_PORT_MIN, DATA_PORT_MAX);
      if (p === PORT_EXHAUSTED) return false;
      out.expDport = p;
      x.hold = pool;
      x.flags |= ExpectNatFlag.Dst;
      x.natDst.fill(0);
      x.natDst.set(a.subarray(aReal, aReal + n));
      x.natDport = port;
    }
    if (!sameAddr(a, rSeen, a, rReal, n)) {
      x.flags |= ExpectNatFlag.Src;
      x.natSrc.fill(0);
      x.natSrc.set(a.subarray(rSeen, rSeen + n));
    }
    return true;
  }

  reserve(family: 4 | 6, addr: Uint8Array, port: number): PortPool | null {
    const pool = this.alloc.pool(family, addr, 0, IpProto.Tcp);
    return port >= 1 && pool.take(port) ? pool : null;
  }
}

export const enum ExpectedBindResult {
  Ok = 0,
  /** No source port free on the address the source is translated to. */
  PortsExhausted = 1,
}

/**
 * Makes the binding of a new connection that took an expectation with a NAT part (`x`), from
 * its first packet (original direction, untranslated): the destination to the announcer's
 * own address and port, the source to the address the announcer knows the other end by (a
 * source port allocated there, the original one when free). The reserved destination port
 * passes to the binding (released with it). On failure nothing is held.
 */
export function bindExpected(b: NatBinding, pkt: PacketInfo, x: ExpectNat, alloc: PortAllocator): ExpectedBindResult {
  initBindingFromPacket(b, pkt);
  if ((x.flags & ExpectNatFlag.Src) !== 0) {
    const pool = alloc.pool(pkt.family as 4 | 6, x.natSrc, 0, pkt.l4proto);
    const port = alloc.allocate(pool, b, 0, 0, 0);
    if (port === PORT_EXHAUSTED) return ExpectedBindResult.PortsExhausted;
    setSourceNat(b, NatKind.Snat, x.natSrc, 0, port);
    b.pool = pool;
  }
  if ((x.flags & ExpectNatFlag.Dst) !== 0) {
    setDestNat(b, NatKind.Dnat, x.natDst, 0, x.natDport);
    b.dstPool = x.hold as PortPool | null;
    x.hold = null;
  }
  return ExpectedBindResult.Ok;
}
