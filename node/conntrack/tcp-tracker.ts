/**
 * TCP connection tracking with the behaviour of Linux's nf_conntrack_proto_tcp.c
 * (state table, tcp_in_window with td_end / td_maxend / td_maxwin / td_scale, the
 * BE_LIBERAL / WINDOW_SCALE / MAXACK_SET flags, RST validation, simultaneous open and
 * the "ignore and resynchronise" logic), written anew over the struct-of-arrays table.
 * Sequence arithmetic is modulo 2^32 as in RFC 9293 §3.4 (before()/after()).
 *
 * Deliberate differences from Linux:
 *  - no NAT sequence offsets (no helpers mangle payloads here) and no synproxy;
 *  - no checksum check here: the datapath verifies (or trusts offload) before tracking.
 */
import { type PacketInfo, TcpFlag } from '../packet/packet-info.js';
import { TcpOptionKind, tcpFindOptionIn, TCP_MAX_WINDOW_SCALE } from '../packet/tcp-options.js';
import type { ConnTable } from './conn-table.js';
import { CtStatus, TcpDirFlag, TcpState } from './ct-types.js';
import { type SeqAdj, ackOffset } from './seqadj.js';

/** Row of the state table a packet selects (Linux get_conntrack_index). */
export const enum TcpIndex {
  Syn = 0,
  SynAck = 1,
  Fin = 2,
  Ack = 3,
  Rst = 4,
  None = 5,
}

/** Entry-wide flags kept in `lastFlags` besides the per-direction ones. */
const enum LastFlag {
  ExpChallengeAck = 0x40,
  SimOpen = 0x80,
}

/** Result of tcpPacket. */
export const enum TcpVerdict {
  /** The packet is invalid (-NF_ACCEPT): no state change, no ct attached. */
  Invalid = 0,
  /** Accepted; state and timeout updated. */
  Accept = 1,
  /** Accepted (state by direction), but ignored: nothing updated. */
  Ignore = 2,
  /** A SYN reopens a closed connection: destroy the entry and track the packet anew. */
  Repeat = 3,
  /** Accepted, then the entry must be destroyed (RST before any reply). */
  AcceptKill = 4,
}

const sNO = TcpState.None;
const sSS = TcpState.SynSent;
const sSR = TcpState.SynRecv;
const sES = TcpState.Established;
const sFW = TcpState.FinWait;
const sCW = TcpState.CloseWait;
const sLA = TcpState.LastAck;
const sTW = TcpState.TimeWait;
const sCL = TcpState.Close;
const sS2 = TcpState.SynSent2;
/** Invalid transition (TCP_CONNTRACK_MAX in Linux). */
const sIV = 10;
/** Ignore the packet (TCP_CONNTRACK_IGNORE). */
const sIG = 11;

/**
 * [dir][index][state] -> new state. Columns are the old state in the order
 * NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT,
 * CLOSE, SYN_SENT2. Transcribed from the behaviour of Linux's tcp_conntracks table.
 */
// prettier-ignore
const TABLE = new Uint8Array([
  // ORIGINAL
  /* syn    */ sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2,
  /* synack */ sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR,
  /* fin    */ sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /* ack    */ sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV,
  /* rst    */ sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /* none   */ sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
  // REPLY
  /* syn    */ sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2,
  /* synack */ sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR,
  /* fin    */ sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV,
  /* ack    */ sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG,
  /* rst    */ sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL,
  /* none   */ sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV,
]);

/** Next state for (dir, index, old) per the table; >= 10 means invalid/ignore. */
export function tcpNextState(dir: number, index: number, old: number): number {
  return TABLE[dir * 60 + index * 10 + old];
}

/** Linux MAXACKWINCONST: the least window an ACK may lag behind. */
const MAX_ACK_WIN_CONST = 66000;

/**
 * Flag combinations conntrack accepts (Linux tcp_valid_flags); PSH, ECE and CWR are
 * ignored. Index: flags & (FIN|SYN|RST|ACK|URG).
 */
