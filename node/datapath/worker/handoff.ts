/**
 * Packets of another node's connection, handed to that node over the sync segment
 * (active/active with asymmetric paths; docs/active-active.md).
 *
 * With several VRRP groups, a connection is tracked where it is forwarded: by the master
 * of its group (its owner). When routing upstream or downstream is asymmetric (a reply
 * comes back through the other group's VIP, or ECMP spreads one flow over both nodes), a
 * packet can arrive at a node that holds the connection only as a replica. Tracking it
 * there would split the connection's state between two nodes, each seeing one direction:
 * the owner's TCP tracker would never see the SYN-ACK, and drop the handshake's last ACK
 * as invalid. So the node hands the packet, as it came out of its TUN device, to the
 * owner, which runs it through its own table and ruleset and forwards it on its own
 * interfaces. This is pfsync's other answer to the same problem (besides deferral); the
 * state stays in one place and no ownership moves per packet.
 *
 * Who receives: every peer, on the sync multicast group (or each unicast peer) at
 * sync.handoffPort; only the node that owns the connection forwards it (FilterStage
 * `fromPeer`: a replica or an unknown connection is dropped, never a new one opened).
 *
 * Which packets: those that hit a replica tagged with a group this node is not master of
 * (ConnTracker.replicaGate, decided by SyncBridge.handsOff). A node that masters the group
 * tracks the replica itself and adopts it, as after a takeover.
 *
 * Authenticated with the cluster key (handoff-codec.ts), replay-checked per sender and
 * boot epoch; bounded: one datagram per packet, no queue, and at most `ratePerPeer` packets
 * a second from each peer reach this node's filter (sync.handoffRate): the owner runs every
 * handed packet through its datapath, so a peer handing over more than that (a routing
 * loop, an asymmetric flood) must not take the datapath from the node's own traffic. The
 * cap is per authenticated node id: it bounds a misbehaving peer, not a holder of the
 * cluster key lying about its id (who could forge state records anyway).
 */
import dgram from 'node:dgram';
import { ReplayVerdict, ReplayWindow } from '../../../inet/index.js';
import type { ConnTracker } from '../../conntrack/index.js';
import { SlotVerdict } from '../../native/index.js';
import { datapathClock } from '../shared/clock.js';
import { C } from '../shared/counters.js';
import { BatchProcessor } from './batch-processor.js';
import { TokenBucket } from '../../ruleset/modules/limit.js';
import type { FilterStage } from './filter-stage.js';
import { HANDOFF_HEADER, HANDOFF_MAC, HANDOFF_MAX_SLOT, decodeHandoff, encodeHandoff } from './handoff-codec.js';
import type { PacketStage } from './stage.js';
import type { SyncBridge } from './sync-bridge.js';

export interface HandoffOptions {
  nodeId: number;
  epoch: number;
  key: Uint8Array;
  /** The TUN device's virtio header length: slots carry it, and peers must use the same. */
  vnetHdrLen: number;
  counters: Float64Array;
  /** Packets a second each peer may hand to this node (a token bucket, bursts of a tenth of that); 0: no cap. */
  ratePerPeer: number;
  /** Milliseconds, for the rate cap. */
  clock(): number;
  /** A peer's packet to run through this node's datapath (the slot: virtio header and packet). */
  input(slot: Uint8Array): void;
}

/** Where datagrams go; tests pass a fake one. */
export interface HandoffTransport {
  /**
   * Sends one datagram. Its bytes stay the transport's until it calls `done` (once: sent,
   * or failed); only then may the caller write the next datagram into them. Node's dgram
   * sends later than the call (after an address lookup, even of a literal; after the bind),
   * so `done` may come in a later turn.
   */
  send(datagram: Buffer, done: () => void): void;
  close(): void;
}

/** Senders remembered for replay checks (authenticated ones only: a forger cannot add any). */
const MAX_SENDERS = 64;
const REPLAY_WINDOW = 4096;
/** An encode buffer's least size: a 1,500-byte packet with header and MAC fits. */
const MIN_ENCODE_BUFFER = 2048;
/** Encode buffers kept for reuse once their datagram is sent (more may be in flight in a burst). */
const MAX_FREE_BUFFERS = 16;

