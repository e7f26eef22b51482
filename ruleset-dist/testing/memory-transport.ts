/**
 * An in-memory network for protocol tests: datagrams are delivered after a random delay
 * (so they arrive reordered) and a seeded share of them is lost or duplicated; fetches
 * reach the addressed node's server directly, unless that node is down. Delays run on the
 * `clock` given (a VirtualClock: no wall-clock time passes), else on real timers.
 */
import type { DistTransport, StreamGate } from '../transport.js';
import { Rng } from '../../inet/index.js';

interface MemoryNetOptions {
  /** Share of datagrams dropped, 0..1. */
  loss?: number;
  /** Share of datagrams delivered twice. */
  duplicate?: number;
  /** Maximum extra delivery delay in ms (uniform), which reorders datagrams. */
  jitterMs?: number;
  /** Time a fetch takes to be answered (default 1 ms). */
  fetchDelayMs?: number;
  seed?: number;
  /** Schedules deliveries (default: setTimeout). */
  clock?: { after(ms: number, fn: () => void): unknown };
}

export class MemoryNet {
  readonly nodes = new Map<string, MemoryTransport>();
  private readonly rng: Rng;
  delivered = 0;
  lost = 0;

  private readonly clock: { after(ms: number, fn: () => void): unknown };

  constructor(public opts: MemoryNetOptions = {}) {
    this.rng = new Rng(opts.seed ?? 1);
    this.clock = opts.clock ?? { after: (ms, fn) => setTimeout(fn, ms) };
  }

  /** Calls `fn` after `ms` on the network's clock. */
  after(ms: number, fn: () => void): void {
    this.clock.after(ms, fn);
  }

  /** Deterministic per seed. */
  random(): number {
    return this.rng.next();
  }

  transport(address: string): MemoryTransport {
    const t = new MemoryTransport(this, address);
    this.nodes.set(address, t);
    return t;
  }

  /** Delivers to everyone but the sender (and down nodes), with loss, duplication and jitter. */
  send(from: string, bytes: Uint8Array): void {
    for (const [addr, t] of this.nodes) {
      if (addr === from || t.down) continue;
      if (this.random() < (this.opts.loss ?? 0)) {
        this.lost++;
        continue;
      }
      const copies = this.random() < (this.opts.duplicate ?? 0) ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        const copy = Uint8Array.from(bytes);
        this.after(Math.floor(this.random() * (this.opts.jitterMs ?? 0)), () => {
          if (t.down) return;
          this.delivered++;
          t.deliver(copy, from);
        });
      }
    }
  }

  /** Injects raw bytes as if `from` sent them (forgeries, garbage). */
  inject(to: string, bytes: Uint8Array, from = '10.9.9.9'): void {
    this.nodes.get(to)?.deliver(bytes, from);
  }
}

class MemoryTransport implements DistTransport {
  down = false;
  /** Refuse fetch connections (a firewalled TCP port) while datagrams still flow. */
  refuseFetch = false;
  /** This node's datagrams are lost (its fetch server still answers). */
  muteDatagrams = false;
  /** Fetches sent to this node get no answer: the asker gives up after its timeout (a dropped SYN, a hung peer). */
  blackholeFetch = false;
  private datagramFn?: (bytes: Uint8Array, from: string) => void;
  private serveFn?: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>;
  private serveGate?: StreamGate;
  /** Every datagram this node sent, for tests that replay them. */
  readonly sent: Uint8Array[] = [];

  constructor(
    private readonly net: MemoryNet,
    readonly address: string,
  ) {}

  broadcast(bytes: Uint8Array): void {
    if (this.down) return;
    this.sent.push(Uint8Array.from(bytes));
    if (!this.muteDatagrams) this.net.send(this.address, bytes);
  }

  onDatagram(fn: (bytes: Uint8Array, from: string) => void): void {
    this.datagramFn = fn;
  }

  deliver(bytes: Uint8Array, from: string): void {
    this.datagramFn?.(bytes, from);
  }

  serve(fn: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>, gate: StreamGate): void {
    this.serveFn = fn;
    this.serveGate = gate;
  }

  async request(to: string, bytes: Uint8Array, timeoutMs: number, gate: StreamGate): Promise<Uint8Array> {
    const t = this.net.nodes.get(to);
    if (!t || t.down || !t.serveFn || !t.serveGate || this.down || t.refuseFetch) throw new Error(`connect ${to}: unreachable`);
    if (t.blackholeFetch) {
      await new Promise<void>((r) => this.net.after(timeoutMs, r));
      throw new Error(`fetch from ${to}: no answer within ${timeoutMs} ms`);
    }
    await new Promise<void>((r) => this.net.after(this.net.opts.fetchDelayMs ?? 1, r));
    passGate(t.serveGate, bytes);
    const answer = await t.serveFn(Uint8Array.from(bytes), this.address);
    if (!answer) throw new Error('connection closed without an answer');
    passGate(gate, answer);
    return answer;
  }

  async close(): Promise<void> {
    this.down = true;
    this.net.nodes.delete(this.address);
  }
}

/** What the TCP transport does with a message: the head through the gate, then exactly its length. */
function passGate(gate: StreamGate, bytes: Uint8Array): void {
  if (bytes.length < gate.headBytes) throw new Error('connection closed before a whole message arrived');
  if (gate.headBytes + gate.check(bytes.subarray(0, gate.headBytes)) !== bytes.length) throw new Error('message length does not match its head');
}
