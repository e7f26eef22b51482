/**
 * The FTP helper (Linux's nf_conntrack_ftp): on a control connection whose helper is ftp
 * (`ct helper set`), the accepted segments' payload is read for PORT/EPRT (client) and
 * 227/229 (server) announcements (ftp-parse.ts); each one makes an expectation for the data
 * connection (expectations.ts), whose first packet is then `ct state related`.
 *
 * What is read, and its bounds (the payload is hostile):
 * - only in-order data: a segment is parsed when it starts where a line starts, i.e. at the
 *   sequence number just after the last segment that ended in a newline (or it is the first
 *   data seen), as Linux does (seq_aft_nl); each command must sit in one segment;
 * - only lines of at most FTP_LINE_MAX bytes; one pass over the payload;
 * - an announced address must be the sender's own (Linux's default, loose=0): a client
 *   cannot open a hole towards a third host;
 * - an announcement from a NATed side is not followed (its payload names the untranslated
 *   address, which is not rewritten yet): counted in stats.ftpIgnored, no expectation is
 *   made. The client's PORT/EPRT behind snat/masquerade, the server's 227/229 behind dnat.
 *   Passive mode through the client's masquerade needs no rewriting and works.
 */
import type { PacketInfo } from '../packet/packet-info.js';
import { CtDir, CtStatus } from './ct-types.js';
import type { CtStats } from './ct-types.js';
import type { Expectations } from './expectations.js';
import { FtpAnnounce, scanFtpPayload } from './ftp-parse.js';

/** Per control connection: where the next line starts, per direction (valid when known). */
interface FtpConn {
  nextSeq: [number, number];
  known: [boolean, boolean];
}

export class FtpHelper {
  /** By entry index; reset when an entry gets the helper (a reused slot starts over). */
  private readonly conns = new Map<number, FtpConn>();
  private readonly ann = new FtpAnnounce();
  // The segment being read (set for scanFtpPayload's callback, which allocates nothing).
  private entry = -1;
  private pkt: PacketInfo | null = null;
  private now = 0;
  private natted = false;
  private readonly onAnnounce = (a: FtpAnnounce): void => this.announce(a);

  constructor(private readonly expects: Expectations, private readonly stats: CtStats) {}

  /** Entry e became an FTP control connection. */
  start(e: number): void {
    this.conns.set(e, { nextSeq: [0, 0], known: [false, false] });
  }

  /** Entry e is gone. */
  stop(e: number): void {
    this.conns.delete(e);
    this.expects.removeMaster(e);
  }

  /** An accepted TCP segment of control connection e in direction dir, with its entry's status. */
  packet(e: number, dir: number, status: number, pkt: PacketInfo, now: number): void {
    const c = this.conns.get(e);
    if (c === undefined || pkt.payloadLen === 0 || pkt.inner) return;
    const off = pkt.l4Off + pkt.tcpHdrLen;
    const end = off + pkt.payloadLen;
    if (end > pkt.buf.length) return;
    const seq = pkt.seq >>> 0;
    const endsInNl = pkt.buf[end - 1] === 10;
    if (!c.known[dir] || c.nextSeq[dir] === seq) {
      this.entry = e;
      this.pkt = pkt;
      this.now = now;
      // The announcing side NATed: its payload names the untranslated address, which is not
      // rewritten (yet). The other side's NAT needs nothing: a 227 through the client's
      // masquerade names the server, and the data connection is NATed as any new one.
      this.natted = (status & (dir === CtDir.Original ? CtStatus.SrcNat : CtStatus.DstNat)) !== 0;
      scanFtpPayload(pkt.buf, off, end, dir === CtDir.Original, this.ann, this.onAnnounce);
      this.pkt = null;
    }
    // Where the next line starts is known only after a segment that ended one.
    if (endsInNl) {
      c.nextSeq[dir] = (seq + pkt.payloadLen) >>> 0;
      c.known[dir] = true;
    } else if (!c.known[dir]) {
      // Mid-line from the first segment on: wait for a segment that ends a line.
      c.known[dir] = true;
      c.nextSeq[dir] = -1; // no sequence number is -1: nothing is read until a segment ends a line
    }
  }

  private announce(a: FtpAnnounce): void {
    const pkt = this.pkt!;
    const alen = pkt.addrLen;
    if (this.natted) {
      this.stats.ftpIgnored++;
      return;
    }
    // The data connection comes from the other end of the control connection (the packet's
    // destination) to the announced address: the sender's own (229 names none: the sender).
    if (a.family !== 0) {
      if ((a.family === 4 ? 4 : 16) !== alen || !sameBytes(a.addr, 0, pkt.buf, pkt.srcOff, alen)) {
        this.stats.ftpIgnored++;
        return;
      }
    }
    this.expects.add(this.entry, pkt.family, pkt.buf, pkt.dstOff, pkt.buf, pkt.srcOff, alen, a.port, this.now);
  }
}

function sameBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[ao + k] !== b[bo + k]) return false;
  return true;
}
