/**
 * The FTP helper (Linux's nf_conntrack_ftp, and with NAT nf_nat_ftp): on a control
 * connection whose helper is ftp (`ct helper set`), the accepted segments' payload is read
 * for PORT/EPRT (client) and 227/229 (server) announcements (ftp-parse.ts); each one makes
 * an expectation for the data connection (expectations.ts), whose first packet is then
 * `ct state related`.
 *
 * What is read, and its bounds (the payload is hostile):
 * - only in-order data: a segment is parsed when it starts where a line starts, i.e. at the
 *   sequence number just after the furthest segment that ended in a newline (or it is the
 *   first data seen), as Linux does (seq_aft_nl); each command must sit in one segment;
 * - only lines of at most FTP_LINE_MAX bytes; one pass over the payload;
 * - an announced address must be the sender's own (Linux's default, loose=0): a client
 *   cannot open a hole towards a third host (counted in stats.ftpForeign).
 *
 * On a NATed control connection (snat/masquerade or dnat/redirect on it, either side) the
 * announcement is rewritten, as nf_nat_ftp does: NAT's hook (FtpNatHook, nat/ftp-nat.ts)
 * says how the other side knows the announcer and reserves a port there; the address and
 * port text is replaced in the payload (packet/mangle.ts: the length may change), the
 * connection's sequence adjustment (seqadj.ts) records the change, and the expectation
 * carries the data connection's translation. Bounds and what cannot be honoured:
 * - one rewrite per segment: a second announcement in the same segment is passed as it
 *   is, without expectation (stats.ftpNatSecond);
 * - a retransmission of the rewritten segment (same start) is rewritten again with the same
 *   text, so its length and offset are the same (stats.ftpNatRetransmitted); a segment that
 *   starts inside the rewritten text, or a retransmission that no longer holds the same
 *   announcement there, cannot be made consistent and is dropped (stats.ftpNatFailed);
 * - a segment that ends inside an announcement (a command cut in two: ftp-parse.ts's
 *   partialAnnouncement) is dropped, so the sender sends it again, usually whole, as Linux
 *   drops a "partial match" (stats.ftpNatSplit); a
 *   cut command in a segment that does not start a line cannot be seen at all;
 * - no port free for the data connection, or a packet that cannot change length (a
 *   reassembled fragmented datagram, no room in its slot): dropped (stats.ftpNatFailed),
 *   as nf_nat_ftp drops when it cannot mangle.
 */
import type { PacketInfo } from '../packet/packet-info.js';
import { MangleResult, manglePayload } from '../packet/mangle.js';
import { CtDir, CtStatus } from './ct-types.js';
import type { CtStats } from './ct-types.js';
import { ExpectNat, type ExpectPortHold, type Expectations } from './expectations.js';
import { FTP_TEXT_MAX, FtpAnnounce, FtpKind, formatAnnouncement, partialAnnouncement, scanFtpPayload } from './ftp-parse.js';
import { SeqAdj, seqAdjRecord } from './seqadj.js';

/** What NAT decides for an announcement on a NATed control connection (FtpNatHook.plan fills it). */
export class FtpNatPlan {
  /** The data connection's source as it reaches this node: the announcement's receiver. */
  readonly expSrc = new Uint8Array(16);
  /** Where the receiver is told to connect: the announcer as the receiver knows it, and the port. */
  readonly expDst = new Uint8Array(16);
  expDport = 0;
  /** The data connection's translation and the port held for it. */
  readonly nat = new ExpectNat();
}

/**
 * NAT's part of the helper (Linux's nf_nat_ftp hook), given by whoever holds the NAT
 * bindings (the datapath's filter stage).
 */
export interface FtpNatHook {
  /**
   * For `port` announced by the sender of `pkt` (its own address, checked) in direction
   * `dir` of NATed control connection `master`: fills `out` and reserves the announced
   * port on the address the receiver knows the sender by. False when no port is free.
   */
  plan(master: number, dir: number, pkt: PacketInfo, port: number, out: FtpNatPlan): boolean;
  /**
   * For a replica's expectation made through NAT on its owner (state sync): reserves `port`
   * of TCP on `addr` (the first 4 or 16 bytes, by `family`) as plan() did there. The hold,
   * or null when the port is taken here.
   */
  reserve(family: 4 | 6, addr: Uint8Array, port: number): ExpectPortHold | null;
}

/** The last rewrite of one direction, so a retransmission gets the same text. */
class Rewrite {
  valid = false;
  /** The rewritten segment's sequence number (sender's space). */
  seq = 0;
  /** Where the replaced text started in that segment's payload, and its old length. */
  textRel = 0;
  oldLen = 0;
  kind: FtpKind = FtpKind.None;
  port = 0;
  readonly text = new Uint8Array(FTP_TEXT_MAX);
  textLen = 0;
}

