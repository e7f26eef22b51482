/**
 * DistTransport over the sync interface: UDP datagrams to the multicast group (or to each
 * unicast peer) and TCP on the same address and port for fetches. Multicast follows the
 * platform notes in DESIGN §8: bind to the group with reuseAddr, join on the interface
 * address, send from it, TTL 1 (the sync segment only). Our own datagrams may loop back;
 * the distributor drops them by node id.
 *
 * A TCP exchange is one stream frame each way (codec.ts). The fetch server bounds what a
 * connection costs before anyone is authenticated: at most `maxConnections` at once (more
 * are closed at accept), an absolute deadline from accept that arriving bytes do not extend
 * (a peer trickling one byte a second holds a slot until the deadline, not forever), and the gate reads the
 * fixed-size head first and refuses it (closing the connection) before any body is read.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { DistTransport, FetchServerCounters, StreamGate } from './transport.js';

export interface UdpTcpTransportOptions {
  /** Our address on the sync interface: TCP listens here, multicast is sent from here. */
  address: string;
  port: number;
  /** Multicast group, when `peers` is empty. */
  group?: string;
  /** Unicast peer addresses instead of multicast. */
  peers?: string[];
  /** Fetch connections served at once; more are closed as they arrive (default 8). */
  maxConnections?: number;
  /** A fetch connection is closed this long after it was accepted, whatever it sends (default 5000 ms). */
  connectionDeadlineMs?: number;
}

export class UdpTcpTransport implements DistTransport {
  private datagramFn?: (bytes: Uint8Array, from: string) => void;
  private serveFn?: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>;
  private serveGate?: StreamGate;
  private readonly sockets = new Set<net.Socket>();
  readonly serverCounters: FetchServerCounters = { open: 0, refusedLimit: 0, closedDeadline: 0, refusedHead: 0 };
  private constructor(
    private readonly opts: UdpTcpTransportOptions,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
  ) {}

  static async open(opts: UdpTcpTransportOptions): Promise<UdpTcpTransport> {
    const unicast = (opts.peers?.length ?? 0) > 0;
    if (!unicast && !opts.group) throw new Error('ruleset distribution needs a multicast group or unicast peers');
    const udp = dgram.createSocket({ type: opts.address.includes(':') ? 'udp6' : 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ port: opts.port, address: unicast ? opts.address : opts.group }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    if (!unicast) {
      udp.addMembership(opts.group!, opts.address);
      udp.setMulticastInterface(opts.address);
      udp.setMulticastTTL(1);
    }
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', (e) => {
        udp.close();
        reject(e);
      });
      tcp.listen({ port: opts.port, host: opts.address }, () => resolve());
    });
    const t = new UdpTcpTransport(opts, udp, tcp);
    udp.on('message', (msg, rinfo) => t.datagramFn?.(msg, rinfo.address));
    udp.on('error', () => undefined);
    tcp.on('connection', (s) => t.onConnection(s));
    return t;
  }

  broadcast(bytes: Uint8Array): void {
    const targets = this.opts.peers?.length ? this.opts.peers : [this.opts.group!];
    for (const to of targets) this.udp.send(bytes, this.opts.port, to, () => undefined);
  }

  onDatagram(fn: (bytes: Uint8Array, from: string) => void): void {
    this.datagramFn = fn;
  }

  serve(fn: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>, gate: StreamGate): void {
    this.serveFn = fn;
    this.serveGate = gate;
  }

  request(to: string, bytes: Uint8Array, timeoutMs: number, gate: StreamGate): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: to, port: this.opts.port, localAddress: this.opts.address });
      const timer = setTimeout(() => s.destroy(new Error(`fetch from ${to}: no answer within ${timeoutMs} ms`)), timeoutMs);
      readMessage(s, gate, (err, frame) => {
        clearTimeout(timer);
        s.destroy();
        if (err) reject(err);
        else resolve(frame!);
      });
      s.on('connect', () => s.write(bytes));
    });
  }

  private onConnection(s: net.Socket): void {
    const c = this.serverCounters;
    s.on('error', () => undefined);
    if (!this.serveFn || !this.serveGate) return void s.destroy();
    if (this.sockets.size >= (this.opts.maxConnections ?? 8)) {
      c.refusedLimit++;
      s.destroy();
      return;
    }
    this.sockets.add(s);
    c.open = this.sockets.size;
    const deadline = setTimeout(() => {
      c.closedDeadline++;
      s.destroy();
    }, this.opts.connectionDeadlineMs ?? 5000);
    s.on('close', () => {
      clearTimeout(deadline);
      this.sockets.delete(s);
      c.open = this.sockets.size;
    });
    const serve = this.serveFn;
    readMessage(s, this.serveGate, (err, frame, refused) => {
      if (refused) c.refusedHead++;
      if (err) return void s.destroy();
      serve(frame!, s.remoteAddress ?? '')
        .then((answer) => (answer ? s.end(answer) : s.destroy()))
        .catch(() => s.destroy());
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.tcp.close(() => r()));
    await new Promise<void>((r) => this.udp.close(() => r()));
  }
}

/**
 * Reads one message from `s`: the gate's fixed-size head first, which the gate checks and
 * turns into the number of bytes still to come; only then the body. Calls `done` once
 * (`refused` when the gate refused the head). Bytes past the message are a protocol error.
 */
function readMessage(s: net.Socket, gate: StreamGate, done: (err: Error | undefined, message?: Buffer, refused?: boolean) => void): void {
  let chunks: Buffer[] = [];
  let have = 0;
  let total = -1;
  let finished = false;
  const finish = (err: Error | undefined, message?: Buffer, refused = false): void => {
    if (finished) return;
    finished = true;
    chunks = [];
    done(err, message, refused);
  };
  s.on('data', (chunk: Buffer) => {
    if (finished) return void s.destroy();
    chunks.push(chunk);
    have += chunk.length;
    if (total < 0 && have >= gate.headBytes) {
      const head = Buffer.concat(chunks);
      chunks = [head];
      try {
        total = gate.headBytes + gate.check(head.subarray(0, gate.headBytes));
      } catch (err) {
        return finish(err as Error, undefined, true);
      }
    }
    if (total >= 0 && have > total) return finish(new Error('bytes past the end of the message'));
    if (total >= 0 && have === total) finish(undefined, Buffer.concat(chunks));
  });
  s.on('error', (e) => finish(e));
  s.on('close', () => finish(new Error('connection closed before a whole message arrived')));
}
