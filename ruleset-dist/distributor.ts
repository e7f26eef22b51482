/**
 * One cluster ruleset with a monotonic version and the SHA-256 of its canonical text.
 *
 * - Writes happen on one node only: the VRRP master, a node without VRRP, or any node that
 *   hears no peer. Everyone else answers "not writable" with the master's name. One writer
 *   means no merge: a version is a whole text, and its successor is made from it.
 * - Every node ANNOUNCEs {version, hash, role} every `announceIntervalMs` and at once after
 *   a change. After a commit the writer also sends an UPDATE with the transaction's ops
 *   when it fits in a datagram; a peer at exactly the base version (and base hash) applies
 *   the ops, checks that it arrives at the announced hash, and is current. Any other case
 *   (missed UPDATE, too big, ahead or behind, hash mismatch) is a FETCH of the full text
 *   from the announcer over TCP.
 * - Drift: the same version with another hash than the master's (a file reloaded behind
 *   the cluster's back), or being behind for longer than `driftGraceMs`. Reported (status,
 *   event, log), and repaired by fetching the master's version when `repairDrift` is set.
 * - Readiness: a starting node is ready once a peer has PROVEN its current version and the
 *   node runs a version no older than that and than any peer it heard (and is not drifted
 *   from the master), or when no peer proved anything within `startupGraceMs` and no
 *   announced version is ahead. The node keeps VRRP from taking the VIPs until then.
 *
 *   Why proof: an ANNOUNCE is authenticated but not fresh. After a restart the replay guard
 *   is empty, so a captured ANNOUNCE of an old version (same key, the peer's current boot)
 *   is accepted once; taken at its word it made the node ready at that stale version
 *   before the peer's real ANNOUNCE arrived, and readiness latches. The proof is a nonce
 *   challenge the protocol already has: every FETCH asks for the peer's *current* version
 *   with a random nonce, and the answer must carry that nonce under the HMAC, so it was
 *   made after the request, i.e. after our start. An ANNOUNCE now only tells whom to ask.
 *   A replay can then achieve what losing the peer's datagrams achieves (the node waits
 *   for the grace and stands alone), never readiness at a version the peer has left.
 *
 * All applies run one at a time through `serial`, so a fetch never interleaves with an
 * UPDATE or a local write.
 *
 * The class is the protocol core and does no I/O of its own besides the store and the
 * history file (ports.ts): it reads the time from `now`, sends through a DistLink, and is
 * driven by calls: receiveDatagram(), serveFetch(), fetchAnswered() and tick(). The shell
 * with the sockets and the announce timer is runner.ts.
 */
import { createHmac, randomBytes } from 'node:crypto';
import {
  FrameError, MAC_BYTES, MAX_FRAME_BYTES, MAX_REQUEST_BYTES, ReplayGuard, STREAM_HEAD_BYTES,
  decodeFrame, decodeStreamFrame, decodeStreamHead, encodeFrame, encodeStreamFrame, type DropReason, type Frame,
} from './codec.js';
import { canonicalize, hashText } from './canonical.js';
import { VersionHistory, type VersionEntry, type VersionMeta } from './history.js';
import {
  MSG_ANNOUNCE, MSG_FETCH_REQ, MSG_FETCH_RESP, MSG_UPDATE, asAnnounce, asFetchRequest, asFetchResponse, asUpdate,
  type Announce, type DistRole, type FetchResponse, type MsgType, type Update,
} from './messages.js';
import type { StreamGate } from './transport.js';
import type { DistLink } from './ports.js';

/** The node's ruleset, as the distributor needs it (node/ adapts its RulesetService). */
export interface RulesetStore {
  /** The running ruleset printed without handles, counters or expiry (canonicalized here). */
  canonicalText(): string;
  /** Replaces the whole ruleset atomically (control engine, then datapath); throws when refused. */
  applyText(text: string, origin: string): Promise<void>;
  /** Applies one transaction's ops atomically; throws when refused. */
  applyOps(ops: unknown, origin: string): Promise<void>;
}

