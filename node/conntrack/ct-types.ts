/**
 * The vocabulary of the connection tracker: states, status bits, events, options, the
 * per-packet result and the snapshot a peer needs to rebuild an entry.
 */

import { CtState } from '../ct-state/index.js';

/** `ct state` of one packet: defined once, for the tracker and the rule language, in node/ct-state. */
export { CtState };

/** `ct status` bits; the shared ones keep Linux's IPS_* values (uapi nf_conntrack_common.h). */
export const enum CtStatus {
  /** An expected connection (a helper announced it): IPS_EXPECTED. */
  Expected = 1 << 0,
  SeenReply = 1 << 1,
  Assured = 1 << 2,
  Confirmed = 1 << 3,
  SrcNat = 1 << 4,
  DstNat = 1 << 5,
  /** hafw only: the entry was created or last written by a peer through sync. */
  Replicated = 1 << 16,
  /** hafw only: a connection to the node itself (its first packet took the input path). */
  LocalIn = 1 << 17,
  /** hafw only: a connection the node opened (its first packet took the output path). */
  LocalOut = 1 << 18,
  /**
   * hafw only (the kernel's IPS_OFFLOAD): a flowtable fast path forwards this connection
   * (datapath filter-stage.ts). Local to the node: never replicated (the kernel does not
   * let conntrackd set it either), set and cleared without an event.
   */
  Offload = 1 << 19,
}

/**
 * hafw only: bits 24-31 of the status hold the VRID of the VRRP group whose master
 * forwards the connection (0: none known). They travel in the sync record's status, so a
 * replica names its group, and a node that takes a group over adopts that group's
 * connections only (datapath worker/takeover-adopt.ts, docs/active-active.md). The kernel
 * leaves these bits unused; the ruleset's `ct status` never sees them.
 */
export const CT_GROUP_SHIFT = 24;
/** The status without the group bits. */
export const CT_STATUS_NO_GROUP = 0x00ffffff;

/** The VRRP group (VRID) of a status word; 0 when none. */
export function ctGroup(status: number): number {
  return status >>> CT_GROUP_SHIFT;
}

/** `status` with its group bits set to `vrid` (0-255). */
export function withCtGroup(status: number, vrid: number): number {
  return ((status & CT_STATUS_NO_GROUP) | ((vrid & 0xff) << CT_GROUP_SHIFT)) >>> 0;
}

export const enum CtEventKind {
  New = 0,
  Update = 1,
  Destroy = 2,
}

/** Direction of a packet relative to the entry it matched. */
export const enum CtDir {
  Original = 0,
  Reply = 1,
}

/** TCP conntrack states; same numbering as Linux's enum tcp_conntrack (ctnetlink exposes it). */
export const enum TcpState {
  None = 0,
  SynSent = 1,
  SynRecv = 2,
  Established = 3,
  FinWait = 4,
  CloseWait = 5,
  LastAck = 6,
  TimeWait = 7,
  Close = 8,
  SynSent2 = 9,
}

export const TCP_STATE_NAMES: readonly string[] = [
  'NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK',
  'TIME_WAIT', 'CLOSE', 'SYN_SENT2',
];

/** Per-direction TCP flags (ip_ct_tcp_state.flags), Linux's IP_CT_TCP_FLAG_* values. */
export const enum TcpDirFlag {
  WindowScale = 0x01,
  SackPerm = 0x02,
  CloseInit = 0x04,
  BeLiberal = 0x08,
  DataUnacknowledged = 0x10,
  MaxAckSet = 0x20,
}

/** Timeouts in milliseconds. Defaults are Linux's (nf_conntrack_proto_{tcp,udp,icmp,generic}.c). */
export interface CtTimeouts {
  tcpSynSent: number;
  tcpSynRecv: number;
  tcpEstablished: number;
  tcpFinWait: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  tcpTimeWait: number;
  tcpClose: number;
  tcpSynSent2: number;
  /** After tcpMaxRetrans identical retransmissions (nf_conntrack_tcp_timeout_max_retrans). */
  tcpRetrans: number;
  /** While data is unacknowledged (nf_conntrack_tcp_timeout_unacknowledged). */
  tcpUnacknowledged: number;
  udpUnreplied: number;
  /** nf_conntrack_udp_timeout_stream. */
  udpReplied: number;
  icmp: number;
  icmpv6: number;
  generic: number;
}

