/**
 * Real implementations of failover's ports: the clock, the raw VRRP socket, AF_PACKET
 * frames, interface MACs and link state. Control-plane code on the main thread.
 */
import { readFileSync } from 'node:fs';
import { native, openPacketSocket, openRawIp, closeFd } from '../native/index.js';
import { formatIp, parseIp, vrrpGroup, IPPROTO_VRRP, type Clock, type FrameSender, type IpBytes, type LinkStateSource, type PacketSender, type TimerHandle } from '../../failover/index.js';

/**
 * Node's timers are scheduled against the event loop's cached time and may fire up to a
 * millisecond before `at` by performance.now(). The Clock contract is "at or after", and
 * the VRRP router ignores a timer that fires early (it takes it for a stale one), so an
 * early wake-up re-arms for the remainder instead of calling fn.
 *
 * A precise timer sleeps until PRECISE_SPIN_MS before `at` and then checks the time on
 * every turn of the event loop (setImmediate, I/O still served) until `at`: setTimeout's
 * millisecond granularity and rounding made a backup's Master_Down_Timer run 1.2 ms late
 * (median over lab kill drills); this brings it to the loop's own delay.
 */
interface RealTimer {
  t?: NodeJS.Timeout;
  i?: NodeJS.Immediate;
}

const PRECISE_SPIN_MS = 1.5;

export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (at, fn, opts) => {
    const h: RealTimer = {};
    const precise = opts?.precise === true;
    const fire = (): void => {
      h.t = undefined;
      h.i = undefined;
      const left = at - performance.now();
      if (left <= 0) fn();
      else if (precise && left <= PRECISE_SPIN_MS) h.i = setImmediate(fire);
      else h.t = setTimeout(fire, precise ? Math.floor(left - PRECISE_SPIN_MS + 1) : Math.ceil(left));
    };
    fire0(h, fire, at, precise);
    return h;
  },
  clearTimer: (h: TimerHandle) => {
    const r = h as RealTimer;
    if (r.t) clearTimeout(r.t);
    if (r.i) clearImmediate(r.i);
    r.t = undefined;
    r.i = undefined;
  },
};

/** Arms the first wake-up without running fn synchronously (a timer never fires inside setTimer). */
function fire0(h: RealTimer, fire: () => void, at: number, precise: boolean): void {
  const left = at - performance.now();
  if (precise && left <= PRECISE_SPIN_MS) h.i = setImmediate(fire);
  else h.t = setTimeout(fire, Math.max(0, precise ? Math.floor(left - PRECISE_SPIN_MS + 1) : Math.ceil(left)));
}

export interface VrrpReceiver {
  receiveIpv4(datagram: Uint8Array, length: number): void;
  receive(payload: Uint8Array, dgram: { src: IpBytes; dst: IpBytes; ttl: number }, offset: number, length: number): void;
}

/** One raw IPPROTO_VRRP socket on the VRRP interface: sends adverts, feeds received ones. */
export class RawVrrpSocket implements PacketSender {
  /** Also used by the advertisement sender thread (advert-sender.ts), which sends on it. */
  readonly fd: number;
  private readonly rx = new Uint8Array(2048);
  private watcher?: { close(): void };
  private receiver?: VrrpReceiver;

  constructor(
    readonly family: 4 | 6,
    ifname: string,
    unicast: boolean,
  ) {
    this.fd = openRawIp(family, IPPROTO_VRRP, ifname, unicast ? null : formatIp(vrrpGroup(family)));
  }

  listen(receiver: VrrpReceiver): void {
    this.receiver = receiver;
    this.watcher = native().watchReadable(this.fd, () => this.drainReceived());
  }

  /** Throws the socket's error: the instance counts it and demotes after repeated ones. */
  sendAdvert(payload: Uint8Array, dst: IpBytes): void {
    native().sendTo(this.fd, this.family, payload, 0, payload.length, formatIp(dst));
  }