const VALID_FLAGS = new Uint8Array(0x40);
VALID_FLAGS[TcpFlag.Syn] = 1;
VALID_FLAGS[TcpFlag.Syn | TcpFlag.Urg] = 1;
VALID_FLAGS[TcpFlag.Syn | TcpFlag.Ack] = 1;
VALID_FLAGS[TcpFlag.Rst] = 1;
VALID_FLAGS[TcpFlag.Rst | TcpFlag.Ack] = 1;
VALID_FLAGS[TcpFlag.Fin | TcpFlag.Ack] = 1;
VALID_FLAGS[TcpFlag.Fin | TcpFlag.Ack | TcpFlag.Urg] = 1;
VALID_FLAGS[TcpFlag.Ack] = 1;
VALID_FLAGS[TcpFlag.Ack | TcpFlag.Urg] = 1;

export function tcpFlagsValid(flags: number): boolean {
  return VALID_FLAGS[flags & ~(TcpFlag.Ece | TcpFlag.Cwr | TcpFlag.Psh) & 0x3f] === 1;
}

export function tcpIndex(flags: number): number {
  if (flags & TcpFlag.Rst) return TcpIndex.Rst;
  if (flags & TcpFlag.Syn) return flags & TcpFlag.Ack ? TcpIndex.SynAck : TcpIndex.Syn;
  if (flags & TcpFlag.Fin) return TcpIndex.Fin;
  if (flags & TcpFlag.Ack) return TcpIndex.Ack;
  return TcpIndex.None;
}

/** a is before b in sequence space (RFC 9293 §3.4). */
function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

/** Sequence number just past the segment: SYN and FIN each count one (Linux segment_seq_plus_len). */
function segmentEnd(pkt: PacketInfo): number {
  let n = pkt.seq + pkt.payloadLen;
  if (pkt.tcpFlags & TcpFlag.Syn) n++;
  if (pkt.tcpFlags & TcpFlag.Fin) n++;
  return n >>> 0;
}

/** Tunables the TCP tracker reads (a subset of ConntrackOptions, in ms). */
export interface TcpConfig {
  loose: boolean;
  beLiberal: boolean;
  ignoreInvalidRst: boolean;
  maxRetrans: number;
  /** Indexed by TcpState; [10] retrans, [11] unacknowledged. */
  timeouts: Float64Array;
}
export const TIMEOUT_RETRANS = 10;
export const TIMEOUT_UNACK = 11;

/**
 * Reads window scale and SACK-permitted from a SYN into direction slot d (Linux
 * tcp_options): with options present, the old scale and flags (except BE_LIBERAL) go.
 */
function readSynOptions(t: ConnTable, d: number, pkt: PacketInfo): void {
  if (pkt.tcpOptLen <= 0) return;
  t.tdScale[d] = 0;
  t.tdFlags[d] &= TcpDirFlag.BeLiberal;
  const buf = pkt.buf;
  if (tcpFindOptionIn(buf, pkt.tcpOptOff, pkt.tcpOptLen, TcpOptionKind.SackPermitted, 2) >= 0) {
    t.tdFlags[d] |= TcpDirFlag.SackPerm;
  }
  const p = tcpFindOptionIn(buf, pkt.tcpOptOff, pkt.tcpOptLen, TcpOptionKind.WindowScale, 3);
  if (p >= 0) {
    const s = buf[p + 2];
    t.tdScale[d] = s > TCP_MAX_WINDOW_SCALE ? TCP_MAX_WINDOW_SCALE : s;
    t.tdFlags[d] |= TcpDirFlag.WindowScale;
  }
}

/** The highest right edge among SACK blocks that lies after `ack` (Linux tcp_sack). */
function highestSack(pkt: PacketInfo, ack: number): number {
  if (pkt.tcpOptLen <= 0) return ack;
  const p = tcpFindOptionIn(pkt.buf, pkt.tcpOptOff, pkt.tcpOptLen, TcpOptionKind.Sack, 0);
  if (p < 0) return ack;
  const buf = pkt.buf;
  const len = buf[p + 1];
  if (len < 10 || ((len - 2) & 7) !== 0) return ack;
  let sack = ack;
  for (let i = p + 2; i < p + len; i += 8) {
    const right = ((buf[i + 4] << 24) | (buf[i + 5] << 16) | (buf[i + 6] << 8) | buf[i + 7]) >>> 0;
    if (after(right, sack)) sack = right;
  }
  return sack;
}

