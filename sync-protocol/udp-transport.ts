/**
 * UDP shell for the sync protocol: multicast on the sync interface (default) or unicast to a
 * list of peers for networks without multicast. Holds no protocol logic.
 *
 * Multicast follows DESIGN §8: a socket bound to 0.0.0.0 would receive every group joined on
 * that port by anyone on the host (IP_MULTICAST_ALL), and one bound to a unicast address
 * receives no multicast, so bind to the group address with reuseAddr, join with
 * addMembership(group, ifaceAddr), send with setMulticastInterface(ifaceAddr), TTL 1 (the
 * sync segment is one link). Local loop-back can still deliver our own datagrams: the
 * endpoint drops them by node id.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface UdpTransportOptions {
  mode: 'multicast' | 'unicast';
  port: number;
  /** Multicast group (e.g. 239.255.72.70 or ff02::4846). */
  group?: string;
  /** Address of the sync interface: required for multicast (the interface is always named). */
  ifaceAddr?: string;
  /** Unicast mode: local address to bind (default the wildcard of the family). */
  bindAddr?: string;
  /** Unicast mode: where to send. */
  peers?: { address: string; port: number }[];
  /** Deliver our own multicast back on this host (only useful for single-host tests). */
  loopback?: boolean;
  /**
   * SO_RCVBUF / SO_SNDBUF in bytes (default 4 MiB; the kernel caps them at net.core.rmem_max /
   * wmem_max). The 208 KiB default holds about 150 full datagrams: a worker descheduled for
   * 15 ms at 10,000 messages/s overflows it, and every overflow is a gap to NACK and resend.
   */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

export class UdpTransport {
  sendErrors = 0;
  /** Datagrams handed to the socket whose send has not completed yet. */
  private inFlight = 0;
  private readonly drained: (() => void)[] = [];
  private constructor(private readonly sock: Socket, private readonly opts: UdpTransportOptions) {}

  static open(opts: UdpTransportOptions, onMessage: (msg: Buffer, from: RemoteInfo) => void): Promise<UdpTransport> {
    const v6 = isIPv6(opts.group ?? opts.bindAddr ?? opts.peers?.[0]?.address ?? '');
    const sock = createSocket({
      type: v6 ? 'udp6' : 'udp4',
      reuseAddr: opts.mode === 'multicast',
      recvBufferSize: opts.recvBufferSize ?? 4 << 20,
      sendBufferSize: opts.sendBufferSize ?? 4 << 20,
    });
    const t = new UdpTransport(sock, opts);
    sock.on('message', onMessage);
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      const onListening = () => {
        try {
          if (opts.mode === 'multicast') {
            if (opts.group === undefined || opts.ifaceAddr === undefined) throw new Error('multicast needs group and ifaceAddr');
            sock.addMembership(opts.group, opts.ifaceAddr);
            sock.setMulticastInterface(opts.ifaceAddr);
            sock.setMulticastTTL(1);
            sock.setMulticastLoopback(opts.loopback ?? false);
          }
          sock.off('error', reject);
          sock.on('error', () => t.sendErrors++);
          resolve(t);
        } catch (e) {
          sock.close();
          reject(e as Error);
        }
      };
      if (opts.mode === 'multicast') sock.bind({ port: opts.port, address: opts.group, exclusive: false }, onListening);
      else sock.bind({ port: opts.port, address: opts.bindAddr }, onListening);
    });
  }

  /** Local port (useful when bound to port 0). */
  get port(): number {
    return this.sock.address().port;
  }

  /** Sends one datagram to the group, or to every unicast peer. */
  send(buf: Uint8Array): void {
    const cb = (err: Error | null) => {
      if (err) this.sendErrors++;
      if (--this.inFlight === 0) for (const w of this.drained.splice(0)) w();
    };
    this.inFlight += this.opts.mode === 'multicast' ? 1 : (this.opts.peers ?? []).length;
    if (this.opts.mode === 'multicast') this.sock.send(buf, this.opts.port, this.opts.group, cb);
    else for (const p of this.opts.peers ?? []) this.sock.send(buf, p.port, p.address, cb);
  }

  setPeers(peers: { address: string; port: number }[]): void {
    this.opts.peers = peers;
  }

  /**
   * Closes the socket once the datagrams already handed to send() have gone out (a node's
   * last words, the Leaving ALIVE, must not be cancelled by the close), waiting at most 500 ms.
   */
  async close(): Promise<void> {
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.drained.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}
