/**
 * One node's sync protocol endpoint, sans-I/O (STYLE.md: quinn-proto, h11): it takes local
 * state events, received datagrams and the time, and produces datagrams to send (to every
 * peer: the multicast group, or each unicast peer), records applied to the sink, and an
 * `inSync` verdict for the failover module. Sockets, the worker thread and the clock live in
 * thin shells around it, so tests drive it through a simulated lossy link with a fake clock.
 */
import {
  MAX_NACK_RANGES, MessageFlag, MessageType, decodeMessage, encodeMessage, encodeSlotsChunk, encodeSlotsMessage, isSequenced, peekSender, recordFieldsFor, recordsOf, slotRecordSize,
  type DecodeError, type Message,
} from './wire.js';
import { Coalescer, type Batch } from './coalescer.js';
import { RING_WALK_END, RING_WALK_RECORD, SLOT, SLOT_BYTES, SlotReader, writeSlot } from './ring.js';
import { SlotBatch } from './record-reader.js';
import { DataVerdict, ReliableReceiver, ReliableSender, type NackAnswer, type SentEntry } from './reliability.js';
import { BulkSender, ResyncState, TableBulk, type LocalWalk } from './resync.js';
import { StateMirror } from './state-mirror.js';
import { EventKind, recordKey, type StateRecord, type StateSink, type StateSource } from './state-record.js';
import { lagFromEcho } from './lag.js';
import { AuthFailures } from './auth-failures.js';
import { RecentSamples } from './recent-samples.js';
import { ReplayVerdict, ReplayWindow, seqDiff, seqLe, seqLt, seqRangeInverted } from '../inet/index.js';

export interface SyncConfig {
  /** This node's id (non-zero, unique in the cluster). */
  nodeId: number;
  /** Boot epoch: must grow on every start (default: wall-clock seconds at start, by the shell). */
  epoch: number;
  /** Shared cluster key for HMAC-SHA256 (at least 32 random bytes). */
  key: Uint8Array;
  /** MTU of the sync link. */
  mtu?: number;
  /** Longest a state event waits to be batched (ms). */
  flushDelayMs?: number;
  /** Receivers ACK at most this often (ms)... */
  ackIntervalMs?: number;
  /**
   * ...except that a receiver ACKs at once when this many sequences arrived since its last
   * ACK: the ACK clock of a resync walk (bulkWindow) does not wait for the interval timer.
   */
  ackEveryMsgs?: number;
  /** After the last DATA, an ALIVE follows this soon so a lost tail is found (ms). */
  tailProbeMs?: number;
  /** An idle sender sends ALIVE this often (ms); receivers ACK at least this often. */
  aliveIntervalMs?: number;
  /** Missing sequences are NACKed again after this long (ms). */
  nackRetryMs?: number;
  /** A sequence is resent at most once per this interval (ms). */
  minResendIntervalMs?: number;
  /** Messages held for retransmission (power of two). */
  resendQueueSize?: number;
  /**
   * Most retransmissions per tick(). A NACK only queues what it asks for; tick() resends it
   * in slices, so one NACK for the whole resend queue (about 60 us a message of 20 records)
   * cannot hold the worker for a second while received traffic and the ring wait.
   */
  resendsPerTick?: number;
  /** Sequences tracked ahead of the first missing one, and anti-replay window (power of two). */
  receiveWindow?: number;
  /** RESYNC_REQUEST is repeated after this long without progress (ms). */
  resyncRetryMs?: number;
  /** Resync chunks sent per bulk tick (live events and received traffic are served between ticks). */
  bulkChunksPerTick?: number;
  /** Interval between bulk ticks (ms); 0: every turn of the worker, the window paces the walk. */
  bulkTickMs?: number;
  /**
   * Most unacknowledged messages a resync walk leaves in flight (capped at half the resend
   * queue): the walk is ACK-clocked, so it goes as fast as the receiver takes it, and what a
   * receiver holds unread (its socket buffer, behind which live DATA queues) stays bounded.
   * Before any requester ACKs, a walk sends this many messages and waits.
   */
  bulkWindow?: number;
  /** A peer silent this long is forgotten (ms); its epoch and sequence tops are remembered (maxNodeIds). */
  peerTimeoutMs?: number;
  /**
   * Node ids whose newest epoch and sequence tops are remembered for the life of the process
   * (replay protection after a peer's silence). Only authenticated messages add one; when
   * full, the id silent longest is let go, and while every remembered id is a live peer, a
   * new id is refused (drops `nodes`).
   */
  maxNodeIds?: number;
  /** With no peer heard this long after start, the node is alone and counts as in sync (ms). */
  startupGraceMs?: number;
  /** First data sequence number (default random). */
  initialSeq?: number;
}

type Required2<T> = { [K in keyof T]-?: T[K] };

export const SYNC_DEFAULTS = {
  mtu: 1500,
  flushDelayMs: 1,
  ackIntervalMs: 5,
  ackEveryMsgs: 64,
  tailProbeMs: 3,
  aliveIntervalMs: 200,
  nackRetryMs: 8,
  minResendIntervalMs: 5,
  resendQueueSize: 16384,
  resendsPerTick: 16,
  receiveWindow: 65536,
  resyncRetryMs: 500,
  bulkChunksPerTick: 16,
  bulkTickMs: 0,
  bulkWindow: 256,
  peerTimeoutMs: 3000,
  maxNodeIds: 256,
  startupGraceMs: 1000,
};