/** First SYN (or SYN/ACK) seen from direction slot s: Linux tcp_init_sender. */
function initSender(t: ConnTable, s: number, r: number, pkt: PacketInfo, end: number, win: number): void {
  t.tdEnd[s] = end;
  t.tdMaxEnd[s] = end;
  t.tdMaxWin[s] = win === 0 ? 1 : win;
  readSynOptions(t, s, pkt);
  // RFC 7323 §2.2: scaling is in effect only when both sides sent the option.
  if (!(t.tdFlags[s] & TcpDirFlag.WindowScale && t.tdFlags[r] & TcpDirFlag.WindowScale)) {
    t.tdScale[s] = 0;
    t.tdScale[r] = 0;
  }
}

/**
 * Initialises a new entry's TCP state from its first packet (Linux tcp_new). Returns
 * false when the packet may not create a connection (not a SYN and not loose).
 */
export function tcpNew(t: ConnTable, e: number, pkt: PacketInfo, cfg: TcpConfig): boolean {
  const index = tcpIndex(pkt.tcpFlags);
  const ns = TABLE[index * 10 + sNO];
  if (ns >= sIV) return false;
  t.clearTcp(e);
  const d = 2 * e;
  const end = segmentEnd(pkt);
  if (ns === sSS) {
    t.tdEnd[d] = end;
    t.tdMaxWin[d] = pkt.window === 0 ? 1 : pkt.window;
    t.tdMaxEnd[d] = end;
    readSynOptions(t, d, pkt);
  } else {
    if (!cfg.loose) return false;
    // Mid-stream pickup: the history is lost, take what the packet says, and be liberal
    // because the window scale is unknown.
    t.tdEnd[d] = end;
    t.tdMaxWin[d] = pkt.window === 0 ? 1 : pkt.window;
    t.tdMaxEnd[d] = end + t.tdMaxWin[d];
    t.tdFlags[d] = TcpDirFlag.SackPerm | TcpDirFlag.BeLiberal;
    t.tdFlags[d + 1] = TcpDirFlag.SackPerm | TcpDirFlag.BeLiberal;
  }
  t.lastIndex[e] = TcpIndex.None;
  return true;
}

const WIN_ACCEPT = 0;
const WIN_IGNORE = 1;
const WIN_INVALID = 2;

