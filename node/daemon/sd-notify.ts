/**
 * systemd's service notification protocol (sd_notify(3)), without libsystemd: newline-
 * separated KEY=VALUE datagrams to the unix datagram socket named by $NOTIFY_SOCKET (a
 * path, or '@name' for an abstract socket). Node has no unix datagram sockets, so the send
 * is one call into our addon (node/native/notify.c).
 *
 * Why not `systemd-notify` from a child process: with the unit's NotifyAccess=main (the
 * default, and the safe one) systemd drops messages from any PID but the main one; with
 * NotifyAccess=all it still attributes them by the sender's cgroup, which a short-lived
 * child can leave before systemd reads the message (a documented race). A fork per
 * watchdog ping would also be a fork of a process holding the whole ruleset.
 *
 * Without $NOTIFY_SOCKET (not under systemd, or Type=simple) every call does nothing.
 */
import { native } from '../native/index.js';

export type NotifySend = (socketPath: string, message: string) => void;

export interface NotifyLog {
  warn(obj: object, msg: string): void;
}

const nativeSend: NotifySend = (socketPath, message) => {
  const b = native();
  if (!b.unixDgramSend) throw new Error('the native addon predates unixDgramSend: rebuild it (npm run install)');
  b.unixDgramSend(socketPath, Buffer.from(message, 'utf8'));
};

export class SystemdNotifier {
  /** The socket, or undefined when not run by systemd with notification. */
  readonly socket: string | undefined;
  /** Ping interval for WATCHDOG=1 (half of WatchdogSec, as sd_watchdog_enabled(3) advises); undefined: no watchdog. */
  readonly watchdogIntervalMs: number | undefined;
  private failures = 0;
  /** READY=1 went out: the service is started, and a reload may be reported. */
  private readySent = false;
  private stoppingSent = false;
  /** The last STATUS= sent, repeated with the READY=1 that ends a reload. */
  private lastStatus: string | undefined;

  constructor(
    env: NodeJS.ProcessEnv = process.env,
    private readonly log?: NotifyLog,
    private readonly send: NotifySend = nativeSend,
    pid = process.pid,
  ) {
    const s = env.NOTIFY_SOCKET;
    if (s !== undefined && s !== '') {
      // vsock:... and other transports exist for VMs; a node runs on the host's systemd.
      if (s.startsWith('/') || (s.startsWith('@') && s.length > 1)) this.socket = s;
      else log?.warn({ notifySocket: s }, 'NOTIFY_SOCKET is neither a path nor an abstract socket name: systemd notifications off');
    }
    const usec = Number(env.WATCHDOG_USEC);
    // WATCHDOG_PID, when set, names the process meant (not a child that inherited the variables).
    const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
    if (this.socket && forUs && Number.isInteger(usec) && usec > 0) this.watchdogIntervalMs = Math.max(1, Math.floor(usec / 2000));
  }

