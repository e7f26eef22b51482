/**
 * Notify hooks: operator executables run on every state change, like keepalived's
 * notify scripts, but strictly one at a time and in order (a queue), each with a
 * timeout, their output logged. A hook that hangs or fails never blocks failover: the
 * state machine has already acted when hooks run.
 */

import { spawn } from 'node:child_process';

export interface NotifyHook {
  /** Absolute path of the executable (run directly, no shell). */
  path: string;
  /** Arguments placed before the state arguments. */
  args?: readonly string[];
  /** Per-hook timeout, ms; overrides the queue default. */
  timeoutMs?: number;
}

export interface NotifyEvent {
  /** Name of the virtual router / instance, for the hook's benefit. */
  instance: string;
  vrid: number;
  state: string;
  previous: string;
  reason: string;
  priority: number;
}

/** One hook run for one event: what became of the process (HookOutcome), and how long it took. */
export interface NotifyResult extends HookOutcome {
  hook: string;
  event: NotifyEvent;
  durationMs: number;
}

/** A pino-compatible subset, so node/ can pass its logger. */
export interface NotifyLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface NotifyQueueOptions {
  /** Default timeout per hook run, ms (default 10 000). */
  timeoutMs?: number;
  /** After the timeout SIGTERM is sent; SIGKILL follows this much later (default 1000). */
  killGraceMs?: number;
  /** Output kept per stream, bytes (default 16 KiB). */
  maxOutputBytes?: number;
  logger?: NotifyLogger;
  onResult?: (r: NotifyResult) => void;
  /** Extra environment (merged over process.env). */
  env?: Record<string, string>;
  /**
   * Runs one hook (default: runHook, in this process). A node passes one that runs it
   * from its small command helper process, so a hook never forks the big node process at
   * the moment it takes over.
   */
  spawner?: HookSpawner;
}

/** How to run one hook process: a timeout that kills its whole group, output capped. */
export interface HookRun {
  file: string;
  args: string[];
  env: Record<string, string | undefined>;
  timeoutMs: number;
  killGraceMs: number;
  maxOutputBytes: number;
}

/** What became of one hook process. */
export interface HookOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Spawn failure (ENOENT, EACCES...). */
  error?: string;
  stdout: string;
  stderr: string;
}

export type HookSpawner = (run: HookRun) => Promise<HookOutcome>;

/**
 * Hooks are called as `<path> <args...> <state> <previous> <reason>` with
 * HAFW_INSTANCE, HAFW_VRID, HAFW_STATE, HAFW_PREVIOUS_STATE, HAFW_REASON and
 * HAFW_PRIORITY in the environment.
 */
export class NotifyQueue {
  private readonly hooks: readonly NotifyHook[];
  private readonly opts: Required<Omit<NotifyQueueOptions, 'logger' | 'onResult' | 'env' | 'spawner'>> & NotifyQueueOptions;
  private readonly queue: NotifyEvent[] = [];
  private running: Promise<void> | undefined;

  constructor(hooks: readonly NotifyHook[], opts: NotifyQueueOptions = {}) {
    this.hooks = hooks;
    this.opts = { timeoutMs: 10_000, killGraceMs: 1_000, maxOutputBytes: 16 * 1024, ...opts };
  }

  /** Events waiting (not counting the one running). */
  get pending(): number { return this.queue.length; }

  notify(ev: NotifyEvent): void {
    if (this.hooks.length === 0) return;
    this.queue.push(ev);
    if (!this.running) this.running = this.drain();
  }

  /** Resolves once everything queued so far (and since) has run. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      for (let ev = this.queue.shift(); ev; ev = this.queue.shift()) {
        for (const h of this.hooks) {
          const r = await this.runOne(h, ev);
          this.report(r);
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  private report(r: NotifyResult): void {
    const ok = !r.error && !r.timedOut && r.exitCode === 0;
    const fields = {
      hook: r.hook, state: r.event.state, previous: r.event.previous, reason: r.event.reason,
      exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, error: r.error,
      durationMs: Math.round(r.durationMs), stdout: r.stdout, stderr: r.stderr,
    };
    if (ok) this.opts.logger?.info(fields, 'notify hook done');
    else this.opts.logger?.warn(fields, 'notify hook failed');
    this.opts.onResult?.(r);
  }

  private async runOne(h: NotifyHook, ev: NotifyEvent): Promise<NotifyResult> {
    const started = performance.now();
    const env = {
      ...process.env, ...this.opts.env,
      HAFW_INSTANCE: ev.instance, HAFW_VRID: String(ev.vrid), HAFW_STATE: ev.state,
      HAFW_PREVIOUS_STATE: ev.previous, HAFW_REASON: ev.reason, HAFW_PRIORITY: String(ev.priority),
    };
    const run: HookRun = {
      file: h.path, args: [...(h.args ?? []), ev.state, ev.previous, ev.reason], env,
      timeoutMs: h.timeoutMs ?? this.opts.timeoutMs, killGraceMs: this.opts.killGraceMs, maxOutputBytes: this.opts.maxOutputBytes,
    };
    const spawner = this.opts.spawner ?? runHook;
    let o: HookOutcome;
    try {
      o = await spawner(run);
    } catch (e) {
      o = { exitCode: null, signal: null, timedOut: false, error: (e as Error).message, stdout: '', stderr: '' };
    }
    return { hook: h.path, event: ev, ...o, durationMs: performance.now() - started };
  }
}

/** Runs one hook process here (the default spawner; also what a node's command helper calls). */
export function runHook(run: HookRun): Promise<HookOutcome> {
  const max = run.maxOutputBytes;
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let error: string | undefined;
    let settled = false;
    const child = spawn(run.file, run.args, {
      env: run.env, stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a timeout also stops what a shell script started
      // (a grandchild holding the output pipe would otherwise keep the hook "running").
      detached: true,
    });
    const signalGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig); // the group we created, by id
      } catch {
        child.kill(sig);
      }
    };
    const cap = (s: string, chunk: Buffer) => (s.length >= max ? s : s + chunk.toString('utf8', 0, Math.min(chunk.length, max - s.length)));
    child.stdout.on('data', (c: Buffer) => { stdout = cap(stdout, c); });
    child.stderr.on('data', (c: Buffer) => { stderr = cap(stderr, c); });
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), run.killGraceMs);
    }, run.timeoutMs);
    const finish = (exitCode: number | null, signal: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      resolve({ exitCode, signal, timedOut, ...(error !== undefined ? { error } : {}), stdout, stderr });
    };
    child.on('error', (e) => { error = e.message; finish(null, null); });
    child.on('close', (code, signal) => finish(code, signal));
  });
}
