/**
 * DistTransport over the sync interface: UDP datagrams to the multicast group (or to each
 * unicast peer) and TCP on the same address and port for fetches. Multicast follows the
 * platform notes in DESIGN §8: bind to the group with reuseAddr, join on the interface
 * address, send from it, TTL 1 (the sync segment only). Our own datagrams may loop back;
 * the distributor drops them by node id.
 *
 * A TCP exchange is one length-prefixed frame each way (u32 BE length, then the frame);
 * anything larger than MAX_FRAME_BYTES or slower than the timeout closes the connection.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { MAX_FRAME_BYTES } from './codec.js';
import type { DistTransport } from './transport.js';

export interface UdpTransportOptions {
  /** Our address on the sync interface: TCP listens here, multicast is sent from here. */
  address: string;
  port: number;
  /** Multicast group, when `peers` is empty. */
  group?: string;
  /** Unicast peer addresses instead of multicast. */
  peers?: string[];
  /** Idle time after which a fetch exchange is closed by the server. */
  serverTimeoutMs?: number;
}

export class UdpTcpTransport implements DistTransport {
  private datagramFn?: (bytes: Uint8Array, from: string) => void;
  private serveFn?: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>;
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly opts: UdpTransportOptions,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
  ) {}

  static async open(opts: UdpTransportOptions): Promise<UdpTcpTransport> {
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

  serve(fn: (bytes: Uint8Array, from: string) => Promise<Uint8Array | undefined>): void {
    this.serveFn = fn;
  }

  request(to: string, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: to, port: this.opts.port, localAddress: this.opts.address });
      const timer = setTimeout(() => s.destroy(new Error(`fetch from ${to}: no answer within ${timeoutMs} ms`)), timeoutMs);
      readOneFrame(s, (err, frame) => {
        clearTimeout(timer);
        s.destroy();
        if (err) reject(err);
        else resolve(frame!);
      });
      s.on('connect', () => s.write(lengthPrefixed(bytes)));
    });
  }

  private onConnection(s: net.Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.setTimeout(this.opts.serverTimeoutMs ?? 5000, () => s.destroy());
    readOneFrame(s, (err, frame) => {
      if (err || !this.serveFn) return void s.destroy();
      this.serveFn(frame!, s.remoteAddress ?? '')
        .then((answer) => (answer ? s.end(lengthPrefixed(answer)) : s.destroy()))
        .catch(() => s.destroy());
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.tcp.close(() => r()));
    await new Promise<void>((r) => this.udp.close(() => r()));
  }
}

function lengthPrefixed(bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(bytes.byteLength, 0);
  return Buffer.concat([head, bytes]);
}

/** Collects one length-prefixed frame from `s`, then calls `done` once. */
function readOneFrame(s: net.Socket, done: (err: Error | undefined, frame?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let have = 0;
  let need = -1;
  let finished = false;
  const finish = (err: Error | undefined, frame?: Buffer): void => {
    if (finished) return;
    finished = true;
    done(err, frame);
  };
  s.on('data', (c: Buffer) => {
    chunks.push(c);
    have += c.length;
    if (need < 0 && have >= 4) {
      need = Buffer.concat(chunks).readUInt32BE(0);
      if (need > MAX_FRAME_BYTES) return finish(new Error(`frame of ${need} bytes is too large`));
    }
    if (need >= 0 && have >= 4 + need) finish(undefined, Buffer.concat(chunks).subarray(4, 4 + need));
  });
  s.on('error', (e) => finish(e));
  s.on('close', () => finish(new Error('connection closed before a whole frame arrived')));
}