/** Plain counters; the metrics shell turns them into prom-client metrics. */
export class SyncStats {
  msgsSent = 0;
  bytesSent = 0;
  msgsReceived = 0;
  bytesReceived = 0;
  recordsSent = 0;
  recordsApplied = 0;
  retransmits = 0;
  nacksSent = 0;
  nacksReceived = 0;
  lostSent = 0;
  lostReceived = 0;
  gaps = 0;
  ownDropped = 0;
  /** Records older than a destroy already applied (reordering), not applied. */
  staleSkipped = 0;
  /** Messages that arrived after they had been given up on (LOST); the resync brings their state. */
  lateDropped = 0;
  /** NACK or LOST ranges refused because `to` is before `from` (a buggy or hostile key holder). */
  rangesRefused = 0;
  /** Received datagrams dropped, by reason; `nodes`: a new node id while maxNodeIds live peers are known. */
  drops: Record<DropReason, number> = { short: 0, magic: 0, version: 0, length: 0, auth: 0, malformed: 0, fields: 0, replay: 0, nodes: 0 };
  resyncsRequested = 0;
  resyncsCompleted = 0;
  resyncsServed = 0;
  /** Complete full-table walks received (including ones asked for by other nodes). */
  walksCompleted = 0;
  /** Local events older than the last full dump of the local table, ignored. */
  localStale = 0;
  peerRestarts = 0;
  /** Remembered node ids let go to make room for a new one (maxNodeIds). */
  nodeIdsEvicted = 0;
  /** Datagrams that failed authentication, by source address (bounded): the operator's alarm. */
  readonly authFailures = new AuthFailures();
  /** Durations (ms) of completed resyncs, newest last (bounded). */
  resyncDurations: number[] = [];
  /** Lag samples (ms) not yet taken by the metrics shell (bounded). */
  lagSamples: number[] = [];
  /**
   * The peer (node id) whose ACK gave each lag sample, index for index with lagSamples: with
   * three or more nodes the samples mix receivers, and a slow one must be told apart.
   */
  lagPeers: number[] = [];
  /**
   * The same lag samples, kept (not drained) for the last LAG_WINDOW_MS: what status reports
   * show, whoever else asked for a report in between.
   */
  readonly recentLag = new RecentSamples(LAG_WINDOW_MS, LAG_WINDOW_MAX);
  /** Peers that said they were leaving (a clean shutdown: MessageFlag.Leaving). */
  peersLeft = 0;
  /** Peers forgotten after peerTimeoutMs of silence (died, cut off, or too old to say goodbye). */
  peersLost = 0;
}

/** The span of the lag figures in status reports (`hafw sync stats`, the API, the console). */
export const LAG_WINDOW_MS = 10_000;
/** At most this many of the newest samples enter them (a sample per ACK echo: far fewer a second). */
export const LAG_WINDOW_MAX = 4096;

/** A peer no longer counted: it left cleanly or fell silent (lost). */
export interface DepartedPeer {
  node: number;
  epoch: number;
  reason: 'left' | 'lost';
  /** How long ago (ms) it was let go. */
  goneMs: number;
}

/** Departed peers remembered for the operator (newest kept); a peer heard again is live, not departed. */
const DEPARTED_KEPT = 16;

export type DropReason = DecodeError | 'nodes';

/**
 * What the endpoint keeps of a node id for the life of the process, also once the peer is
 * forgotten after peerTimeoutMs: its newest epoch and how far its two sequence streams got
 * in that epoch. Without it a message captured earlier and replayed after the peer fell
 * silent was first contact again, and brought back a connection destroyed since. A few
 * dozen bytes an id (the bitmaps are not kept: a stream taken up again accepts only what is
 * newer than its top, ReplayWindow.sealAt).
 */
interface NodeMemory {
  epoch: number;
  /** Highest data sequence accepted or announced (ALIVE) in `epoch`; NaN: none. */
  dataTop: number;
  /** Highest control sequence accepted in `epoch`; NaN: none. */
  ctlTop: number;
  /** `epoch` said it was leaving (MessageFlag.Leaving): nothing it sends later is taken. */
  left?: boolean;
}

class Peer {
  readonly dataWindow: ReplayWindow;
  readonly ctlWindow: ReplayWindow;
  rx: ReliableReceiver | null = null;
  readonly sync: ResyncState;
  lastHeard: number;
  ackDueAt = Infinity;
  lastAckAt = -Infinity;
  lastAckBase = -1;
  echoTime = NaN;
  echoStamp = NaN;
  /** When the echoed message arrived here (our clock). */
  echoAppliedAt = NaN;
  /** The sink's token for the echoed message's records (NaN: the sink applies at once). */
  echoToken = NaN;
  echoSent = true;
  lastEchoSampled = NaN;
  /** Its last message said it reads records longer than the required fields (MessageFlag.LongRecords). */
  longRecords = false;
  /**
   * Destroys applied while earlier sequences were still missing: a late (reordered) message
   * with older state of that connection must not bring it back. Kept only until everything
   * before the destroy's sequence has arrived, so a gap-free stream keeps none.
   */
  readonly tombs = new Map<string, { stamp: number; seq: number }>();
  readonly tombQueue: { seq: number; key: string }[] = [];

  constructor(readonly node: number, readonly epoch: number, window: number, now: number) {
    this.dataWindow = new ReplayWindow(window);
    this.ctlWindow = new ReplayWindow(window);
    this.sync = new ResyncState(now);
    this.lastHeard = now;
  }
}