/** An encode buffer and the callback that gives it back (made once per buffer, not per packet). */
interface EncodeBuffer {
  buf: Buffer;
  done: () => void;
}

interface Sender {
  epoch: number;
  window: ReplayWindow;
  /** The rate cap (null: no cap). Kept across the peer's restarts. */
  bucket: TokenBucket | null;
}

export class Handoff {
  private seq = 0;
  private readonly senders = new Map<number, Sender>();
  /** Encode buffers whose datagrams the transport is done with, ready for the next packets. */
  private readonly free: EncodeBuffer[] = [];
  private readonly burst: number;
  transport: HandoffTransport | undefined;

  constructor(private readonly opts: HandoffOptions) {
    if (!(opts.ratePerPeer >= 0)) throw new RangeError(`handoff: ratePerPeer ${opts.ratePerPeer}`);
    this.burst = Math.max(1, Math.ceil(opts.ratePerPeer / 10));
  }

  /** Hands one slot (virtio header and packet) to the connection's owner. */
  send(slot: Uint8Array): void {
    const c = this.opts.counters;
    const t = this.transport;
    if (!t) {
      c[C.handoff_send_errors] += 1;
      return;
    }
    if (slot.length > HANDOFF_MAX_SLOT) {
      c[C.handoff_send_errors] += 1;
      return;
    }
    const e = this.encodeBuffer(HANDOFF_HEADER + slot.length + HANDOFF_MAC);
    const d = encodeHandoff({ vnetHdrLen: this.opts.vnetHdrLen, node: this.opts.nodeId, epoch: this.opts.epoch, seq: (this.seq = (this.seq + 1) >>> 0) }, slot, this.opts.key, e.buf)!;
    try {
      t.send(d, e.done);
      c[C.handoff_sent] += 1;
    } catch {
      // Whether the transport kept the bytes is unknown: the buffer is not reused.
      c[C.handoff_send_errors] += 1;
    }
  }

  /** A free encode buffer of at least `need` bytes (a new one when none is). */
  private encodeBuffer(need: number): EncodeBuffer {
    const e = this.free.pop();
    if (e !== undefined && e.buf.length >= need) return e;
    // Outside Node's shared pool: a buffer may live as long as the node.
    const buf = Buffer.allocUnsafeSlow(Math.max(need, MIN_ENCODE_BUFFER));
    const mine: EncodeBuffer = {
      buf,
      done: () => {
        if (this.free.length < MAX_FREE_BUFFERS) this.free.push(mine);
      },
    };
    return mine;
  }

  /** A datagram from the handoff port: checked, then run through the datapath. */
  receive(bytes: Uint8Array): void {
    const c = this.opts.counters;
    const r = decodeHandoff(bytes, this.opts.key, this.opts.vnetHdrLen);
    if (!r.ok) {
      c[C.handoff_rejected] += 1;
      return;
    }
    const h = r.header;
    if (h.node === this.opts.nodeId) return;
    const now = this.opts.clock();
    let s = this.senders.get(h.node);
    if (s === undefined) {
      if (this.senders.size >= MAX_SENDERS) this.senders.delete(this.senders.keys().next().value!);
      const rate = this.opts.ratePerPeer;
      s = { epoch: h.epoch, window: new ReplayWindow(REPLAY_WINDOW), bucket: rate > 0 ? new TokenBucket(rate / 1000, this.burst) : null };
      this.senders.set(h.node, s);
    } else if (h.epoch > s.epoch) {
      // A restarted peer: its sequence starts again; its rate budget does not.
      s.epoch = h.epoch;
      s.window = new ReplayWindow(REPLAY_WINDOW);
    }
    if (h.epoch < s.epoch || s.window.accept(h.seq) !== ReplayVerdict.Accept) {
      c[C.handoff_rejected] += 1;
      return;
    }
    if (s.bucket !== null && !s.bucket.take(now)) {
      c[C.handoff_rate_limited] += 1;
      return;
    }
    c[C.handoff_received] += 1;
    this.opts.input(r.slot);
  }

}