const S = 1000;
export const DEFAULT_TIMEOUTS: Readonly<CtTimeouts> = Object.freeze({
  tcpSynSent: 120 * S,
  tcpSynRecv: 60 * S,
  tcpEstablished: 5 * 24 * 3600 * S,
  tcpFinWait: 120 * S,
  tcpCloseWait: 60 * S,
  tcpLastAck: 30 * S,
  tcpTimeWait: 120 * S,
  tcpClose: 10 * S,
  tcpSynSent2: 120 * S,
  tcpRetrans: 300 * S,
  tcpUnacknowledged: 300 * S,
  udpUnreplied: 30 * S,
  udpReplied: 120 * S,
  icmp: 30 * S,
  icmpv6: 30 * S,
  generic: 600 * S,
});

export interface ConntrackOptions {
  /** Fixed capacity (entries); storage is allocated once at construction. */
  maxEntries: number;
  timeouts: Partial<CtTimeouts>;
  /** nf_conntrack_tcp_loose: pick up mid-stream connections. Default false (strict). */
  tcpLoose: boolean;
  /** nf_conntrack_tcp_be_liberal: only out-of-window RSTs are invalid. Default false. */
  tcpBeLiberal: boolean;
  /**
   * nf_conntrack_checksum: a TCP/UDP/ICMP packet whose checksum is wrong is invalid. Default
   * true. Off, the node trusts the kernel's checks (a host whose NIC reports CHECKSUM_COMPLETE
   * passes no flag through TUN, so every packet would be summed: 0.31x at 1,500 bytes).
   */
  checksum: boolean;
  /** nf_conntrack_tcp_ignore_invalid_rst. Default false. */
  tcpIgnoreInvalidRst: boolean;
  /** nf_conntrack_tcp_max_retrans. Default 3. */
  tcpMaxRetrans: number;
  /** Longest linear-probe distance in the hash index; inserts beyond it are refused. Default 64. */
  maxProbe: number;
  /** 8 bytes for the HalfSipHash key; default crypto.randomBytes(8) at construction. */
  hashKey: Uint8Array;
  /** Minimum interval between two periodic (non-state-change) Update events of one entry. Default 5000 ms. */
  eventRefreshMs: number;
  /** Slots examined by the incremental expiry sweep on every track() call. Default 4. */
  sweepPerPacket: number;
  /** Slots examined when looking for an early-drop victim in a full table. Default 64. */
  earlyDropScan: number;
  /** Clock used when a method is called without an explicit time (ms). Default Date.now. */
  now: () => number;
  /**
   * Touch the whole hash index at construction (96 bytes per entry), so no insert ever
   * waits for the kernel to fault in a fresh page. Default false; a node sets it: its
   * table lives for the process, and a surge of new connections (or a standby's first
   * resync) would otherwise pay those faults on the packet path, at random index places.
   */
  prefaultIndex: boolean;
  /** Expectations (FTP data connections announced, not yet seen) the table holds at most (nf_ct_expect_max). */
  maxExpectations: number;
}

/** Result of the last track() call; one instance per tracker, overwritten every packet. */
export class CtResult {
  /** Entry index, or -1 (invalid, untracked). */
  entry = -1;
  dir: CtDir = CtDir.Original;
  state: CtState = CtState.Invalid;
  status = 0;
  mark = 0;
  /** True when entry is a new, not yet inserted one: call commit(accepted). */
  pending = false;
  /** The tracker asks for the packet to be dropped whatever the ruleset says (table full). */
  drop = false;
  /**
   * The packet belongs to a replica that ConnTracker.replicaGate claimed (another node
   * forwards this connection): the entry was left untouched and `entry` is -1.
   */
  handoff = false;
}

/** Tuple of one direction as a peer sees it: addresses as bytes (4 or 16 used). */
export interface CtTupleLike {
  family: number;
  proto: number;
  zone: number;
  origSrc: Uint8Array;
  origDst: Uint8Array;
  origSport: number;
  origDport: number;
}

/** The reply tuple in snapshot field names (what NAT rewrites). */
export interface CtReplyTupleLike {
  replySrc: Uint8Array;
  replyDst: Uint8Array;
  replySport: number;
  replyDport: number;
}

/**
 * Everything a peer needs to rebuild an entry. One instance is reused by the caller;
 * snapshot() overwrites every field. For ICMP, sport is the echo id and dport is
 * (type << 8 | code).
 */