export interface DistLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DistOptions {
  nodeId: number;
  name: string;
  /** Boot epoch (grows on every start), for anti-replay. */
  epoch: number;
  key: Uint8Array;
  historySize?: number;
  stateDir?: string;
  announceIntervalMs?: number;
  startupGraceMs?: number;
  driftGraceMs?: number;
  repairDrift?: boolean;
  /** Largest UPDATE datagram; bigger transactions travel by FETCH. */
  maxDatagramBytes?: number;
  fetchTimeoutMs?: number;
  /** Largest fetch answer payload read (a ruleset text as JSON); bigger heads are refused unread. */
  maxFetchBytes?: number;
  /** This node's VRRP role (standalone without VRRP). */
  role: () => DistRole;
  /** The clock (ms since the epoch); the runner passes its clock's. */
  now?: () => number;
}

interface PeerView {
  nodeId: number;
  name: string;
  address: string;
  version: number;
  hash: string;
  role: DistRole;
  ready: boolean;
  lastSeenMs: number;
}

export interface NodeVersion {
  name: string;
  nodeId: number;
  self: boolean;
  version: number;
  hash: string;
  role: DistRole;
  ready: boolean;
  /** Same version as the writer (master) but another hash. */
  drift: boolean;
  ageMs: number;
}

export interface DistStatus {
  version: number;
  hash: string;
  ready: boolean;
  drift: boolean;
  driftReason?: string;
  writable: boolean;
  master?: string;
  nodes: NodeVersion[];
}

export type DistEvent =
  | { event: 'version'; version: number; hash: string; origin: string; summary: string; via: 'local' | 'update' | 'fetch' | 'startup' }
  | { event: 'drift'; drift: boolean; reason?: string; version: number; hash: string; clusterVersion?: number; clusterHash?: string }
  | { event: 'ready'; version: number };

export interface DistCounters {
  announcesSent: number;
  announcesReceived: number;
  updatesSent: number;
  updatesApplied: number;
  fetchesServed: number;
  fetches: number;
  fetchFailures: number;
  driftDetected: number;
  repairs: number;
  dropped: Record<DropReason, number>;
}

interface PendingFetch {
  id: number;
  nonce: string;
  peer: { address: string; name: string };
  /** The version we expect (for the log). */
  version: number;
  why: string;
  repair: boolean;
}

/** A refused write: not the writer (409, with the master's name). */
export class NotWriterError extends Error {
  constructor(readonly master: string | undefined) {
    super(`this node is not the ruleset writer: send changes to the master${master ? ` (${master})` : ''}`);
  }
}

export class RulesetDistributor {
  private readonly o: Required<Omit<DistOptions, 'stateDir'>> & { stateDir?: string };
  readonly history: VersionHistory;
  private version = 0;
  private hash = '';
  private text = '';
  private seq = 0;
  private readonly peers = new Map<number, PeerView>();
  private readonly guard = new ReplayGuard();
  private readonly tcpGuard = new ReplayGuard();
  private chain: Promise<unknown> = Promise.resolve();
  private fetching = false;
  /** The fetch whose answer we wait for (one at a time). */
  private pendingFetch: PendingFetch | undefined;
  private fetchIds = 0;
  /** Applies queued or running (tests on virtual time wait for none). */
  private applying = 0;
  private lastFetchAt = -Infinity;
  private behindSince: number | undefined;
  private drift = false;
  private driftReason: string | undefined;
  private ready = false;
  /** The newest current version a peer proved since our start (nonce answered under the HMAC). */
  private proven: { version: number; hash: string } | undefined;
  /** The running ruleset came from a file edited while down: make it a version if alone. */
  private pendingLocal = false;
  private heardPeer = false;
  private startedAt = 0;
  private stopped = false;
  private readonly listeners = new Set<(e: DistEvent) => void>();
  private readonly readyListeners = new Set<(ready: boolean) => void>();
  readonly counters: DistCounters = {
    announcesSent: 0, announcesReceived: 0, updatesSent: 0, updatesApplied: 0, fetchesServed: 0, fetches: 0, fetchFailures: 0, driftDetected: 0, repairs: 0,
    dropped: { malformed: 0, auth: 0, replay: 0, own: 0, oversize: 0 },
  };