/** Linux tcp_in_window: checks the segment against both directions' windows and updates them. */
function inWindow(t: ConnTable, e: number, dir: number, index: number, pkt: PacketInfo, cfg: TcpConfig, adj: SeqAdj | undefined): number {
  const s = 2 * e + dir;
  const r = 2 * e + (dir ^ 1);
  const flags = pkt.tcpFlags;
  let seq = pkt.seq >>> 0;
  let ack = pkt.ack >>> 0;
  let sack = ack;
  const winRaw = pkt.window;
  let win = winRaw;
  let end = segmentEnd(pkt);
  const liberal = (t.tdFlags[s] & TcpDirFlag.BeLiberal) !== 0 || cfg.beLiberal;
  const state = t.tcpState[e];

  if (t.tdFlags[r] & TcpDirFlag.SackPerm) sack = highestSack(pkt, sack);
  if (adj !== undefined) {
    // A NAT helper resized the other direction's payload (seqadj.ts): this ACK counts in the
    // receiver's adjusted space; the windows are kept in each sender's own space.
    const off = ackOffset(adj, dir ^ 1, ack);
    ack = (ack - off) >>> 0;
    sack = (sack - off) >>> 0;
  }

  if (t.tdMaxWin[s] === 0) {
    if (flags & TcpFlag.Syn) {
      // SYN/ACK answering a SYN, or the reply side's SYN in a simultaneous open.
      initSender(t, s, r, pkt, end, win);
      if (!(flags & TcpFlag.Ack)) return WIN_ACCEPT;
    } else {
      // First packet seen from this side in the middle of a connection.
      t.tdEnd[s] = end;
      const swin = (win * 2 ** t.tdScale[s]) >>> 0;
      t.tdMaxWin[s] = swin === 0 ? 1 : swin;
      t.tdMaxEnd[s] = end + t.tdMaxWin[s];
      if (t.tdMaxWin[r] === 0) {
        t.tdEnd[r] = sack;
        t.tdMaxEnd[r] = sack;
      } else if (sack === ((t.tdEnd[r] + 1) >>> 0)) {
        // Likely the answer to a keepalive.
        t.tdEnd[r] = t.tdEnd[r] + 1;
      }
    }
  } else if (flags & TcpFlag.Syn && after(end, t.tdEnd[s]) && (state === sSS || state === sSR)) {
    // RFC 9293 §3.4.1: a reinitialised TCP uses larger sequence numbers; re-init this side.
    initSender(t, s, r, pkt, end, win);
    if (dir === 1 && !(flags & TcpFlag.Ack)) return WIN_ACCEPT;
  }

  if (!(flags & TcpFlag.Ack)) {
    ack = sack = t.tdEnd[r];
  } else if ((flags & (TcpFlag.Ack | TcpFlag.Rst)) === (TcpFlag.Ack | TcpFlag.Rst) && ack === 0) {
    // Stacks that set ACK with a zero ack number in RSTs.
    ack = sack = t.tdEnd[r];
  }
  if (flags & TcpFlag.Rst && seq === 0 && state === sSS) {
    // RST answering a SYN.
    seq = end = t.tdEnd[s];
  }

  const maxAckWin = t.tdMaxWin[s] > MAX_ACK_WIN_CONST ? t.tdMaxWin[s] : MAX_ACK_WIN_CONST;
  if (!before(seq, t.tdMaxEnd[s] + 1)) {
    const overshot = (end - t.tdMaxEnd[s] + 1) >>> 0;
    const ackOk = after(sack, t.tdEnd[r] - maxAckWin - 1);
    const inRecv = t.tdMaxWin[r] !== 0 && after(end, t.tdEnd[s] - t.tdMaxWin[r] - 1);
    if (inRecv && ackOk && overshot <= t.tdMaxWin[r] && before(sack, t.tdEnd[r] + 1)) {
      // A sender exceeding the receive window a little: remember the data so the ACK for
      // it is not "over the upper bound" later, but do not refresh anything.
      t.tdEnd[s] = end;
      t.tdFlags[s] |= TcpDirFlag.DataUnacknowledged;
      return liberal ? WIN_ACCEPT : WIN_IGNORE;
    }
    return liberal ? WIN_ACCEPT : WIN_INVALID; // SEQ over the receiver's window
  }
  if (!before(sack, t.tdEnd[r] + 1)) return liberal ? WIN_ACCEPT : WIN_INVALID; // ACKs unseen data
  const inRecv = t.tdMaxWin[r] === 0 || after(end, t.tdEnd[s] - t.tdMaxWin[r] - 1);
  if (!inRecv) return liberal ? WIN_ACCEPT : WIN_IGNORE; // old data retransmitted
  if (!after(sack, t.tdEnd[r] - maxAckWin - 1)) return liberal ? WIN_ACCEPT : WIN_IGNORE; // very late ACK

  // In window: update both directions. RFC 7323 §2.3: SYN windows are never scaled.
  if (!(flags & TcpFlag.Syn)) win = win * 2 ** t.tdScale[s];
  const swin = (win + ((sack - ack) >>> 0)) >>> 0;
  if (t.tdMaxWin[s] < swin) t.tdMaxWin[s] = swin;
  if (after(end, t.tdEnd[s])) {
    t.tdEnd[s] = end;
    t.tdFlags[s] |= TcpDirFlag.DataUnacknowledged;
  }
  if (flags & TcpFlag.Ack) {
    if (!(t.tdFlags[s] & TcpDirFlag.MaxAckSet)) {
      t.tdMaxAck[s] = ack;
      t.tdFlags[s] |= TcpDirFlag.MaxAckSet;
    } else if (after(ack, t.tdMaxAck[s])) {
      t.tdMaxAck[s] = ack;
    }
  }
  if (t.tdMaxWin[r] !== 0 && after(end, t.tdMaxEnd[s])) t.tdMaxWin[r] = t.tdMaxWin[r] + ((end - t.tdMaxEnd[s]) >>> 0);
  if (after(sack + win, t.tdMaxEnd[r] - 1)) {
    t.tdMaxEnd[r] = sack + win + (win === 0 ? 1 : 0);
  }
  if (ack === t.tdEnd[r]) t.tdFlags[r] &= ~TcpDirFlag.DataUnacknowledged;

  if (index === TcpIndex.Ack) {
    if (t.lastDir[e] === dir && t.lastSeq[e] === seq && t.lastAck[e] === ack && t.lastEnd[e] === end && t.lastWin[e] === winRaw) {
      if (t.retrans[e] < 255) t.retrans[e]++;
    } else {
      t.lastDir[e] = dir;
      t.lastSeq[e] = seq;
      t.lastAck[e] = ack;
      t.lastEnd[e] = end;
      t.lastWin[e] = winRaw;
      t.retrans[e] = 0;
    }
  }
  return WIN_ACCEPT;
}