export class CtSnapshot implements CtTupleLike, CtReplyTupleLike {
  family = 0;
  proto = 0;
  zone = 0;
  origSrc = new Uint8Array(16);
  origDst = new Uint8Array(16);
  origSport = 0;
  origDport = 0;
  replySrc = new Uint8Array(16);
  replyDst = new Uint8Array(16);
  replySport = 0;
  replyDport = 0;
  tcpState = 0;
  /** Per direction [original, reply]: Linux ip_ct_tcp_state fields. */
  tdEnd = [0, 0];
  tdMaxEnd = [0, 0];
  tdMaxWin = [0, 0];
  tdMaxAck = [0, 0];
  tdScale = [0, 0];
  tdFlags = [0, 0];
  status = 0;
  mark = 0;
  /** Remaining lifetime in ms at the time of the snapshot. */
  timeoutMs = 0;
  replicated = false;
  /** The connection's helper (CtHelperId: 0 none, 1 ftp). */
  helper = 0;
  /** Its pending expectation (expectations.ts): destination port (0: none), remaining ms, source and destination (16 bytes, IPv4 in the first 4). */
  expectPort = 0;
  expectMs = 0;
  expectSrc = new Uint8Array(16);
  expectDst = new Uint8Array(16);
  /**
   * The expectation's NAT part (expectations.ts ExpectNat), made by the FTP helper through
   * NAT: ExpectNatFlag bits (0: none), the data connection's translated destination and
   * port, its translated source (16 bytes each, IPv4 in the first 4).
   */
  expectNatFlags = 0;
  expectNatDst = new Uint8Array(16);
  expectNatDport = 0;
  expectNatSrc = new Uint8Array(16);
  /**
   * TCP sequence adjustment per direction [original, reply] (seqadj.ts, Linux nf_ct_seqadj:
   * the FTP helper's rewrites through NAT shift sequence numbers after pos); 0 where no
   * change was made. Replicated (record fields origSeqPos...).
   */
  seqPos = [0, 0];
  seqBefore = [0, 0];
  seqAfter = [0, 0];
}

/** Counters, named after `conntrack -S` where one exists. */
export class CtStats {
  searched = 0;
  found = 0;
  /** Packets of replicas claimed by ConnTracker.replicaGate (handed to their owner). */
  handedOff = 0;
  new = 0;
  inserted = 0;
  insertFailed = 0;
  invalid = 0;
  /** Of `invalid`, packets whose TCP/UDP/ICMP checksum was wrong (the datapath checks it before tracking). */
  badChecksum = 0;
  ignored = 0;
  related = 0;
  untracked = 0;
  earlyDrop = 0;
  /** New connections refused because the table was full and nothing could be dropped. */
  refusedFull = 0;
  /** Inserts refused because a probe sequence would exceed maxProbe. */
  chainOverflow = 0;
  /** Entries whose timeout passed (lookup, per-packet, per-batch and timer sweeps), replicas included. */
  expired = 0;
  /** Of `expired`, replicas of a peer's connections (their owner's Destroy never came, or came late). */
  expiredReplicas = 0;
  deleted = 0;
  fragments = 0;
  replicaApplied = 0;
  replicaRefused = 0;
  replicaDeleted = 0;
  /** Entries inserted by `hafw ct import` (importEntry), and those refused (table full, probe cap). */
  imported = 0;
  importRefused = 0;
  events = 0;
  /** Expectations (expectations.ts): created, refused (table full), matched by a new connection, expired. */
  expectCreated = 0;
  expectFull = 0;
  expectMatched = 0;
  expectExpired = 0;
  /** FTP announcements not followed because the address was not the sender's own (ftp-helper.ts). */
  ftpForeign = 0;
  /**
   * FTP announcements on NATed control connections (ftp-helper.ts): rewritten; a
   * retransmission rewritten again; segments dropped because a command was cut by the
   * segment's end; dropped because the rewrite could not be done (no port, no room, a
   * segment inside the rewritten text); announcements passed as they are because another
   * one in the same segment was rewritten.
   */
  ftpNatRewritten = 0;
  ftpNatRetransmitted = 0;
  ftpNatSplit = 0;
  ftpNatFailed = 0;
  ftpNatSecond = 0;
  /** Expectations installed from a peer's record (state sync), and a peer's not installed (table full, or not between the ends of its control connection). */
  expectReplicated = 0;
  expectReplicaRefused = 0;
}
