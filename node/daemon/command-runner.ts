/**
 * Runs the node's external commands (`ip` for routes, addresses, VIPs and kernel plumbing)
 * from a small helper process forked when the daemon starts, while its heap is still small.
 *
 * Why: a process that forks copies its page tables, and until the child execs, every page
 * the parent then writes takes a copy-on-write fault. A node with a million tracked
 * connections holds hundreds of megabytes: measured here, spawning `true` from a process
 * with 1 GiB touched takes ~34 ms and the writer then spends ~200 ms in page faults
 * rewriting its memory. The daemon reads routes and addresses every 2 s and moves VIPs at
 * takeover; those forks would tax the packet path all the time and slow the takeover.
 * The helper's own forks cost about 2 ms.
 *
 * VRRP notify hooks run from the helper too (runHookCommand): they start at the moment a
 * node takes over, when the packet path can least afford the faults.
 *
 * Before startCommandRunner() (tests, the CLI) or if the helper is gone, commands are
 * spawned directly, as before; a dead helper is replaced on the next command.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import type { HookOutcome, HookRun } from '../../failover/index.js';

interface CommandResult {
  /** Exit code (null when killed by a signal or not started). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started (e.g. `ENOENT`: not installed). */
  error?: string;
}

/** A command, or (with `hook`) a notify hook run with its timeout and group kill. */
export type HelperRequest = { id: number; file: string; args: string[]; input?: string } | { id: number; hook: HookRun };
/** What the helper answers (its `id` taken off on arrival). */
type Reply = CommandResult | HookOutcome;

let helper: ChildProcess | null = null;
let wanted = false;
let nextId = 1;
const waiting = new Map<number, (r: Reply | undefined) => void>();

/** Forks the helper (call early in the daemon's start). Resolves once it is ready. */
export function startCommandRunner(): Promise<void> {
  wanted = true;
  if (helper !== null) return Promise.resolve();
  const child = fork(new URL('./command-runner-child.js', import.meta.url), [], {
    // Not the parent's flags (e.g. --cpu-prof): this is a plain little process.
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  helper = child;
  child.on('message', ({ id, ...reply }: { id: number } & Reply) => {
    const done = waiting.get(id);
    if (done === undefined) return;
    waiting.delete(id);
    if (waiting.size === 0) channelRef(child, false);
    done(reply);
  });
  child.on('exit', () => {
    if (helper === child) helper = null;
    // Commands in flight in the dead helper: their outcome is unknown (undefined says so).
    for (const [id, done] of waiting) {
      waiting.delete(id);
      done(undefined);
    }
  });
  // The helper never keeps this process alive on its own; a command in flight does.
  child.unref();
  channelRef(child, false);
  return new Promise((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (e) => {
      if (helper === child) helper = null;
      reject(e);
    });
  });
}

/** Stops the helper; later commands are spawned directly. */
export function stopCommandRunner(): void {
  wanted = false;
  helper?.kill();
  helper = null;
}

/** The helper's pid, or undefined when commands are spawned directly. */
export function commandRunnerPid(): number | undefined {
  return helper?.pid;
}

/** Runs `file args` (stdin `input`), through the helper when it runs. Never rejects. */
export async function runCommand(file: string, args: string[], input?: string): Promise<CommandResult> {
  const direct = () => runDirect(file, args, input);
  const r = await viaHelper((id) => (input === undefined ? { id, file, args } : { id, file, args, input }), direct);
  return (r as CommandResult | undefined) ?? { code: null, stdout: '', stderr: '', error: 'the command helper exited' };
}

/** Runs a notify hook (failover's HookSpawner) through the helper when it runs. Never rejects. */
export async function runHookCommand(run: HookRun): Promise<HookOutcome> {
  const o = await viaHelper((id) => ({ id, hook: run }), () => runHookHere(run));
  return (o as HookOutcome | undefined) ?? { exitCode: null, signal: null, timedOut: false, error: 'the command helper exited', stdout: '', stderr: '' };
}

/** Runs a hook in this process (loaded on first use, so the helper, which imports this file, stays small). */
export async function runHookHere(run: HookRun): Promise<HookOutcome> {
  const { runHook } = await import('../../failover/index.js');
  return runHook(run);
}

/** Sends one request to the helper; without a helper (or if sending fails) runs `direct` here. */
function viaHelper<D extends object>(req: (id: number) => HelperRequest, direct: () => Promise<D>): Promise<Reply | D | undefined> {
  if (helper === null && wanted) void startCommandRunner().catch(() => undefined);
  const h = helper;
  if (h === null || !h.connected) return direct();
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    channelRef(h, true);
    h.send(req(id), (err) => {
      if (err && waiting.delete(id)) resolve(direct());
    });
  });
}

function channelRef(c: ChildProcess, on: boolean): void {
  const ch = c.channel as { ref?: () => void; unref?: () => void } | null | undefined;
  if (on) ch?.ref?.();
  else ch?.unref?.();
}

/** Spawns in this process (also what the helper itself does). */
export function runDirect(file: string, args: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let settled = false;
    const child = spawn(file, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      resolve({ code: null, stdout, stderr, error: e.code ?? e.message });
    });
    child.on('close', (code) => {
      if (settled) return;
      settled = true;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