  constructor(
    opts: DistOptions,
    private readonly store: RulesetStore,
    private readonly link: DistLink,
    private readonly log: DistLog,
  ) {
    this.o = {
      historySize: 20, announceIntervalMs: 1000, startupGraceMs: 3000, driftGraceMs: 5000, repairDrift: true, maxDatagramBytes: 1400, fetchTimeoutMs: 3000, maxFetchBytes: MAX_FRAME_BYTES,
      now: Date.now,
      ...opts,
    };
    this.history = new VersionHistory(this.o.historySize, opts.stateDir);
  }

  // ---- lifecycle ----

  /**
   * Comes up with the stored version (applying its text when the running ruleset differs),
   * or makes the running ruleset version 1 (0 when empty) on a node without history, and
   * announces it. The runner hands received messages in only after this resolves.
   */
  async start(sourceHash?: string): Promise<void> {
    this.startedAt = this.o.now();
    await this.history.load();
    // The history belongs to the cluster whose key made it: a node moved into another
    // cluster (or a lab built afresh with a new key) must not bring old versions along.
    const clusterId = createHmac('sha256', this.o.key).update('hafw ruleset-dist cluster id').digest('hex').slice(0, 16);
    if (this.history.clusterId !== undefined && this.history.clusterId !== clusterId && this.history.latest()) {
      this.log.warn({ stateDir: this.o.stateDir }, 'ruleset-dist: stored history was made under another cluster key; starting afresh');
      this.history.clear();
    }
    this.history.clusterId = clusterId;
    const stored = this.history.latest();
    const running = canonicalize(this.store.canonicalText());
    const sourceChanged = sourceHash !== undefined && this.history.sourceHash !== undefined && sourceHash !== this.history.sourceHash;
    if (sourceHash !== undefined) this.history.sourceHash = sourceHash;
    if (stored && sourceChanged && hashText(running) !== stored.hash) {
      // The file was edited while the node was down: it runs now, at the stored version
      // with another hash. Peers decide (drift repair, or fetch); alone, it becomes the
      // next version once the startup grace is over.
      this.setCurrent(stored.version, running);
      this.pendingLocal = true;
      await this.history.persist();
      this.log.warn({ version: stored.version }, 'ruleset-dist: the ruleset file changed while the node was down; running it at the stored version until the cluster is heard');
    } else if (stored) {
      if (hashText(running) !== stored.hash) {
        await this.store.applyText(stored.text, `<stored version ${stored.version}>`);
        this.log.info({ version: stored.version }, 'ruleset-dist: restored the stored version (the cluster changed it since the file was loaded)');
      }
      this.setCurrent(stored.version, stored.text);
      await this.history.persist();
      this.emit({ event: 'version', version: stored.version, hash: this.hash, origin: stored.origin, summary: stored.summary, via: 'startup' });
    } else {
      const v = running.trim() === '' ? 0 : 1;
      this.setCurrent(v, running);
      await this.history.add({ version: v, hash: this.hash, text: running, time: this.o.now(), origin: this.o.name, summary: 'initial ruleset' });
    }
    this.log.info({ version: this.version, hash: this.hash.slice(0, 12) }, 'ruleset-dist: running version');
    this.announce();
  }

  /** Every `announceIntervalMs` (the runner's timer). */
  get announceIntervalMs(): number {
    return this.o.announceIntervalMs;
  }

  /** Stops sending and deciding; resolves when the applies and history writes under way are done. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain.catch(() => undefined);
    // A version made just before the stop is still being written: a stop means its file
    // is complete (and a test may remove the state directory right after).
    await this.history.flushed();
  }

  /** Whether an apply is queued or running (see idle()). */
  get busy(): boolean {
    return this.applying > 0;
  }

  /** Resolves once no apply is queued or running: tests on virtual time settle with it. */
  async idle(): Promise<void> {
    for (let c = this.chain; ; c = this.chain) {
      await c.catch(() => undefined);
      if (c === this.chain) return;
    }
  }