/** States in which an entry may be dropped early or a RST needs no validation (tcp_can_early_drop). */
export function tcpClosing(state: number): boolean {
  return state === sFW || state === sLA || state === sTW || state === sCL || state === sCW;
}

function established(t: ConnTable, e: number): boolean {
  return t.tcpState[e] === sES && (t.status[e] & CtStatus.Assured) !== 0;
}

/**
 * Out-of-window FIN/RST answering a FIN/RST of the other side on an assured entry:
 * shorten a long timeout to the "unacknowledged" one (Linux nf_tcp_handle_invalid).
 */
function handleInvalid(t: ConnTable, e: number, dir: number, index: number, now: number, cfg: TcpConfig): void {
  if (!(t.status[e] & CtStatus.Assured)) return;
  if (index !== TcpIndex.Rst && index !== TcpIndex.Fin) return;
  const li = t.lastIndex[e];
  if (t.lastDir[e] !== dir && (li === TcpIndex.Fin || li === TcpIndex.Rst)) {
    const remaining = t.expires[e] - now;
    if (remaining < 120_000) return;
    const unack = cfg.timeouts[TIMEOUT_UNACK];
    if (remaining > unack) t.expires[e] = now + unack;
  } else {
    t.lastIndex[e] = index;
    t.lastDir[e] = dir;
  }
}

/**
 * A packet the state table says to ignore (Linux TCP_CONNTRACK_IGNORE): our entry may be
 * out of sync with the endpoints, so let it through unrecorded but note it. Returns false
 * when it is a SYN/ACK answering a SYN we ignored before: then both ends agree and we
 * resynchronise to SYN_SENT -> SYN_RECV from the notes, and tracking continues.
 */