/** Where the next line starts, per direction. */
const enum LineState {
  /** No data seen yet: the first segment is taken to start a line. */
  Unknown = 0,
  /** Data seen, but no segment that ended a line: wait for one. */
  MidLine = 1,
  /** nextSeq is where the next line starts. */
  Known = 2,
}

/** Per control connection. */
interface FtpConn {
  nextSeq: [number, number];
  state: [LineState, LineState];
  rewrite: [Rewrite, Rewrite];
}

function seqAfter(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

export class FtpHelper {
  /** By entry index; reset when an entry gets the helper (a reused slot starts over). */
  private readonly conns = new Map<number, FtpConn>();
  private readonly ann = new FtpAnnounce();
  /** NAT's part; null: no NAT here (a NATed status then only counts as not NATed). */
  nat: FtpNatHook | null = null;
  // The segment being read (set for scanFtpPayload's callback, which allocates nothing).
  private entry = -1;
  private pkt: PacketInfo | null = null;
  private now = 0;
  private natted = false;
  /** The first announcement of a NATed segment (rewritten after the scan), and how many more. */
  private readonly first = new FtpAnnounce();
  private firstDelim = 0;
  private more = 0;
  private readonly plan = new FtpNatPlan();
  private readonly text = new Uint8Array(FTP_TEXT_MAX);
  private readonly onAnnounce = (a: FtpAnnounce): void => this.announce(a);

  constructor(
    private readonly expects: Expectations,
    private readonly stats: CtStats,
    /** The entry's sequence adjustment, made when first needed (the tracker owns them). */
    private readonly seqAdjFor: (entry: number) => SeqAdj,
    /** An expectation was made, or the sequence adjustment changed, for control connection `master` (state sync sends it again). */
    private readonly onChange: (master: number) => void = () => {},
  ) {}

  /** Entry e became an FTP control connection. */
  start(e: number): void {
    this.conns.set(e, { nextSeq: [0, 0], state: [LineState.Unknown, LineState.Unknown], rewrite: [new Rewrite(), new Rewrite()] });
  }

  /** Entry e is gone. */
  stop(e: number): void {
    this.conns.delete(e);
    this.expects.removeMaster(e);
  }

  /**
   * An accepted TCP segment of control connection e in direction dir, with its entry's
   * status. False: the packet must be dropped (a NATed announcement that cannot be
   * rewritten; see the module comment). Runs before the segment's sequence adjustment.
   */
  packet(e: number, dir: number, status: number, pkt: PacketInfo, now: number): boolean {
    const c = this.conns.get(e);
    if (c === undefined || pkt.payloadLen === 0 || pkt.inner) return true;
    const off = pkt.l4Off + pkt.tcpHdrLen;
    const len = pkt.payloadLen;
    const end = off + len;
    if (end > pkt.buf.length) return true;
    const seq = pkt.seq >>> 0;
    const endsInNl = pkt.buf[end - 1] === 10;
    const natted = this.nat !== null && (status & (CtStatus.SrcNat | CtStatus.DstNat)) !== 0;
    const rw = c.rewrite[dir];
    const again = natted && rw.valid && seq === rw.seq;
    if (natted && rw.valid && !again && seqAfter(seq, rw.seq) && seqAfter((rw.seq + rw.textRel + rw.oldLen) >>> 0, seq)) {
      // Starts inside the text rewritten before: its bytes cannot be placed consistently.
      this.stats.ftpNatFailed++;
      return false;
    }
    if (c.state[dir] === LineState.Unknown || (c.state[dir] === LineState.Known && c.nextSeq[dir] === seq) || again) {
      this.entry = e;
      this.pkt = pkt;
      this.now = now;
      this.natted = natted;
      this.first.kind = FtpKind.None;
      this.more = 0;
      const fromClient = dir === CtDir.Original;
      const done = scanFtpPayload(pkt.buf, off, end, fromClient, this.ann, this.onAnnounce);
      this.pkt = null;
      if (natted && partialAnnouncement(pkt.buf, off + done, end, fromClient, done === 0)) {
        // The segment ends inside what may be an announcement: it cannot be rewritten.
        this.stats.ftpNatSplit++;
        return false;
      }
      if (this.more > 0) this.stats.ftpNatSecond += this.more;
      if (again && this.first.kind === FtpKind.None) {
        // Where the rewritten announcement was, something else now: it cannot be made consistent.
        this.stats.ftpNatFailed++;
        return false;
      }
      if (this.first.kind !== FtpKind.None && !this.rewrite(c, e, dir, pkt, seq, again, now)) return false;
    }
    // Where the next line starts is known only after a segment that ended one; it only moves
    // forward (a retransmission of older data does not take it back).
    const next = (seq + len) >>> 0;
    if (endsInNl) {
      if (c.state[dir] !== LineState.Known || seqAfter(next, c.nextSeq[dir])) c.nextSeq[dir] = next;
      c.state[dir] = LineState.Known;
    } else if (c.state[dir] === LineState.Unknown) {
      c.state[dir] = LineState.MidLine;
    }
    return true;
  }

  private announce(a: FtpAnnounce): void {
    const pkt = this.pkt!;
    const alen = pkt.addrLen;
    // The data connection comes from the other end of the control connection (the packet's
    // destination) to the announced address: the sender's own (229 names none: the sender).
    if (a.family !== 0) {
      if ((a.family === 4 ? 4 : 16) !== alen || !sameBytes(a.addr, 0, pkt.buf, pkt.srcOff, alen)) {
        this.stats.ftpForeign++;
        return;
      }
    }
    if (this.natted) {
      // Rewritten after the scan (the payload may move): the first one only.
      if (this.first.kind !== FtpKind.None) {
        this.more++;
        return;
      }
      copyAnnounce(a, this.first);
      this.firstDelim = pkt.buf[a.textOff]!;
      return;
    }
    if (this.expects.add(this.entry, pkt.family, pkt.buf, pkt.dstOff, pkt.buf, pkt.srcOff, alen, a.port, this.now)) this.onChange(this.entry);
  }

  /** Rewrites the segment's first announcement for NAT and expects its data connection. */
  private rewrite(c: FtpConn, e: number, dir: number, pkt: PacketInfo, seq: number, again: boolean, now: number): boolean {
    const a = this.first;
    const rw = c.rewrite[dir];
    const rel = a.textOff - (pkt.l4Off + pkt.tcpHdrLen);
    if (again) {
      // A retransmission of the rewritten segment: the same text again, nothing new expected.
      if (rw.textRel !== rel || rw.oldLen !== a.textLen || rw.kind !== a.kind || rw.port !== a.port) {
        this.stats.ftpNatFailed++;
        return false;
      }
      if (manglePayload(pkt, a.textOff, a.textLen, rw.text, rw.textLen) !== MangleResult.Ok) {
        this.stats.ftpNatFailed++;
        return false;
      }
      this.stats.ftpNatRetransmitted++;
      return true;
    }
    const plan = this.plan;
    plan.nat.clear();
    if (!this.nat!.plan(e, dir, pkt, a.port, plan)) {
      this.stats.ftpNatFailed++;
      return false;
    }
    const alen = pkt.addrLen;
    const text = this.text;
    const n = formatAnnouncement(a.kind, this.firstDelim, plan.expDst, alen, plan.expDport, text);
    if (n !== a.textLen || !sameBytes(text, 0, pkt.buf, a.textOff, n)) {
      const delta = n - a.textLen;
      const adj = delta !== 0 ? this.seqAdjFor(e) : null;
      const ok =
        (adj === null || adj.set[dir] === 0 || seqAfter(seq, adj.pos[dir]!)) &&
        manglePayload(pkt, a.textOff, a.textLen, text, n) === MangleResult.Ok;
      if (!ok) {
        plan.nat.hold?.release(plan.expDport);
        this.stats.ftpNatFailed++;
        return false;
      }
      if (adj !== null) seqAdjRecord(adj, dir, seq, delta);
      rw.valid = true;
      rw.seq = seq;
      rw.textRel = rel;
      rw.oldLen = a.textLen;
      rw.kind = a.kind;
      rw.port = a.port;
      rw.text.set(text.subarray(0, n));
      rw.textLen = n;
      this.stats.ftpNatRewritten++;
    }
    this.expects.add(e, pkt.family, plan.expSrc, 0, plan.expDst, 0, alen, plan.expDport, now, plan.nat);
    // Its sequence adjustment changed (the expectation, with its NAT part, is not sent yet).
    this.onChange(e);
    return true;
  }
}

function copyAnnounce(a: FtpAnnounce, out: FtpAnnounce): void {
  out.kind = a.kind;
  out.family = a.family;
  out.addr.set(a.addr);
  out.port = a.port;
  out.textOff = a.textOff;
  out.textLen = a.textLen;
  out.lineOff = a.lineOff;
  out.lineLen = a.lineLen;
}

function sameBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[ao + k] !== b[bo + k]) return false;
  return true;
}