  // ---- reading ----

  status(): DistStatus {
    const now = this.o.now();
    const master = this.masterPeer();
    const writerHash = this.writerView()?.hash;
    const writerVersion = this.writerView()?.version;
    const nodes: NodeVersion[] = [
      { name: this.o.name, nodeId: this.o.nodeId, self: true, version: this.version, hash: this.hash, role: this.o.role(), ready: this.ready, drift: this.drift, ageMs: 0 },
    ];
    for (const p of this.freshPeers()) {
      nodes.push({
        name: p.name, nodeId: p.nodeId, self: false, version: p.version, hash: p.hash, role: p.role, ready: p.ready,
        drift: writerVersion !== undefined && p.role !== 'master' && p.version === writerVersion && p.hash !== writerHash,
        ageMs: now - p.lastSeenMs,
      });
    }
    return {
      version: this.version, hash: this.hash, ready: this.ready, drift: this.drift, driftReason: this.driftReason,
      writable: this.writable().ok, master: master?.name ?? (this.o.role() === 'master' ? this.o.name : undefined), nodes,
    };
  }

  currentVersion(): number {
    return this.version;
  }

  currentHash(): string {
    return this.hash;
  }

  isReady(): boolean {
    return this.ready;
  }

  isDrifted(): boolean {
    return this.drift;
  }

  listHistory(): VersionMeta[] {
    return this.history.list();
  }

  versionEntry(version: number): VersionEntry | undefined {
    if (version === this.version) return { ...(this.history.get(version) ?? { time: 0, origin: '', summary: '' }), version, hash: this.hash, text: this.text };
    return this.history.get(version);
  }