  /**
   * Takes the variables out of the environment, as sd_notify's unset_environment does:
   * processes the node starts (vrrp.notify scripts, the command helper) must not speak for
   * it. Call once the notifier is built.
   */
  static unsetEnvironment(env: NodeJS.ProcessEnv = process.env): void {
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
  }

  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** Sends one message; a failure is logged (the first, then every 100th), never thrown: the node runs on. */
  notify(fields: Record<string, string | number>): boolean {
    if (!this.socket) return false;
    // A value with a newline would start another field: systemd reads line by line.
    if (typeof fields.STATUS === 'string') this.lastStatus = fields.STATUS;
    const message = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`).join('\n');
    try {
      this.send(this.socket, message);
      return true;
    } catch (err) {
      if (this.failures++ % 100 === 0) this.log?.warn({ err: (err as Error).message, socket: this.socket, failures: this.failures }, 'systemd notification failed');
      return false;
    }
  }

  ready(status: string): boolean {
    this.readySent = true;
    return this.notify({ READY: 1, STATUS: status, MAINPID: process.pid });
  }

  /**
   * RELOADING=1 before a SIGHUP's reload, with the CLOCK_MONOTONIC time in microseconds
   * that systemd 253+ requires beside it (sd_notify(3): it tells a reload request from a
   * stale message). process.hrtime reads libuv's uv_hrtime, which is CLOCK_MONOTONIC on
   * Linux: the clock systemd compares with. Only for a started service that is not
   * stopping: before READY=1 systemd has no reload to track, and a READY=1 after it would
   * announce a readiness the node does not have yet.
   */
  reloading(status: string, monotonicUsec: bigint = process.hrtime.bigint() / 1000n): boolean {
    if (!this.readySent || this.stoppingSent) return false;
    const before = this.lastStatus;
    const sent = this.notify({ RELOADING: 1, STATUS: status, MONOTONIC_USEC: monotonicUsec.toString() });
    this.lastStatus = before;
    return sent;
  }

  /** READY=1 once the reload is over (systemd leaves "reloading"), with the status from before it. */
  reloaded(): boolean {
    if (!this.readySent || this.stoppingSent) return false;
    return this.notify({ READY: 1, STATUS: this.lastStatus ?? 'ready' });
  }

  status(status: string): boolean {
    return this.notify({ STATUS: status });
  }

  /** STOPPING=1, once: a second stop request (a signal during a fail-stop) adds nothing. */
  stopping(status: string): boolean {
    if (this.stoppingSent) return false;
    this.stoppingSent = true;
    return this.notify({ STOPPING: 1, STATUS: status });
  }

  watchdog(): boolean {
    return this.notify({ WATCHDOG: 1 });
  }
}

/** What READY waits for: the VRRP readiness (readiness.ts), or nothing. */
export interface ReadySource {
  readonly inSync: boolean;
  onChange(cb: (inSync: boolean) => void): () => void;
  /** The reason it is not ready, for STATUS=. */
  readonly reason?: string;
}

/**
 * READY=1 once the node started and may run VRRP (state sync has the whole table, the
 * ruleset is the cluster's: readiness.ts), so `systemctl start hafw` returns, and units
 * ordered after hafw start, only when this node could take the VIPs; a rolling restart
 * of a pair that waits for each `systemctl restart` never takes both nodes out of sync.
 * Until then STATUS= says what it waits for; later losses of readiness show in STATUS=.
 * Returns the unsubscribe.
 */
export function reportReadiness(n: SystemdNotifier, source: ReadySource | undefined, describe: () => string): () => void {
  if (!source) {
    n.ready(describe());
    return () => undefined;
  }
  let sentReady = false;
  const update = (inSync: boolean): void => {
    if (inSync && !sentReady) {
      sentReady = true;
      n.ready(describe());
    } else n.status(inSync ? describe() : `waiting: not ready for VRRP (${source.reason ?? 'not in sync'})`);
  };
  const off = source.onChange(update);
  update(source.inSync);
  return off;
}

/**
 * One SIGHUP's reload framed for systemd: RELOADING=1 before it, READY=1 after it (also
 * when the reload refused a bad file: the node runs on with what it had, and systemd must
 * not stay in "reloading"). Reloads run one at a time, so two quick SIGHUPs give two
 * RELOADING/READY pairs rather than interleaved ones. Returns the function to call per SIGHUP.
 */
export function reloadWithNotify(n: SystemdNotifier, reload: () => Promise<void>): () => Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  return () => {
    const run = chain.then(async () => {
      n.reloading('reloading: ruleset file and management listener certificate');
      try {
        await reload();
      } finally {
        n.reloaded();
      }
    });
    // A failed reload must not skip the ones queued after it.
    chain = run.catch(() => undefined);
    return run;
  };
}

/** WATCHDOG=1 from the control thread's event loop: a stalled loop stops the pings and systemd restarts the node. */
export function startWatchdog(n: SystemdNotifier, healthy: () => boolean): NodeJS.Timeout | undefined {
  if (n.watchdogIntervalMs === undefined) return undefined;
  const t = setInterval(() => {
    // A node failing stop says nothing more: its stop must finish, or systemd kills it.
    if (healthy()) n.watchdog();
  }, n.watchdogIntervalMs);
  t.unref();
  return t;
}