function ignoreOrResync(t: ConnTable, e: number, dir: number, index: number, old: number, pkt: PacketInfo): boolean {
  const seq = pkt.seq >>> 0;
  const ackSeq = pkt.ack >>> 0;
  const s = 2 * e + dir;
  const lastDir = t.lastDir[e];
  if (index === TcpIndex.SynAck && t.lastIndex[e] === TcpIndex.Syn && lastDir !== dir && ackSeq === t.lastEnd[e]) {
    // This SYN/ACK answers a SYN we ignored: both ends are in sync, we are not.
    // Resynchronise from what we noted about that SYN.
    const l = 2 * e + lastDir;
    t.tdEnd[l] = t.lastEnd[e];
    t.tdMaxEnd[l] = t.lastEnd[e];
    t.tdMaxWin[l] = t.lastWin[e] === 0 ? 1 : t.lastWin[e];
    t.tdScale[l] = t.lastWscale[e];
    t.lastFlags[e] &= ~LastFlag.ExpChallengeAck;
    t.tdFlags[l] = t.lastFlags[e] & 0x3f;
    t.tdEnd[s] = 0;
    t.tdMaxEnd[s] = 0;
    t.tdMaxWin[s] = 0;
    t.tdMaxAck[s] = 0;
    t.tdScale[s] = 0;
    t.tdFlags[s] &= TcpDirFlag.BeLiberal;
    return false;
  }
  t.lastIndex[e] = index;
  t.lastDir[e] = dir;
  t.lastSeq[e] = seq;
  t.lastEnd[e] = segmentEnd(pkt);
  t.lastWin[e] = pkt.window;
  // An ACK from the server while we wait for its SYN/ACK may be a challenge ACK (RFC 5961
  // §4) answering a SYN that hit a stale connection: note its ack number, so the client's
  // RST that follows (seq = that ack) is accepted below (as Linux does: "possible challenge ack reply to syn").
  if (old === sSS && index === TcpIndex.Ack && dir === 1) t.lastAck[e] = ackSeq;
  if (index === TcpIndex.Syn && dir === 0) {
    // Note the SYN's options in case the server answers it (resync above).
    let lf = 0;
    t.lastWscale[e] = 0;
    if (pkt.tcpOptLen > 0) {
      const p = tcpFindOptionIn(pkt.buf, pkt.tcpOptOff, pkt.tcpOptLen, TcpOptionKind.WindowScale, 3);
      if (p >= 0) {
        lf |= TcpDirFlag.WindowScale;
        const sc = pkt.buf[p + 2];
        t.lastWscale[e] = sc > TCP_MAX_WINDOW_SCALE ? TCP_MAX_WINDOW_SCALE : sc;
      }
      if (tcpFindOptionIn(pkt.buf, pkt.tcpOptOff, pkt.tcpOptLen, TcpOptionKind.SackPermitted, 2) >= 0) {
        lf |= TcpDirFlag.SackPerm;
      }
    }
    // RFC 5961 §4: the peer may answer with a challenge ACK that must not be taken
    // for the last ACK of LAST_ACK.
    if (old === sLA) lf |= LastFlag.ExpChallengeAck;
    t.lastFlags[e] = lf;
  }
  return true;
}

/**
 * Tracks one TCP segment of entry e in direction dir (Linux nf_conntrack_tcp_packet).
 * The caller has checked the flags (tcpFlagsValid) and, for a new entry, run tcpNew.
 * `adj`: the entry's sequence adjustment, when a NAT helper resized its payload.
 */