  onEvent(fn: (e: DistEvent) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  /** For VRRP: called with the new readiness when it changes. */
  onReadyChange(fn: (ready: boolean) => void): () => void {
    this.readyListeners.add(fn);
    return () => void this.readyListeners.delete(fn);
  }

  // ---- writing (on the writer only) ----

  /** Whether this node accepts writes, and otherwise who does. */
  writable(): { ok: true } | { ok: false; master?: string } {
    const role = this.o.role();
    if (role === 'master' || role === 'standalone') return { ok: true };
    const peers = this.freshPeers();
    if (peers.length === 0) return { ok: true };
    const master = peers.find((p) => p.role === 'master');
    return { ok: false, master: master?.name };
  }

  /**
   * Runs a local change (`apply` changes the store) as the next cluster version. `ops`, when
   * given, is what an UPDATE carries so peers at the base version apply the same batch.
   */
  write<T>(apply: () => Promise<T>, ops: unknown | undefined, summary: string): Promise<{ result: T; version: number }> {
    const w = this.writable();
    if (!w.ok) return Promise.reject(new NotWriterError(w.master));
    return this.serial(async () => {
      const baseVersion = this.version;
      const baseHash = this.hash;
      const result = await apply();
      const text = canonicalize(this.store.canonicalText());
      // Above every version heard: versions stay monotonic even after a split.
      const version = Math.max(this.version, ...this.freshPeers().map((p) => p.version)) + 1;
      this.setCurrent(version, text);
      const time = this.o.now();
      await this.history.add({ version, hash: this.hash, text, time, origin: this.o.name, summary });
      this.log.info({ event: 'ruleset-dist.version', via: 'local', version, hash: this.hash.slice(0, 12), summary }, 'ruleset-dist: new cluster version');
      if (ops !== undefined && baseVersion === version - 1) this.sendUpdate({ version, baseVersion, baseHash, hash: this.hash, ops, origin: this.o.name, summary, time });
      this.announce();
      this.emit({ event: 'version', version, hash: this.hash, origin: this.o.name, summary, via: 'local' });
      this.evaluate();
      return { result, version };
    });
  }

  /** A whole text as the next version. */
  applyText(text: string, summary = 'apply'): Promise<{ version: number }> {
    return this.write(() => this.store.applyText(text, '<api>'), undefined, summary).then((r) => ({ version: r.version }));
  }

  /** Rollback to `version` = a NEW version whose content is that version's text. */
  async rollback(version: number): Promise<{ version: number; from: number }> {
    const e = this.versionEntry(version);
    if (!e) throw new RangeError(`version ${version} is not in the history (kept: ${this.history.list().map((x) => x.version).join(', ') || 'none'})`);
    const r = await this.applyText(e.text, `rollback to ${version}`);
    return { version: r.version, from: version };
  }

  /**
   * The running ruleset was replaced locally outside the API (SIGHUP). On the writer this
   * is the next version; elsewhere the version stays and the hash changes, which is drift
   * (and is repaired from the master when repairDrift is set).
   */
  async localReplaced(summary = 'SIGHUP reload', sourceHash?: string): Promise<void> {
    if (sourceHash !== undefined) this.history.sourceHash = sourceHash;
    if (this.writable().ok) {
      await this.write(async () => undefined, undefined, summary);
      return;
    }
    await this.serial(async () => {
      const text = canonicalize(this.store.canonicalText());
      this.text = text;
      this.hash = hashText(text);
      await this.history.persist();
      this.log.warn({ version: this.version, hash: this.hash.slice(0, 12) }, 'ruleset-dist: ruleset replaced locally on a node that is not the writer');
      this.announce();
    });
    this.evaluate();
  }

  // ---- protocol ----

  private setCurrent(version: number, text: string): void {
    this.version = version;
    this.text = text;
    this.hash = hashText(text);
  }

  private frame(type: MsgType, payload: unknown, stream = false): Buffer {
    this.seq = (this.seq + 1) >>> 0;
    const f: Frame = { type, nodeId: this.o.nodeId, epoch: this.o.epoch, seq: this.seq, payload };
    return stream ? encodeStreamFrame(this.o.key, f) : encodeFrame(this.o.key, f);
  }

  /** Fetch requests: a head with our key, fresh, and a body of at most MAX_REQUEST_BYTES (the runner gives it to the server). */
  readonly requestGate: StreamGate = { headBytes: STREAM_HEAD_BYTES, check: (head) => this.checkHead(head, MSG_FETCH_REQ, MAX_REQUEST_BYTES) };
  /** Fetch answers: the same, up to `maxFetchBytes`. */
  private readonly answerGate: StreamGate = { headBytes: STREAM_HEAD_BYTES, check: (head) => this.checkHead(head, MSG_FETCH_RESP, this.o.maxFetchBytes) };

  /**
   * Runs before the transport reads a body: authenticates the head, then refuses the wrong
   * type, a body over `max`, our own id and an (epoch, sequence) already seen, each counted.
   * Returns the bytes still to read (payload and final HMAC).
   */
  private checkHead(head: Uint8Array, type: MsgType, max: number): number {
    try {
      const h = decodeStreamHead(this.o.key, head);
      if (h.type !== type) throw new FrameError('malformed', `unexpected message type ${h.type}`);
      if (h.payloadBytes > max) throw new FrameError('oversize', `payload of ${h.payloadBytes} bytes is over the limit of ${max}`);
      if (h.nodeId === this.o.nodeId) throw new FrameError('own', 'our own node id');
      if (!this.tcpGuard.fresh(h.nodeId, h.epoch, h.seq)) throw new FrameError('replay', 'sequence already seen');
      return h.payloadBytes + MAC_BYTES;
    } catch (err) {
      this.drop(err instanceof FrameError ? err.reason : 'malformed');
      throw err;
    }
  }

  private announce(): void {
    if (this.stopped) return;
    const a: Announce = { name: this.o.name, version: this.version, hash: this.hash, role: this.o.role(), ready: this.ready };
    this.link.broadcast(this.frame(MSG_ANNOUNCE, a));
    this.counters.announcesSent++;
  }

  private sendUpdate(u: Update): void {
    const bytes = this.frame(MSG_UPDATE, u);
    if (bytes.length > this.o.maxDatagramBytes) return; // peers fetch it after the ANNOUNCE
    this.link.broadcast(bytes);
    this.counters.updatesSent++;
  }

  /** The announce timer: ANNOUNCE, then decide (fetches, drift, readiness, the startup grace). */
  tick(): void {
    if (this.stopped) return;
    this.announce();
    this.evaluate();
  }

  private drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
  }