export class SyncEndpoint {
  readonly cfg: Required2<SyncConfig>;
  readonly stats = new SyncStats();
  private readonly mirrorSource: StateSource | null;
  /**
   * Without a LocalWalk: the mirror of the local table (every connection's last event).
   * With one: only the events waiting in the coalescer (transient), the table being read
   * where it lives for resyncs.
   */
  private readonly mirror: StateMirror;
  /** The walk of the table's owner (null: resyncs walk the mirror). */
  private readonly table: TableBulk | null;
  /** Mirror slot numbers of the events waiting to be sent. */
  private readonly coalescer: Coalescer<number>;
  private readonly sender: ReliableSender;
  private readonly bulk: BulkSender;
  private readonly peers = new Map<number, Peer>();
  /** Every node id heard (bounded by maxNodeIds), oldest-forgotten first. */
  private readonly known = new Map<number, NodeMemory>();
  /** Peers let go (left or lost), oldest first, at most DEPARTED_KEPT; `at` is our clock. */
  private readonly departed = new Map<number, { epoch: number; reason: 'left' | 'lost'; at: number }>();
  private readonly outbox: Buffer[] = [];
  private outHead = 0;
  private ctlSeq = 0;
  private startedAt = NaN;
  private lastNow = 0;
  private localFloor = -Infinity;
  private lastLocalStamp = -Infinity;
  private lastAuthFailAt = -Infinity;
  /** Has been in sync once (alone or with every peer): from then on auth failures cannot undo it. */
  private beenInSync = false;
  private nextAliveAt = 0;
  private nextBulkAt = 0;
  private readonly batches: Batch<number>[] = [];
  private readonly slotOffsets: number[] = [];
  private readonly scratch = new Uint8Array(SLOT_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  /** The records of the datagram being received (decoded into slots, no object each), and a reader for when one is needed as a record. */
  private readonly rxSlots = new SlotBatch();
  private readonly rxReader = new SlotReader();
  private readonly nackRanges: number[] = [];
  private readonly answer: NackAnswer = { resend: [], lost: [] };
  /** Sequences a NACK asked for, resent by tick() (resendsPerTick at a time), oldest first. */
  private readonly resendBacklog: number[] = [];
  private resendHead = 0;

  /**
   * Local events go to `localEvent`/`localSlot`. Without `walk` the endpoint keeps a
   * StateMirror of them that answers NACKs and resyncs with current state. With `walk`
   * (the node: the table lives in another thread) it keeps no copy of the table: a resync
   * asks the table's owner for its records, which come back through the event ring in
   * order with the live events (RING_WALK_RECORD, RING_WALK_END), and a NACK is answered
   * with the records the lost message carried (the receivers' stamp and tomb rules keep an
   * older copy from undoing newer state, as for any late message).
   */
  constructor(cfg: SyncConfig, private readonly sink: StateSink, walk?: LocalWalk) {
    this.cfg = {
      ...SYNC_DEFAULTS,
      initialSeq: (Math.random() * 0x100000000) >>> 0,
      ...stripUndefined(cfg),
    } as Required2<SyncConfig>;
    if (this.cfg.nodeId <= 0 || this.cfg.nodeId > 0xffffffff) throw new RangeError('nodeId must be 1..2^32-1');
    this.mirror = walk === undefined ? new StateMirror() : new StateMirror(1024, 0x3fffffff, true);
    this.mirrorSource = walk === undefined ? this.mirror : null;
    this.table = walk === undefined ? null : new TableBulk(walk);
    this.coalescer = new Coalescer<number>({ mtu: this.cfg.mtu, flushDelayMs: this.cfg.flushDelayMs });
    // A new + destroy that cancelled out: the destroyed connection's slot is free again.
    this.coalescer.onDrop = (m) => this.mirror.release(m);
    this.sender = new ReliableSender({
      initialSeq: this.cfg.initialSeq,
      queueSize: this.cfg.resendQueueSize,
      minResendIntervalMs: this.cfg.minResendIntervalMs,
      peerTimeoutMs: this.cfg.peerTimeoutMs,
    });
    this.bulk = new BulkSender(this.mirror);
  }

  /** The local table as the mirror holds it (only without a LocalWalk: the node's table lives elsewhere). */
  get source(): StateSource {
    if (this.mirrorSource === null) throw new Error('no local mirror: the table is walked where it lives');
    return this.mirrorSource;
  }

  /** Starts the protocol: peers learn of us from the first ALIVE and ask for our table; we ask for theirs. */
  start(now: number): void {
    this.startedAt = now;
    this.lastNow = now;
    this.nextAliveAt = now;
  }

  /**
   * True when this node holds a complete table from every live peer (or none answered within
   * the startup grace: it is alone). Failover must not take or preempt the VIPs before.
   */
  get inSync(): boolean {
    if (Number.isNaN(this.startedAt)) return false;
    // Every live peer is heard within the grace (it sends at least an ALIVE every
    // aliveIntervalMs). Before that, the peers that answered first may not be all of them:
    // with three or more nodes, an empty walk from one peer must not stand for the table of
    // another that has not been heard yet.
    if (this.lastNow - this.startedAt < this.cfg.startupGraceMs) return false;
    if (this.peers.size === 0) {
      // Alone. Messages failing authentication may be a peer with another key
      // (misconfiguration): a node that has never been in sync must not then believe it is
      // alone and holds the table. Once it has been in sync, alone or with authenticated
      // peers, they change nothing: anyone on the segment can send them, and a forged
      // datagram every few seconds would otherwise demote a live node. They are
      // counted by source for the alarm (stats.authFailures).
      return this.beenInSync || this.lastNow - this.lastAuthFailAt > this.cfg.peerTimeoutMs;
    }
    for (const p of this.peers.values()) if (!p.sync.synced) return false;
    return true;
  }

  /** Per-peer view for `hafw sync stats`. */
  peerStatus(): { node: number; epoch: number; inSync: boolean; cumAck: number; lastHeardMs: number }[] {
    const out = [];
    for (const p of this.peers.values()) {
      out.push({ node: p.node, epoch: p.epoch, inSync: p.sync.synced, cumAck: p.rx?.cumAck ?? -1, lastHeardMs: this.lastNow - p.lastHeard });
    }
    return out;
  }

  /** Peers no longer counted (left cleanly or lost), newest last: "gone", not "lagging". */
  departedPeers(): DepartedPeer[] {
    return [...this.departed].map(([node, d]) => ({ node, epoch: d.epoch, reason: d.reason, goneMs: this.lastNow - d.at }));
  }

  /**
   * A clean leave (shutdown): what is batched goes out, then an ALIVE flagged Leaving, so
   * the peers stop counting this node at once (inSync, resend queue trimming) instead of
   * after their peer timeout. Nothing is sent after it in this epoch; the caller poll()s
   * and sends, then closes the socket.
   */
  leave(now: number): void {
    this.lastNow = now;
    this.flush(now);
    const h = this.ctlHeader(now);
    this.send({ type: MessageType.Alive, lastSeq: this.sender.lastSeq, ...h, flags: h.flags | MessageFlag.Leaving });
  }

  /** The last sequence number sent (DATA, resync): what a local event popped before now is in, once nothing is batched. */
  get lastSeq(): number {
    return this.sender.lastSeq;
  }

  /**
   * Whether every live peer has acknowledged `seq`, or there is no live peer to wait for
   * (none ACKed within the peer timeout): the deferral of new connections waits for this.
   */
  acknowledged(seq: number, now: number): boolean {
    return this.sender.isAcked(seq) || !this.sender.hasLivePeers(now);
  }

  /** Messages held for retransmission, and connections waiting to be batched. */
  get resendQueueDepth(): number {
    return this.sender.queued;
  }
  get pendingEvents(): number {
    return this.coalescer.size;
  }
  /** Connections held here as copies: the mirror's, or with a LocalWalk only those waiting to be sent. */
  get heldConnections(): number {
    return this.mirror.size;
  }
  /** Retransmissions asked for by NACKs and not sent yet (tick() wants to run again at once). */
  get resendsPending(): number {
    return this.resendBacklog.length - this.resendHead;
  }

  /**
   * The resync walk can send now: the shell runs tick() again as soon as received traffic
   * is served (bulkTickMs 0), instead of after a timer's millisecond.
   */
  get bulkReady(): boolean {
    if (this.table !== null) return this.table.active && this.creditDue(this.lastNow) > 0;
    return this.bulk.active && this.lastNow >= this.nextBulkAt && this.bulkWindowOpen(this.lastNow);
  }

  /** A state change of a local connection (never one injected from a peer: no echo loops). */
  localEvent(rec: StateRecord, now: number): void {
    writeSlot(this.scratchView, this.scratch, 0, rec);
    this.localSlot(this.scratchView, this.scratch, 0, now);
  }

  /**
   * localEvent() for an event in a ring-layout slot (ring.ts) at byte offset `o` of `b`,
   * read in place: the sync worker's path from the ring, which makes no JavaScript object
   * per event (the mirror copies the slot, the coalescer keeps the mirror's slot number and
   * the message is written from it).
   */
  localSlot(v: DataView, b: Uint8Array, o: number, now: number): void {
    const kind = b[o + SLOT.kind]!;
    if (kind === RING_WALK_END) {
      if (this.table !== null) this.walkEnd(now);
      return;
    }
    let stamp = v.getFloat64(o + SLOT.stamp, true);
    if (kind === RING_WALK_RECORD) {
      // Read from the table after every event ahead of it in the ring: sent (in a chunk)
      // before any event behind it, so a later destroy always has the higher sequence.
      // Never older than a dump (the walk is the dump).
      const t = this.table;
      if (t === null || !t.active) return;
      if (stamp <= this.lastLocalStamp) stamp = this.lastLocalStamp + 1e-6;
      this.lastLocalStamp = stamp;
      if (!t.add(v, b, o, stamp, this.coalescer.budget - 4)) {
        this.sendWalkChunk(now);
        t.add(v, b, o, stamp, this.coalescer.budget - 4);
      }
      return;
    }
    if (stamp < this.localFloor) {
      // Already reflected in the dump given to rebuildLocal (events queued before it).
      this.stats.localStale++;
      return;
    }
    // Stamps are the per-connection version the receivers compare: keep them strictly
    // increasing (a datapath that stamps once per batch gives equal stamps).
    if (stamp <= this.lastLocalStamp) stamp = this.lastLocalStamp + 1e-6;
    this.lastLocalStamp = stamp;
    const m = this.mirror.noteSlot(v, b, o, stamp, true);
    const mirror = this.mirror;
    this.coalescer.push(m, b[o + SLOT.kind] as EventKind, m, slotRecordSize(mirror.slabView, mirror.slabBytes, m * SLOT_BYTES), now);
    if (this.coalescer.size > 0) {
      this.coalescer.drain(now, this.batches);
      this.sendBatches(now);
    }
  }

  /**
   * The datapath dropped events (ring full): replace the local view with a full dump taken at
   * `dumpTime` (syncClock) and stream it to every peer. Receivers apply the walk and, once it
   * is complete, remove replicas it did not refresh, so connections destroyed while events
   * were lost disappear there too. Events stamped before `dumpTime` are ignored from now on.
   * `records` null: keep the mirror as it is (it is current).
   */
  rebuildLocal(records: Iterable<StateRecord> | null, dumpTime: number, now: number): void {
    // What is batched refers to the mirror's slots: send it before the mirror is rebuilt.
    this.flush(now);
    this.localFloor = dumpTime;
    if (dumpTime > this.lastLocalStamp) this.lastLocalStamp = dumpTime;
    if (records !== null && this.table === null) {
      this.mirror.clear();
      for (const r of records) this.mirror.note(r);
    }
    this.streamFullTable(now);
  }

  /** Streams the whole local table to every peer (as if all had asked). */
  streamFullTable(now: number): void {
    if (this.table !== null) {
      this.table.request();
      return;
    }
    const wasActive = this.bulk.active;
    this.bulk.request();
    if (!wasActive) this.nextBulkAt = now;
  }

  /** Sends what is batched now, whatever the delay (e.g. before a planned switchover). */
  flush(now: number): void {
    this.coalescer.flush(this.batches);
    this.sendBatches(now);
    if (this.table !== null && this.table.held > 0) this.sendWalkChunk(now);
  }

  /** Next datagram to send to all peers, or undefined. */
  poll(): Buffer | undefined {
    if (this.outHead >= this.outbox.length) {
      if (this.outbox.length > 0) {
        this.outbox.length = 0;
        this.outHead = 0;
      }
      return undefined;
    }
    const b = this.outbox[this.outHead]!;
    this.outbox[this.outHead++] = undefined as unknown as Buffer;
    return b;
  }

  /** When tick() should be called next (it may be called more often). */
  nextTimerAt(): number {
    let t = Math.min(this.coalescer.dueAt(), this.nextAliveAt);
    if (this.resendsPending > 0) t = Math.min(t, this.lastNow);
    // A walk whose window is out waits for an ACK (receive() opens it), not for a timer.
    if (this.bulk.active && this.bulkWindowOpen(this.lastNow)) t = Math.min(t, this.nextBulkAt);
    if (this.table !== null && this.table.active && this.creditDue(this.lastNow) > 0) t = Math.min(t, this.lastNow);
    for (const p of this.peers.values()) {
      t = Math.min(t, p.ackDueAt, p.lastHeard + this.cfg.peerTimeoutMs);
      if (p.rx !== null) t = Math.min(t, p.rx.nackDueAt());
      if (!p.sync.synced) t = Math.min(t, Math.max(p.sync.lastRequestAt, p.sync.lastChunkAt) + this.cfg.resyncRetryMs);
    }
    // The end of the startup grace can change inSync (alone, or with the peers heard by then).
    const graceEnd = this.startedAt + this.cfg.startupGraceMs;
    if (!Number.isNaN(this.startedAt) && this.lastNow < graceEnd) t = Math.min(t, graceEnd);
    return t;
  }

  tick(now: number): void {
    this.lastNow = now;
    this.noteInSync();
    this.coalescer.drain(now, this.batches);
    this.sendBatches(now);
    if (this.resendsPending > 0) this.drainResends(now);
    if (this.bulk.active && now >= this.nextBulkAt) this.bulkStep(now);
    if (this.table !== null && this.table.active) {
      const c = this.creditDue(now);
      if (c > 0) this.table.grant(c);
    }
    if (now >= this.nextAliveAt) {
      this.send({ type: MessageType.Alive, lastSeq: this.sender.lastSeq, ...this.ctlHeader(now) });
      this.nextAliveAt = now + this.cfg.aliveIntervalMs;
    }
    for (const p of this.peers.values()) {
      if (now - p.lastHeard > this.cfg.peerTimeoutMs) {
        this.letGo(p, 'lost', now);
        continue;
      }
      this.peerTimers(p, now);
    }
  }

  /** A received datagram; `from` names its source (address) for the authentication alarm. */
  receive(bytes: Uint8Array, now: number, from = ''): void {
    this.lastNow = now;
    this.noteInSync();
    this.stats.msgsReceived++;
    this.stats.bytesReceived += bytes.length;
    if (peekSender(bytes) === this.cfg.nodeId) {
      // Multicast loops back to the sender on the same host or interface (DESIGN §8).
      this.stats.ownDropped++;
      return;
    }
    const r = decodeMessage(bytes, this.cfg.key, this.rxSlots);
    if (!r.ok) {
      this.stats.drops[r.reason]++;
      if (r.reason === 'auth') this.lastAuthFailAt = now;
      // Every reason but `malformed` and `fields` (judged after the MAC checked out) is a
      // datagram that could not be authenticated.
      if (r.reason !== 'malformed' && r.reason !== 'fields') this.stats.authFailures.note(from, r.reason, now);
      return;
    }
    const m = r.msg;
    if (m.node === 0 || m.node === this.cfg.nodeId) {
      this.stats.drops.malformed++;
      return;
    }
    let p = this.peers.get(m.node);
    if (p !== undefined && m.epoch < p.epoch) {
      this.stats.drops.replay++; // from an earlier life of that peer
      return;
    }
    if (p === undefined || m.epoch > p.epoch) {
      const mem = this.known.get(m.node);
      let resumed = false;
      if (mem !== undefined) {
        if (m.epoch < mem.epoch) {
          this.stats.drops.replay++; // an earlier life of a peer forgotten since
          return;
        }
        if (m.epoch === mem.epoch && mem.left === true) {
          // That life said it was leaving: anything of it now is late or replayed.
          this.stats.drops.replay++;
          return;
        }
        if (m.epoch === mem.epoch) {
          // The same life of a peer forgotten after a silence: only what it sent since is new.
          const top = isSequenced(m.type) ? mem.dataTop : mem.ctlTop;
          if (!Number.isNaN(top) && !seqLt(top, m.seq)) {
            this.stats.drops.replay++;
            return;
          }
          resumed = true;
        } else this.stats.peerRestarts++;
      } else if (!this.rememberNode(m.node)) {
        this.stats.drops.nodes++;
        return;
      }
      p = new Peer(m.node, m.epoch, this.cfg.receiveWindow, now);
      const memory = this.known.get(m.node)!;
      if (resumed) {
        if (!Number.isNaN(memory.dataTop)) p.dataWindow.sealAt(memory.dataTop);
        if (!Number.isNaN(memory.ctlTop)) p.ctlWindow.sealAt(memory.ctlTop);
      } else {
        memory.epoch = m.epoch;
        memory.dataTop = NaN;
        memory.ctlTop = NaN;
        memory.left = false;
      }
      this.departed.delete(m.node);
      this.peers.set(m.node, p);
      this.sender.forgetPeer(m.node);
    }
    const window = isSequenced(m.type) ? p.dataWindow : p.ctlWindow;
    if (window.accept(m.seq) !== ReplayVerdict.Accept) {
      this.stats.drops.replay++;
      return;
    }
    p.lastHeard = now;
    p.longRecords = (m.flags & MessageFlag.LongRecords) !== 0;
    if (m.type === MessageType.Alive && (m.flags & MessageFlag.Leaving) !== 0) {
      this.letGo(p, 'left', now);
      return;
    }
    this.dispatch(p, m, now);
    this.peerTimers(p, now);
  }

  /** Latches beenInSync (evaluated only until the first time). */
  private noteInSync(): void {
    if (!this.beenInSync && this.inSync) this.beenInSync = true;
  }

  private dispatch(p: Peer, m: Message, now: number): void {
    const me = this.cfg.nodeId;
    switch (m.type) {
      case MessageType.Data:
      case MessageType.ResyncChunk:
      case MessageType.ResyncDone: {
        const rx = this.rxFor(p, m.seq, false);
        const before = rx.gaps;
        const verdict = rx.onData(m.seq, now);
        if (verdict === DataVerdict.TooFar) p.sync.invalidate(now);
        this.stats.gaps += rx.gaps - before;
        if (m.type === MessageType.ResyncChunk) {
          if (p.sync.onChunk(m.bulkId, now)) this.sink.resyncBegin?.(p.node);
        } else if (m.type === MessageType.ResyncDone) {
          if (p.sync.onDone(m.bulkId, m.firstSeq, m.seq, now)) this.sink.resyncBegin?.(p.node);
        }
        if (verdict === DataVerdict.Old) {
          // Behind the cumulative point and not a duplicate (the replay window drops those):
          // a message we gave up on (LOST). Its state is older than what the resync that the
          // give-up started brings, and its tombs are gone: applying it could bring back a
          // destroyed connection.
          this.stats.lateDropped++;
        } else if (m.type !== MessageType.ResyncDone) {
          let oldest = Infinity;
          const gap = rx.missing; // after this message: older ones may still come
          const batch = this.rxSlots;
          const v = batch.view;
          const b = batch.bytes;
          const sink = this.sink;
          for (let i = 0; i < batch.count; i++) {
            const o = i * SLOT_BYTES;
            const stamp = v.getFloat64(o + SLOT.stamp, true);
            if (stamp < oldest) oldest = stamp;
            if (b[o + SLOT.kind] === EventKind.Destroy) {
              if (gap) {
                const k = recordKey(this.rxReader.read(v, b, o));
                const old = p.tombs.get(k);
                const seq = old !== undefined && seqLt(m.seq, old.seq) ? old.seq : m.seq;
                p.tombs.set(k, { stamp: old === undefined ? stamp : Math.max(old.stamp, stamp), seq });
                if (seq === m.seq) p.tombQueue.push({ seq, key: k });
              }
            } else if (p.tombs.size > 0) {
              const t = p.tombs.get(recordKey(this.rxReader.read(v, b, o)));
              if (t !== undefined && stamp <= t.stamp) {
                this.stats.staleSkipped++;
                continue;
              }
            }
            if (sink.applySlot !== undefined) sink.applySlot(p.node, v, b, o, m.time - stamp);
            else sink.apply(p.node, this.rxReader.read(v, b, o), m.time - stamp);
            this.stats.recordsApplied++;
          }
          this.pruneTombs(p);
          if (m.type === MessageType.Data && batch.count > 0 && !(m.time <= p.echoTime)) {
            p.echoTime = m.time;
            p.echoStamp = oldest;
            p.echoAppliedAt = now;
            p.echoToken = this.sink.applyToken?.() ?? NaN;
            p.echoSent = false;
          }
        }
        if (p.ackDueAt === Infinity) p.ackDueAt = now + this.cfg.ackIntervalMs;
        // A sender's walk waits for this ACK once its window is out (bulkWindow).
        if (seqDiff(p.lastAckBase, rx.cumAck) >= this.cfg.ackEveryMsgs) p.ackDueAt = now;
        this.checkSynced(p, now);
        break;
      }
      case MessageType.Alive: {
        const rx = this.rxFor(p, m.lastSeq, true);
        const before = rx.gaps;
        if (rx.onAlive(m.lastSeq, now) === DataVerdict.TooFar) p.sync.invalidate(now);
        this.stats.gaps += rx.gaps - before;
        break;
      }
      case MessageType.Ack: {
        if (m.target !== me || m.targetEpoch !== this.cfg.epoch) break;
        this.sender.onAck(p.node, m.cumAck, now);
        if (m.echoTime !== p.lastEchoSampled) {
          const lag = lagFromEcho(now, m.echoTime, m.echoHold, m.echoStamp);
          if (!Number.isNaN(lag)) {
            p.lastEchoSampled = m.echoTime;
            pushBounded(this.stats.lagSamples, lag, 100000);
            pushBounded(this.stats.lagPeers, p.node, 100000);
            this.stats.recentLag.add(now, lag);
          }
        }
        break;
      }
      case MessageType.Nack: {
        if (m.target !== me || m.targetEpoch !== this.cfg.epoch) break;
        this.stats.nacksReceived++;
        this.answer.resend.length = 0;
        this.answer.lost.length = 0;
        for (let i = 0; i + 1 < m.ranges.length; i += 2) {
          const from = m.ranges[i]!;
          const to = m.ranges[i + 1]!;
          if (seqRangeInverted(from, to)) this.stats.rangesRefused++;
          else this.sender.answerNack(p.node, from, to, now, this.answer);
        }
        for (const e of this.answer.resend) {
          if (e.resendQueued) continue;
          e.resendQueued = true;
          this.resendBacklog.push(e.seq);
        }
        for (let i = 0; i + 1 < this.answer.lost.length; i += 2) {
          this.stats.lostSent++;
          this.send({
            type: MessageType.Lost, target: p.node, targetEpoch: p.epoch,
            from: this.answer.lost[i]!, to: this.answer.lost[i + 1]!, ...this.ctlHeader(now),
          });
        }
        break;
      }
      case MessageType.ResyncRequest:
        if (m.target === 0 || m.target === me) {
          this.stats.resyncsServed++;
          this.streamFullTable(now);
        }
        break;
      case MessageType.Lost:
        if (m.target !== me || m.targetEpoch !== this.cfg.epoch || p.rx === null) break;
        if (seqRangeInverted(m.from, m.to)) {
          this.stats.rangesRefused++;
          break;
        }
        // A LOST for sequences that all arrived (it answered a NACK overtaken by the repair)
        // loses nothing: no resync for it.
        if (!p.rx.giveUp(m.from, m.to)) break;
        this.stats.lostReceived++;
        this.pruneTombs(p);
        p.sync.invalidate(now);
        this.checkSynced(p, now);
        break;
    }
  }

  /**
   * Makes room to remember a new node id: when maxNodeIds are known, the one forgotten
   * longest ago goes (it loses its replay memory; only key holders add ids, and a cluster has
   * a handful). False when every remembered id is a live peer.
   */
  private rememberNode(node: number): boolean {
    if (this.known.size >= this.cfg.maxNodeIds) {
      let victim = -1;
      for (const id of this.known.keys()) {
        if (!this.peers.has(id)) {
          victim = id;
          break;
        }
      }
      if (victim < 0) return false;
      this.known.delete(victim);
      this.stats.nodeIdsEvicted++;
    }
    this.known.set(node, { epoch: 0, dataTop: NaN, ctlTop: NaN });
    return true;
  }

  /** A peer forgotten after its silence: keep how far its streams got (and make it the newest to keep). */
  /** Stops counting a peer (timed out, or said it leaves): it no longer holds back inSync or the resend queue. */
  private letGo(p: Peer, reason: 'left' | 'lost', now: number): void {
    this.peers.delete(p.node);
    this.sender.forgetPeer(p.node);
    this.rememberTops(p);
    const mem = this.known.get(p.node);
    if (reason === 'left' && mem !== undefined && mem.epoch === p.epoch) mem.left = true;
    if (reason === 'left') this.stats.peersLeft++;
    else this.stats.peersLost++;
    this.departed.delete(p.node);
    this.departed.set(p.node, { epoch: p.epoch, reason, at: now });
    if (this.departed.size > DEPARTED_KEPT) this.departed.delete(this.departed.keys().next().value!);
  }

  private rememberTops(p: Peer): void {
    const mem = this.known.get(p.node);
    if (mem === undefined || mem.epoch !== p.epoch) return;
    let dataTop = p.dataWindow.started ? p.dataWindow.highest : NaN;
    // ALIVE announced sequences that may never have arrived here: they are no newer than the silence.
    if (p.rx !== null) {
      const announced = p.rx.highestKnown;
      if (Number.isNaN(dataTop) || seqLt(dataTop, announced)) dataTop = announced;
    }
    mem.dataTop = dataTop;
    mem.ctlTop = p.ctlWindow.started ? p.ctlWindow.highest : NaN;
    this.known.delete(p.node);
    this.known.set(p.node, mem);
  }

  /** The receive tracker of `p`, created at the first sequence heard (ALIVE announces the last one sent). */
  private rxFor(p: Peer, seq: number, fromAlive: boolean): ReliableReceiver {
    if (p.rx === null) {
      p.rx = new ReliableReceiver(fromAlive ? (seq + 1) >>> 0 : seq, {
        window: this.cfg.receiveWindow,
        nackRetryMs: this.cfg.nackRetryMs,
      });
    }
    return p.rx;
  }

  private pruneTombs(p: Peer): void {
    if (p.rx === null) return;
    const ack = p.rx.cumAck;
    let i = 0;
    while (i < p.tombQueue.length && seqLe(p.tombQueue[i]!.seq, ack)) {
      const { seq, key } = p.tombQueue[i]!;
      if (p.tombs.get(key)?.seq === seq) p.tombs.delete(key);
      i++;
    }
    if (i > 0) p.tombQueue.splice(0, i);
  }

  private checkSynced(p: Peer, now: number): void {
    if (p.rx === null) return;
    const was = p.sync.synced;
    const complete = p.sync.check(p.rx);
    if (complete !== null) {
      this.stats.walksCompleted++;
      if (!was) {
        this.stats.resyncsCompleted++;
        pushBounded(this.stats.resyncDurations, now - p.sync.startedAt, 1000);
      }
      if (complete.sweep) this.sink.resyncEnd?.(p.node);
    }
  }

  private peerTimers(p: Peer, now: number): void {
    if (p.rx !== null) {
      this.nackRanges.length = 0;
      p.rx.collectNacks(now, this.nackRanges, MAX_NACK_RANGES);
      if (this.nackRanges.length > 0) {
        this.stats.nacksSent++;
        this.send({ type: MessageType.Nack, target: p.node, targetEpoch: p.epoch, ranges: this.nackRanges.slice(), ...this.ctlHeader(now) });
      }
      const base = p.rx.cumAck;
      const due = now >= p.ackDueAt || now - p.lastAckAt >= this.cfg.aliveIntervalMs;
      // The echo waits until its records are in the table (when the sink applies them
      // elsewhere), and then names how long that took: echoStamp moves earlier by it, so the
      // sender's lag = (time - stamp) + applyDelay + rtt / 2, with echoHold still counted
      // from arrival. applyDelay is a duration on this clock, like echoHold (docs/sync.md).
      let echoStamp = p.echoStamp;
      let echoReady = !Number.isNaN(p.echoAppliedAt);
      if (echoReady && !Number.isNaN(p.echoToken) && this.sink.appliedAt !== undefined) {
        const at = this.sink.appliedAt(p.echoToken);
        if (Number.isNaN(at)) echoReady = false;
        else echoStamp -= Math.max(0, at - p.echoAppliedAt);
      }
      const newEcho = echoReady && !p.echoSent;
      if (due && (base !== p.lastAckBase || now - p.lastAckAt >= this.cfg.aliveIntervalMs || newEcho)) {
        this.send({
          type: MessageType.Ack, target: p.node, targetEpoch: p.epoch, cumAck: base,
          echoTime: echoReady ? p.echoTime : NaN, echoHold: echoReady ? now - p.echoAppliedAt : NaN, echoStamp: echoReady ? echoStamp : NaN,
          ...this.ctlHeader(now),
        });
        if (echoReady) p.echoSent = true;
        p.lastAckAt = now;
        p.lastAckBase = base;
        p.ackDueAt = Infinity;
      }
      // An echo still on its way into the table: look again shortly.
      if (!p.echoSent && !echoReady && p.ackDueAt === Infinity) p.ackDueAt = now + 1;
    }
    if (p.sync.shouldRequest(now, this.cfg.resyncRetryMs)) {
      if (p.sync.lastRequestAt === -Infinity && p.sync.lastChunkAt === -Infinity) p.sync.startedAt = Math.min(p.sync.startedAt, now);
      p.sync.lastRequestAt = now;
      this.stats.resyncsRequested++;
      this.send({ type: MessageType.ResyncRequest, target: p.node, ...this.ctlHeader(now) });
    }
  }

  private ctlHeader(now: number): { flags: number; node: number; epoch: number; seq: number; time: number } {
    const seq = this.ctlSeq;
    this.ctlSeq = (this.ctlSeq + 1) >>> 0;
    return { flags: MessageFlag.LongRecords, node: this.cfg.nodeId, epoch: this.cfg.epoch, seq, time: now };
  }

  private dataHeader(seq: number, now: number, flags = 0): { flags: number; node: number; epoch: number; seq: number; time: number } {
    return { flags: flags | MessageFlag.LongRecords, node: this.cfg.nodeId, epoch: this.cfg.epoch, seq, time: now };
  }

  /**
   * Values per record for what is sent now: the optional fields only when every peer known
   * reads them (a node of an older version drops a datagram with a longer record whole, so
   * during a rolling upgrade records go out as that version wrote them).
   */
  private recordFields(): number {
    for (const p of this.peers.values()) if (!p.longRecords) return recordFieldsFor(false);
    return recordFieldsFor(true);
  }

  private sendBatches(now: number): void {
    // A walk's records read before these events go first (see localSlot).
    if (this.batches.length > 0 && this.table !== null && this.table.held > 0) this.sendWalkChunk(now);
    const mirror = this.mirror;
    for (let i = 0; i < this.batches.length; i++) {
      const { items, kinds } = this.batches[i]!;
      const at = this.slotOffsets;
      at.length = items.length;
      for (let k = 0; k < items.length; k++) at[k] = items[k]! * SLOT_BYTES;
      const seq = this.sender.record(MessageType.Data, null, 0, 0, 0, now);
      const b = encodeSlotsMessage(this.dataHeader(seq, now), mirror.slabView, mirror.slabBytes, at, kinds, this.cfg.key, this.recordFields());
      for (let k = 0; k < items.length; k++) mirror.release(items[k]!);
      this.sender.held(seq)!.datagram = b;
      this.sent(b);
      this.stats.recordsSent += items.length;
      this.noteDataSent(now);
    }
    this.batches.length = 0;
  }

  private noteDataSent(now: number): void {
    this.nextAliveAt = now + this.cfg.tailProbeMs;
  }

  /**
   * Flow control of a walk: at most bulkWindow messages unacknowledged, and never more than
   * half the resend queue, so a chunk lost on the way is still held when its NACK arrives
   * (otherwise a big table over a lossy link livelocks in LOST -> new walk -> LOST). With no
   * live peer ACKing yet (a restarted requester: its new epoch made us forget it), the walk
   * counts its own messages instead and waits for the first ACK. Live DATA is never held back.
   */
  private bulkWindowOpen(now: number): boolean {
    const window = Math.min(this.cfg.bulkWindow, this.cfg.resendQueueSize >>> 1);
    return (this.sender.hasLivePeers(now) ? this.sender.queued : this.bulk.messages) < window;
  }

  /**
   * Records to ask the table's owner for now (LocalWalk): what the walk's window has room
   * for, counted in the walk's records per chunk so far, less what was asked for and has
   * not come yet. Asked in steps of at least a quarter window, so the owner's thread is
   * asked a few times per window, not per ACK.
   */
  private creditDue(now: number): number {
    const t = this.table!;
    const window = Math.min(this.cfg.bulkWindow, this.cfg.resendQueueSize >>> 1);
    const inFlight = this.sender.hasLivePeers(now) ? this.sender.queued : t.messages;
    const room = (window - inFlight) * t.perChunk - t.outstanding - t.held;
    return room >= Math.max(1, (window >>> 2) * t.perChunk) || (!t.started && room > 0) ? Math.floor(room) : 0;
  }

  /** Sends the walk records held as one RESYNC_CHUNK. */
  private sendWalkChunk(now: number): void {
    const t = this.table!;
    if (t.held === 0) return;
    const seq = this.sender.record(MessageType.ResyncChunk, null, t.bulkId, 0, 0, now);
    if (t.firstSeq === -1) t.firstSeq = seq;
    const b = encodeSlotsChunk(this.dataHeader(seq, now), t.bulkId, t.view, t.bytes, t.at, t.kinds, this.cfg.key, this.recordFields());
    t.sent();
    this.sender.held(seq)!.datagram = b;
    this.sent(b);
    this.noteDataSent(now);
  }

  /** The table's owner walked to the end: the last chunk, then RESYNC_DONE; another walk if one was asked for meanwhile. */
  private walkEnd(now: number): void {
    const t = this.table!;
    if (!t.active) return;
    this.sendWalkChunk(now);
    const seq0 = this.sender.lastSeq + 1;
    const firstSeq = t.firstSeq === -1 ? seq0 >>> 0 : t.firstSeq;
    const seq = this.sender.record(MessageType.ResyncDone, null, t.bulkId, firstSeq, t.count, now);
    this.send({ type: MessageType.ResyncDone, bulkId: t.bulkId, firstSeq, count: t.count, ...this.dataHeader(seq, now) });
    this.noteDataSent(now);
    t.finish();
    if (t.active) {
      const c = this.creditDue(now);
      if (c > 0) t.grant(c);
    }
  }

  private bulkStep(now: number): void {
    const budget = this.coalescer.budget - 4;
    for (let i = 0; i < this.cfg.bulkChunksPerTick && this.bulk.active; i++) {
      if (!this.bulkWindowOpen(now)) break;
      if (this.bulk.take(budget) > 0) {
        const seq = this.sender.record(MessageType.ResyncChunk, null, this.bulk.bulkId, 0, 0, now);
        if (this.bulk.firstSeq === -1) this.bulk.firstSeq = seq;
        const mirror = this.mirror;
        const b = encodeSlotsChunk(this.dataHeader(seq, now), this.bulk.bulkId, mirror.slabView, mirror.slabBytes, this.bulk.at, this.bulk.kinds, this.cfg.key, this.recordFields());
        this.sender.held(seq)!.datagram = b;
        this.sent(b);
      } else {
        const bulkId = this.bulk.bulkId;
        const count = this.bulk.count;
        const seq0 = this.sender.lastSeq + 1;
        const firstSeq = this.bulk.firstSeq === -1 ? seq0 >>> 0 : this.bulk.firstSeq;
        const seq = this.sender.record(MessageType.ResyncDone, null, bulkId, firstSeq, count, now);
        this.send({ type: MessageType.ResyncDone, bulkId, firstSeq, count, ...this.dataHeader(seq, now) });
        this.bulk.finish();
      }
      this.noteDataSent(now);
    }
    this.nextBulkAt = now + this.cfg.bulkTickMs;
  }

  /**
   * Sends up to resendsPerTick of the retransmissions NACKs asked for. Sequences acknowledged
   * or evicted since are skipped (a receiver still missing an evicted one NACKs again and is
   * answered LOST); skipping is bounded too, so every call costs a bounded amount.
   */
  private drainResends(now: number): void {
    const q = this.resendBacklog;
    let budget = this.cfg.resendsPerTick;
    let skips = 4096;
    while (budget > 0 && skips > 0 && this.resendHead < q.length) {
      const seq = q[this.resendHead++]!;
      const e = this.sender.held(seq);
      if (e === undefined || !e.resendQueued) {
        skips--;
        continue;
      }
      e.resendQueued = false;
      this.resend(e, now);
      budget--;
    }
    if (this.resendHead >= q.length) {
      q.length = 0;
      this.resendHead = 0;
    } else if (this.resendHead >= 1024 && this.resendHead * 2 >= q.length) {
      q.splice(0, this.resendHead);
      this.resendHead = 0;
    }
  }

  /** Resends a held sequence with the current state of the connections it carried. */
  private resend(e: SentEntry, now: number): void {
    this.stats.retransmits++;
    const h = this.dataHeader(e.seq, now, MessageFlag.Retransmit);
    if (e.type === MessageType.ResyncDone) {
      this.send({ type: MessageType.ResyncDone, bulkId: e.bulkId, firstSeq: e.firstSeq, count: e.count, ...h });
      return;
    }
    const recs = e.datagram === null ? [] : recordsOf(e.datagram);
    const current: StateRecord[] = new Array(recs.length);
    const mirror = this.mirrorSource;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      if (mirror === null) {
        // No copy of the table here: the records as they were sent.
        current[i] = r;
        continue;
      }
      // Gone since: a destroy stamped with the newest local change seen (the real destroy
      // was among them), not with the old record's stamp, which the receiver's
      // older-than-applied rule would discard; any later change still gets a newer stamp.
      current[i] = mirror.get(r) ?? { ...r, kind: EventKind.Destroy, stamp: Math.max(this.lastLocalStamp, r.stamp) };
    }
    if (e.type === MessageType.ResyncChunk) this.send({ type: MessageType.ResyncChunk, bulkId: e.bulkId, records: current, ...h });
    else this.send({ type: MessageType.Data, records: current, ...h });
  }

  private send(msg: Message): Buffer {
    const b = encodeMessage(msg, this.cfg.key, this.recordFields());
    this.sent(b);
    return b;
  }

  private sent(b: Buffer): void {
    this.outbox.push(b);
    this.stats.msgsSent++;
    this.stats.bytesSent += b.length;
  }
}

function pushBounded(a: number[], v: number, max: number): void {
  if (a.length >= max) a.splice(0, a.length - max + 1);
  a.push(v);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