/** One slot: a virtio header plus the largest packet (as the packet loop's). */
const SLOT = 10 + 65535 + 1;

export interface HandoffParts {
  nodeId: number;
  epoch: number;
  key: Uint8Array;
  vnetHdrLen: number;
  counters: Float64Array;
  /** Packets a second each peer may hand to this node (sync.handoffRate); 0: no cap. */
  ratePerPeer: number;
  /** The datapath's stages (defrag, then filter): a handed packet goes through all of them. */
  stage: PacketStage;
  filter: FilterStage;
  ct: ConnTracker;
  bridge: SyncBridge;
  /** Writes an accepted packet (slot: virtio header and packet) into the device. */
  inject(bytes: Uint8Array, offset: number, length: number): void;
  clock?: () => number;
}

/**
 * Both ways of the handoff, in the datapath: the tracker's replica gate claims the packets
 * of other groups' connections and the filter sends them; what peers hand over runs
 * through the same stages, one slot at a time, and is written to the device when accepted.
 * The caller sets `handoff.transport`.
 */
export function wireHandoff(p: HandoffParts): { handoff: Handoff; stop(): void } {
  const arena = new Uint8Array(SLOT);
  const lengths = new Int32Array(1);
  const verdicts = new Uint8Array(1);
  const input = new BatchProcessor(arena, SLOT, lengths, verdicts, p.counters, p.vnetHdrLen, p.stage);
  const clock = p.clock ?? datapathClock;
  const handoff = new Handoff({
    nodeId: p.nodeId, epoch: p.epoch, key: p.key, vnetHdrLen: p.vnetHdrLen, counters: p.counters, ratePerPeer: p.ratePerPeer, clock,
    input: (slot) => {
      if (slot.length > SLOT) return;
      arena.set(slot);
      lengths[0] = slot.length;
      p.filter.fromPeer = true;
      // Handed over by a peer: the interface it entered that peer by is not known here.
      const inputIf = p.filter.inputIf;
      p.filter.inputIf = 0;
      try {
        input.process(1, clock());
      } finally {
        p.filter.fromPeer = false;
        p.filter.inputIf = inputIf;
      }
      if (verdicts[0] === SlotVerdict.Forward) p.inject(arena, 0, slot.length);
    },
  });
  p.filter.handoff = (slot) => handoff.send(slot);
  p.ct.replicaGate = (e) => p.filter.fromPeer || p.bridge.handsOff(e);
  return {
    handoff,
    stop: () => {
      p.ct.replicaGate = null;
      p.filter.handoff = null;
      handoff.transport?.close();
      handoff.transport = undefined;
    },
  };
}

/** The handoff socket on the sync segment: multicast group, or unicast peers (sync.peers). */
export function udpHandoffTransport(
  t: { mode: 'multicast'; group: string; ifaceAddr: string } | { mode: 'unicast'; bindAddr: string; peers: string[] },
  port: number,
  onMessage: (bytes: Uint8Array) => void,
): HandoffTransport {
  const local = t.mode === 'multicast' ? t.ifaceAddr : t.bindAddr;
  const v6 = local.includes(':');
  const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
  sock.on('message', (msg) => onMessage(msg));
  // A send error is counted by the caller; a socket error must not kill the datapath thread.
  sock.on('error', () => undefined);
  sock.bind(port, t.mode === 'multicast' ? undefined : local, () => {
    if (t.mode !== 'multicast') return;
    sock.addMembership(t.group, local);
    sock.setMulticastInterface(local);
    sock.setMulticastTTL(1);
    sock.setMulticastLoopback(false);
  });
  sock.unref();
  const dsts = t.mode === 'multicast' ? [t.group] : t.peers;
  return {
    send: (d, done) => {
      // A send error comes to the callback (not the socket's 'error'); the datagram is lost either way.
      if (dsts.length === 1) {
        sock.send(d, port, dsts[0]!, done);
        return;
      }
      let left = dsts.length;
      if (left === 0) done();
      for (const dst of dsts) sock.send(d, port, dst, () => --left === 0 && done());
    },
    close: () => sock.close(),
  };
}