  private accept(bytes: Uint8Array, guard: ReplayGuard, stream = false): Frame | undefined {
    try {
      const f = stream ? decodeStreamFrame(this.o.key, bytes) : decodeFrame(this.o.key, bytes);
      if (f.nodeId === this.o.nodeId) return void this.drop('own');
      if (!guard.accept(f.nodeId, f.epoch, f.seq)) return void this.drop('replay');
      return f;
    } catch (err) {
      this.drop(err instanceof FrameError ? err.reason : 'malformed');
      return undefined;
    }
  }

  /** A received datagram, with the sender's address (where its fetch server listens). */
  receiveDatagram(bytes: Uint8Array, from: string): void {
    if (this.stopped) return;
    const f = this.accept(bytes, this.guard);
    if (!f) return;
    if (f.type === MSG_ANNOUNCE) {
      const a = asAnnounce(f.payload);
      if (!a) return this.drop('malformed');
      this.counters.announcesReceived++;
      this.heardPeer = true;
      this.peers.set(f.nodeId, { nodeId: f.nodeId, name: a.name, address: from, version: a.version, hash: a.hash, role: a.role, ready: a.ready, lastSeenMs: this.o.now() });
      this.evaluate();
    } else if (f.type === MSG_UPDATE) {
      const u = asUpdate(f.payload);
      if (!u) return this.drop('malformed');
      // Never an unhandled rejection (a full disk must not take the node down).
      this.onUpdate(u, f.nodeId, from).catch((err: Error) => this.log.error({ err: err.message }, 'ruleset-dist: update handling failed'));
    } else this.drop('malformed');
  }

  private async onUpdate(u: Update, nodeId: number, from: string): Promise<void> {
    await this.serial(async () => {
      if (u.version <= this.version) return;
      if (u.baseVersion === this.version && u.baseHash === this.hash) {
        try {
          await this.store.applyOps(u.ops, `<update ${u.version} from ${u.origin}>`);
          const text = canonicalize(this.store.canonicalText());
          if (hashText(text) === u.hash) {
            this.setCurrent(u.version, text);
            this.counters.updatesApplied++;
            // Logged before the history write, as after a fetch (the log keeps event order).
            this.log.info({ event: 'ruleset-dist.version', via: 'update', version: u.version, origin: u.origin }, 'ruleset-dist: update applied');
            await this.history.add({ version: u.version, hash: u.hash, text, time: u.time, origin: u.origin, summary: u.summary });
            this.announce();
            this.emit({ event: 'version', version: u.version, hash: u.hash, origin: u.origin, summary: u.summary, via: 'update' });
            return;
          }
          this.log.warn({ version: u.version }, 'ruleset-dist: update applied but the hash differs; fetching the full text');
        } catch (err) {
          this.log.warn({ version: u.version, err: (err as Error).message }, 'ruleset-dist: update refused; fetching the full text');
        }
      }
      // Not at its base (or it did not land on its hash): the full text repairs any state.
      this.peerAddress(nodeId, from);
    });
    const p = this.peers.get(nodeId);
    if (u.version > this.version) this.fetchFrom(p ?? { address: from, name: u.origin }, u.version, 'update not applicable');
  }

  private peerAddress(nodeId: number, from: string): void {
    const p = this.peers.get(nodeId);
    if (p) p.address = from;
  }

  /** A fetch request (its head already passed `requestGate`): the answer, or undefined to close the exchange. */
  serveFetch(bytes: Uint8Array, _from: string): Uint8Array | undefined {
    const f = this.accept(bytes, this.tcpGuard, true);
    if (!f) return undefined;
    const req = f.type === MSG_FETCH_REQ ? asFetchRequest(f.payload) : undefined;
    if (!req) return void this.drop('malformed');
    this.counters.fetchesServed++;
    const e = this.versionEntry(req.version === 0 ? this.version : req.version);
    const resp: FetchResponse = e
      ? { nonce: req.nonce, version: e.version, hash: e.hash, text: e.text, origin: e.origin, summary: e.summary, time: e.time }
      : { nonce: req.nonce, error: `version ${req.version} is not in this node's history` };
    return this.frame(MSG_FETCH_RESP, resp, true);
  }

