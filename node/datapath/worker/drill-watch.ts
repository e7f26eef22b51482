/**
 * What a drill's master learns, on its own, about the flows it hands over (API drills,
 * node/ha/api-drill.ts): which of its connections were moving data when it resigned, and
 * which of them the new master then carried.
 *
 * Active: a TCP connection of this node's own (not a replica, not to or from the node
 * itself) in ESTABLISHED state whose sequence window moved (its end of data grew in either
 * direction) between begin() and freeze(), one short window before the resign: it moved
 * data then. A connection quiet in that window is not watched at all.
 *
 * Carried by the new master: after the resign, the new master replicates the connection
 * under its own id. The first record of it is its adoption (takeover-adopt.ts, or the first
 * packet through it); every further record is an event its table raised for a packet it
 * tracked: a state change, or a refresh (conntrack raises one at most every
 * eventRefreshMs, 5 s, while packets keep refreshing the entry). So a second record from
 * the peer means the peer forwarded packets of the connection after taking it over: the
 * flow survived the takeover (unless that record says it was reset: TCP CLOSE, ended). One record or none by the end: not seen (stalled on the
 * new master, or quiet, or the hold was shorter than the refresh period; the node cannot
 * tell which). A destroy from the peer, or the entry gone here: ended (closed or reset
 * during the drill). Records the peer sends in a full resync would count too: a drill
 * during a resync is not a clean measurement (the report says whether the peer was in sync).
 *
 * This node keeps its own entry (SyncBridge.apply ignores a peer's records for it:
 * `ignoredLocal`), which is where the records are counted, with no cost per packet.
 */
import { CtEventKind, CtStatus, TcpState, ctGroup, type CtSnapshot } from '../../conntrack/index.js';
import { formatAddress } from '../../packet/address.js';

/** What the watch reads of the connection table. */
export interface DrillWatchTable {
  forEach(cb: (entry: number) => void): void;
  isLive(entry: number): boolean;
  snapshot(entry: number, out: CtSnapshot): CtSnapshot;
}

export type DrillFlowOutcome = 'survived' | 'ended' | 'not-seen';

export interface DrillFlowResult {
  /** "tcp 192.0.2.100:40000 -> 198.51.100.100:5201" (the original direction). */
  flow: string;
  outcome: DrillFlowOutcome;
  /** Records of it received from the peer after the resign. */
  peerRecords: number;
  /** ms from freeze() to the record that showed it survived (the peer's second), or null. */
  survivedAfterMs: number | null;
  /** Its VRRP group (VRID; 0: untagged). */
  vrid: number;
}

export interface DrillWatchResult {
  /** Connections looked at in begin() (local, TCP, established), at most maxFlows. */
  candidates: number;
  /** More candidates than maxFlows: the rest were not watched. */
  capped: boolean;
  flows: DrillFlowResult[];
}

interface Watched {
  key: string;
  flow: string;
  end0: number;
  end1: number;
  records: number;
  ended: boolean;
  survivedAt: number;
  vrid: number;
}

/** Connections watched at most (the walk and the lists stay small on a large table). */
export const DRILL_WATCH_MAX_FLOWS = 4096;

/** Identity of a snapshot's connection (a reused slot holds another one). */
function keyOf(s: CtSnapshot): string {
  const n = s.family === 4 ? 4 : 16;
  return `${s.zone}/${s.proto}/${formatAddress(s.origSrc, 0, n)}/${s.origSport}/${formatAddress(s.origDst, 0, n)}/${s.origDport}`;
}

function flowText(s: CtSnapshot): string {
  const n = s.family === 4 ? 4 : 16;
  const a = (b: Uint8Array, p: number) => (n === 4 ? `${formatAddress(b, 0, n)}:${p}` : `[${formatAddress(b, 0, n)}]:${p}`);
  return `tcp ${a(s.origSrc, s.origSport)} -> ${a(s.origDst, s.origDport)}`;
}