export function tcpPacket(t: ConnTable, e: number, dir: number, pkt: PacketInfo, now: number, cfg: TcpConfig, adj?: SeqAdj): number {
  const flags = pkt.tcpFlags;
  const index = tcpIndex(flags);
  let old = t.tcpState[e];
  let ns = TABLE[dir * 60 + index * 10 + old];
  const seq = pkt.seq >>> 0;
  const ackSeq = pkt.ack >>> 0;
  const s = 2 * e + dir;
  const r = 2 * e + (dir ^ 1);

  checked: {
    switch (ns) {
      case sSS:
        if (old < sTW) break;
        // RFC 1122 §4.2.2.13: a SYN may reopen a connection in TIME_WAIT; also a new SYN
        // after a RST in the same direction. Forget the old entry and start afresh.
        if ((t.tdFlags[s] | t.tdFlags[r]) & TcpDirFlag.CloseInit || (t.lastDir[e] === dir && t.lastIndex[e] === TcpIndex.Rst)) {
          return TcpVerdict.Repeat;
        }
        if (ignoreOrResync(t, e, dir, index, old, pkt)) return TcpVerdict.Ignore;
        old = sSS;
        ns = sSR;
        break;
      case sIG:
        if (ignoreOrResync(t, e, dir, index, old, pkt)) return TcpVerdict.Ignore;
        old = sSS;
        ns = sSR;
        break;
      case sIV:
        return TcpVerdict.Invalid;
      case sTW:
        if (
          old === sLA && index === TcpIndex.Ack && t.lastDir[e] !== dir &&
          t.lastIndex[e] === TcpIndex.Syn && t.lastFlags[e] & LastFlag.ExpChallengeAck
        ) {
          // RFC 5961 challenge ACK, not the last ACK.
          t.lastFlags[e] &= ~LastFlag.ExpChallengeAck;
          return TcpVerdict.Ignore;
        }
        break;
      case sS2:
        // The table cannot express simultaneous open alone; remember it.
        t.lastFlags[e] |= LastFlag.SimOpen;
        break;
      case sSR:
        if (dir === 1 && index === TcpIndex.Ack && t.lastFlags[e] & LastFlag.SimOpen) ns = sES;
        break;
      case sCL: {
        if (index !== TcpIndex.Rst) break;
        // Closing: the tuple may already be reused, window data is stale; accept the RST.
        if (tcpClosing(old)) break checked;
        if (t.tdFlags[r] & TcpDirFlag.MaxAckSet && t.lastIndex[e] !== TcpIndex.Syn) {
          // RFC 5961 §3.2: a RST must carry exactly the expected sequence number.
          if (seq === 0 && !established(t, e)) break;
          if (before(seq, t.tdMaxAck[r]) && !cfg.ignoreInvalidRst) return TcpVerdict.Invalid;
          if (!established(t, e) || seq === t.tdMaxAck[r]) break;
          // RST right after our last data segment (a "train").
          if (t.lastIndex[e] === TcpIndex.Ack && t.lastDir[e] === dir && seq === t.lastEnd[e]) break;
          // In window but not exact: keep the state, a challenge ACK may follow.
          ns = old;
        }
        const st = t.status[e];
        if (
          ((st & CtStatus.SeenReply && t.lastIndex[e] === TcpIndex.Syn && t.lastDir[e] !== dir) ||
            (!(st & CtStatus.Assured) && t.lastIndex[e] === TcpIndex.Ack)) &&
          ackSeq === t.lastEnd[e]
        ) {
          // RST answering a SYN or ACK we let through while ignoring: skip the window check.
          // The SYN must come from the other side: after a simultaneous open (both sides'
          // SYNs seen) a bare RST from the side that sent the last SYN answers nothing and
          // is window-checked, as the kernel does (found by the differential test).
          break checked;
        }
        if (old === sSS && t.lastIndex[e] === TcpIndex.Ack && t.lastDir[e] === 1 && seq === t.lastAck[e]) {
          // RST answering a challenge ACK we let through.
          break checked;
        }
        break;
      }
      default:
        break;
    }

    const res = inWindow(t, e, dir, index, pkt, cfg, adj);
    if (res === WIN_IGNORE) return TcpVerdict.Ignore;
    if (res === WIN_INVALID) {
      handleInvalid(t, e, dir, index, now, cfg);
      return TcpVerdict.Invalid;
    }
  }

  // In window from here on.
  t.lastIndex[e] = index;
  t.lastDir[e] = dir;
  t.tcpState[e] = ns;
  if (old !== ns && ns === sFW) t.tdFlags[s] |= TcpDirFlag.CloseInit;

  const to = cfg.timeouts;
  let timeout: number;
  if (t.retrans[e] >= cfg.maxRetrans && to[ns] > to[TIMEOUT_RETRANS]) timeout = to[TIMEOUT_RETRANS];
  else if (index === TcpIndex.Rst) timeout = to[sCL];
  else if ((t.tdFlags[2 * e] | t.tdFlags[2 * e + 1]) & TcpDirFlag.DataUnacknowledged && to[ns] > to[TIMEOUT_UNACK]) {
    timeout = to[TIMEOUT_UNACK];
  } else if (t.lastWin[e] === 0 && to[ns] > to[TIMEOUT_RETRANS]) timeout = to[TIMEOUT_RETRANS];
  else timeout = to[ns];

  const st = t.status[e];
  if (!(st & CtStatus.SeenReply)) {
    // Only a RST came back: the connection never existed; drop the entry now.
    if (flags & TcpFlag.Rst) return TcpVerdict.AcceptKill;
    // A retransmitted SYN does not extend the entry (port reuse would keep it forever).
    if (index === TcpIndex.Syn && old === sSS) return TcpVerdict.Accept;
    // Picked up mid-stream and no answer yet: do not grant the long ESTABLISHED timeout.
    if (ns === sES && timeout > to[TIMEOUT_UNACK]) timeout = to[TIMEOUT_UNACK];
  } else if (!(st & CtStatus.Assured) && (old === sSR || old === sES) && ns === sES) {
    // A valid ACK in ESTABLISHED after SYN_RECV (or an answer to a picked-up one).
    t.status[e] = st | CtStatus.Assured;
  }
  t.expires[e] = now + timeout;
  return TcpVerdict.Accept;
}