  /**
   * Asks the peer for its current version, to run it when it is newer (or, for a drift
   * repair, the same version with another hash); one fetch at a time. `version` is what we
   * expect (for the log): asking for the current one (0) makes every answer a proof of the
   * peer's state after our start (see the readiness note at the top). The answer comes
   * back through fetchAnswered().
   */
  private fetchFrom(peer: { address: string; name: string }, version: number, why: string, repair = false): void {
    if (this.fetching || this.stopped) return;
    this.fetching = true;
    this.lastFetchAt = this.o.now();
    this.counters.fetches++;
    const nonce = randomBytes(12).toString('hex');
    const id = ++this.fetchIds;
    this.pendingFetch = { id, nonce, peer, version, why, repair };
    this.link.fetch({ id, to: peer.address, bytes: this.frame(MSG_FETCH_REQ, { version: 0, nonce }, true), timeoutMs: this.o.fetchTimeoutMs, gate: this.answerGate });
  }

  /** The answer to fetch `id` (its head passed the answer gate), or why there is none (refused, timed out, closed). */
  fetchAnswered(id: number, answer: Uint8Array | Error): void {
    const p = this.pendingFetch;
    if (!p || p.id !== id) return;
    this.pendingFetch = undefined;
    void this.fetchDone(p, answer);
  }

  private async fetchDone(p: PendingFetch, answer: Uint8Array | Error): Promise<void> {
    const { peer, version, why, repair, nonce } = p;
    try {
      if (answer instanceof Error) throw answer;
      const f = this.accept(answer, this.tcpGuard, true);
      const r = f && f.type === MSG_FETCH_RESP ? asFetchResponse(f.payload) : undefined;
      if (!r || r.nonce !== nonce) throw new Error('invalid or unauthenticated answer');
      if (r.error) throw new Error(r.error);
      const text = r.text!;
      if (hashText(text) !== r.hash) throw new Error('text does not match its hash');
      // Our nonce under the peer's HMAC: this is what the peer runs now.
      if (!this.proven || r.version! >= this.proven.version) this.proven = { version: r.version!, hash: r.hash! };
      await this.serial(async () => {
        if (r.version! < this.version || (r.version === this.version && (!repair || r.hash === this.hash))) return;
        await this.store.applyText(text, `<version ${r.version} from ${peer.name}>`);
        const mine = canonicalize(this.store.canonicalText());
        this.setCurrent(r.version!, mine);
        if (this.hash !== r.hash) this.log.error({ version: r.version, theirs: r.hash!.slice(0, 12), ours: this.hash.slice(0, 12) }, 'ruleset-dist: fetched text prints differently here (hash mismatch)');
        // Said before the history write: the readiness check may run while that write waits
        // for the disk, and the log must show the version applied before the node is ready.
        if (repair) this.counters.repairs++;
        this.log.info({ event: 'ruleset-dist.version', via: 'fetch', repair, version: r.version, from: peer.name, why }, repair ? 'ruleset-dist: drift repaired from the master' : 'ruleset-dist: fetched version applied');
        await this.history.add({ version: r.version!, hash: this.hash, text: mine, time: r.time!, origin: r.origin!, summary: r.summary! });
        this.announce();
        this.emit({ event: 'version', version: r.version!, hash: this.hash, origin: r.origin!, summary: r.summary!, via: 'fetch' });
      });
    } catch (err) {
      this.counters.fetchFailures++;
      this.log.warn({ from: peer.name, version, err: (err as Error).message }, 'ruleset-dist: fetch failed');
    } finally {
      this.fetching = false;
      if (!this.stopped) this.evaluate();
    }
  }

  private freshPeers(): PeerView[] {
    const limit = this.o.now() - 3.5 * this.o.announceIntervalMs;
    return [...this.peers.values()].filter((p) => p.lastSeenMs >= limit);
  }