export class DrillWatch {
  private readonly snap: CtSnapshot;
  private candidates = new Map<number, Watched>();
  private capped = false;
  /** Watched entries after freeze(), by table slot. */
  private watched: Map<number, Watched> | null = null;
  private frozenAt = 0;

  constructor(
    private readonly ct: DrillWatchTable,
    snap: CtSnapshot,
    private readonly now: () => number,
    private readonly maxFlows = DRILL_WATCH_MAX_FLOWS,
  ) {
    this.snap = snap;
  }

  /** Whether records are being counted (between freeze() and end()). */
  get active(): boolean {
    return this.watched !== null;
  }

  /**
   * Start of the activity window: the ends of data of every local established TCP
   * connection; with `vrids`, of those tagged with one of these VRRP groups (a drill of one
   * group hands over only its connections).
   */
  begin(vrids?: readonly number[]): number {
    this.candidates = new Map();
    this.watched = null;
    this.capped = false;
    this.ct.forEach((e) => {
      const s = this.ct.snapshot(e, this.snap);
      if (s.proto !== 6 || s.tcpState !== TcpState.Established || s.replicated) return;
      if (s.status & (CtStatus.LocalIn | CtStatus.LocalOut)) return;
      const vrid = ctGroup(s.status);
      if (vrids !== undefined && !vrids.includes(vrid)) return;
      if (this.candidates.size >= this.maxFlows) {
        this.capped = true;
        return;
      }
      this.candidates.set(e, { key: keyOf(s), flow: flowText(s), end0: s.tdEnd[0]!, end1: s.tdEnd[1]!, records: 0, ended: false, survivedAt: NaN, vrid });
    });
    return this.candidates.size;
  }

  /** The resign: the connections whose data moved since begin() are watched from now on. */
  freeze(): number {
    const w = new Map<number, Watched>();
    for (const [e, c] of this.candidates) {
      if (!this.ct.isLive(e)) continue;
      const s = this.ct.snapshot(e, this.snap);
      if (keyOf(s) !== c.key || s.replicated) continue;
      if (s.tdEnd[0] === c.end0 && s.tdEnd[1] === c.end1) continue;
      w.set(e, c);
    }
    this.watched = w;
    this.frozenAt = this.now();
    return w.size;
  }

  /**
   * A peer's record for one of this node's own entries (SyncBridge.apply, `ignoredLocal`).
   * Cheap when nothing is watched: one null check.
   */
  peerRecord(entry: number, kind: number, tcpState: number): void {
    const c = this.watched?.get(entry);
    if (c === undefined || c.ended) return;
    c.records++;
    if (Number.isFinite(c.survivedAt)) return;
    // Destroyed, or reset (TCP CLOSE) on the new master before it carried anything: ended.
    if (kind === CtEventKind.Destroy || tcpState === TcpState.Close) c.ended = true;
    else if (c.records >= 2) c.survivedAt = this.now();
  }

  /** This node's table destroyed an entry (its own event): a watched one ended here. */
  localDestroy(entry: number): void {
    const c = this.watched?.get(entry);
    if (c !== undefined && !Number.isFinite(c.survivedAt)) c.ended = true;
  }

  /** Stops counting and says what became of each watched connection. */
  end(): DrillWatchResult {
    const flows: DrillFlowResult[] = [];
    for (const [e, c] of this.watched ?? new Map<number, Watched>()) {
      // An entry gone (or its slot reused by another connection) ended during the drill.
      const gone = !this.ct.isLive(e) || keyOf(this.ct.snapshot(e, this.snap)) !== c.key;
      const survived = Number.isFinite(c.survivedAt);
      const outcome: DrillFlowOutcome = survived ? 'survived' : c.ended || gone ? 'ended' : 'not-seen';
      flows.push({ flow: c.flow, outcome, peerRecords: c.records, survivedAfterMs: survived ? Math.round(c.survivedAt - this.frozenAt) : null, vrid: c.vrid });
    }
    const out = { candidates: this.candidates.size, capped: this.capped, flows };
    this.watched = null;
    this.candidates = new Map();
    return out;
  }
}