  drainReceived(): void {
    const r = this.receiver;
    if (!r) return;
    for (let i = 0; i < 256; i++) {
      const got = native().recvFrom(this.fd, this.rx);
      if (!got) return;
      if (this.family === 4) r.receiveIpv4(this.rx, got.length);
      else {
        const src = parseIp(got.from);
        const dst = parseIp(got.to);
        if (src && dst) r.receive(this.rx, { src, dst, ttl: got.hopLimit }, 0, got.length);
      }
    }
  }

  close(): void {
    this.watcher?.close();
    closeFd(this.fd);
  }
}

/**
 * Ethernet frames out of named interfaces through one AF_PACKET socket each.
 *
 * Open the sockets with prepare() at start, not at the first takeover: binding an AF_PACKET
 * socket to an interface waits for an RCU grace period (the kernel re-registers its packet
 * hook), which took 28-37 ms on the loaded lab host and delayed the first gratuitous ARP of
 * a node's first takeover by as much (docs/failover.md "Takeover phases").
 */
export class PacketFrameSender implements FrameSender {
  private readonly fds = new Map<string, number>();

  constructor(private readonly open: (ifname: string) => number = (ifname) => openPacketSocket(ifname, false)) {}

  /** Opens the sockets of these interfaces now; one that cannot be opened is retried at its first send. */
  prepare(ifnames: Iterable<string>): void {
    for (const i of ifnames) {
      try {
        this.fdOf(i);
      } catch {
        // Not there yet (an interface that appears later): sendFrame opens it.
      }
    }
  }

  sendFrame(ifname: string, frame: Uint8Array): void {
    try {
      native().writePacket(this.fdOf(ifname), frame, 0, frame.length);
    } catch {
      // Announcements are repeated; a lost one costs a neighbour cache refresh, not state.
    }
  }

  private fdOf(ifname: string): number {
    let fd = this.fds.get(ifname);
    if (fd === undefined) {
      fd = this.open(ifname);
      this.fds.set(ifname, fd);
    }
    return fd;
  }

  close(): void {
    for (const fd of this.fds.values()) closeFd(fd);
    this.fds.clear();
  }
}

export function macOf(ifname: string): Uint8Array | undefined {
  try {
    return native().interfaceInfo(ifname).mac;
  } catch {
    return undefined;
  }
}

/** Link state from sysfs carrier + operstate, polled (cheap; netlink would need a socket of its own). */
export class SysfsLinkState implements LinkStateSource {
  private readonly state = new Map<string, boolean>();
  private readonly listeners: ((ifname: string, up: boolean) => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly ifnames: string[],
    private readonly pollMs = 50,
  ) {
    for (const i of ifnames) this.state.set(i, SysfsLinkState.read(i));
  }

  static read(ifname: string): boolean {
    try {
      const oper = readFileSync(`/sys/class/net/${ifname}/operstate`, 'utf8').trim();
      const carrier = readFileSync(`/sys/class/net/${ifname}/carrier`, 'utf8').trim();
      return carrier === '1' && oper !== 'down' && oper !== 'lowerlayerdown';
    } catch {
      return false;
    }
  }

  isUp(ifname: string): boolean {
    return this.state.get(ifname) ?? SysfsLinkState.read(ifname);
  }

  onChange(cb: (ifname: string, up: boolean) => void): () => void {
    this.listeners.push(cb);
    this.timer ??= setInterval(() => this.poll(), this.pollMs);
    return () => {
      const i = this.listeners.indexOf(cb);
      if (i >= 0) this.listeners.splice(i, 1);
      if (this.listeners.length === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  private poll(): void {
    for (const i of this.ifnames) {
      const up = SysfsLinkState.read(i);
      if (up !== this.state.get(i)) {
        this.state.set(i, up);
        for (const l of this.listeners) l(i, up);
      }
    }
  }
}