  private masterPeer(): PeerView | undefined {
    return this.freshPeers().find((p) => p.role === 'master');
  }

  /** Whose hash counts at a version: the master's, or ours when we write. */
  private writerView(): { version: number; hash: string } | undefined {
    const role = this.o.role();
    if (role === 'master') return { version: this.version, hash: this.hash };
    return this.masterPeer();
  }

  /** Decides fetches, drift and readiness from what the peers announced. */
  private evaluate(): void {
    if (this.stopped) return;
    const now = this.o.now();
    const peers = this.freshPeers();
    const master = this.o.role() === 'master' ? undefined : this.masterPeer();
    let newest: PeerView | undefined;
    for (const p of peers) if (!newest || p.version > newest.version || (p.version === newest.version && p.role === 'master')) newest = p;
    const behind = newest !== undefined && newest.version > this.version;
    if (behind) this.behindSince ??= now;
    else this.behindSince = undefined;
    const hashDrift = master !== undefined && master.version === this.version && master.hash !== this.hash;
    const lagging = this.behindSince !== undefined && now - this.behindSince >= this.o.driftGraceMs;
    const reason = hashDrift ? `hash ${this.hash.slice(0, 12)} differs from the master's ${master!.hash.slice(0, 12)} at version ${this.version}` : lagging ? `behind the cluster (version ${this.version}, cluster ${newest!.version}) for ${Math.round((now - this.behindSince!) / 1000)} s` : undefined;
    this.setDrift(reason, master ?? newest);
    const backoff = now - this.lastFetchAt >= Math.min(1000, this.o.announceIntervalMs);
    if (behind && !this.fetching && backoff) this.fetchFrom(newest!, newest!.version, `behind: version ${this.version} < ${newest!.version}`);
    else if (hashDrift && this.o.repairDrift && !this.fetching && backoff) this.fetchFrom(master!, master!.version, 'drift repair', true);
    else if (!this.ready && !this.proven && newest && !this.fetching && backoff) this.fetchFrom(master ?? newest, newest.version, 'proof of the peer\'s current version');
    if (!this.ready) {
      // Announced versions only ever hold readiness back; a proven one lets it go.
      const settled = !behind && !(hashDrift && this.o.repairDrift);
      const current = this.proven !== undefined && this.version >= this.proven.version && settled;
      const alone = this.proven === undefined && now - this.startedAt >= this.o.startupGraceMs && settled;
      if (current || alone) {
        if (alone && !this.heardPeer && this.pendingLocal) void this.localReplaced('ruleset file changed while the node was down').catch(() => undefined);
        this.pendingLocal = false;
        this.ready = true;
        this.log.info({ event: 'ruleset-dist.ready', version: this.version, heardPeer: this.heardPeer, proven: this.proven?.version }, 'ruleset-dist: ruleset current; node is ready');
        this.emit({ event: 'ready', version: this.version });
        for (const fn of this.readyListeners) fn(true);
        this.announce();
      }
    }
  }

  private setDrift(reason: string | undefined, ref: { version: number; hash: string } | undefined): void {
    const drift = reason !== undefined;
    if (drift === this.drift) {
      this.driftReason = reason ?? undefined;
      return;
    }
    this.drift = drift;
    this.driftReason = reason;
    if (drift) {
      this.counters.driftDetected++;
      this.log.warn({ event: 'ruleset-dist.drift', drift: true, version: this.version, hash: this.hash.slice(0, 12), reason }, 'ruleset-dist: DRIFT: this node runs another ruleset than the cluster');
    } else this.log.info({ event: 'ruleset-dist.drift', drift: false, version: this.version }, 'ruleset-dist: drift cleared');
    this.emit({ event: 'drift', drift, reason, version: this.version, hash: this.hash, clusterVersion: ref?.version, clusterHash: ref?.hash });
  }

  private emit(e: DistEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(e);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.catch(() => undefined).then(fn);
    this.chain = run;
    this.applying++;
    const done = (): void => void this.applying--;
    run.then(done, done);
    return run;
  }
}
