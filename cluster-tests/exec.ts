/** Running commands, optionally inside a network namespace, with readable failures. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { openSync, closeSync } from 'node:fs';

const execFileP = promisify(execFile);

export function nsArgv(ns: string | undefined, argv: string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
}

export async function sh(argv: string[], opts: { ns?: string; timeoutMs?: number; input?: string } = {}): Promise<string> {
  const full = nsArgv(opts.ns, argv);
  try {
    const running = execFileP(full[0]!, full.slice(1), { timeout: opts.timeoutMs ?? 30000, maxBuffer: 64 * 1024 * 1024 });
    // A command that never reads its input may exit first: EPIPE is not our failure.
    running.child.stdin?.on('error', () => undefined);
    running.child.stdin?.end(opts.input);
    const { stdout } = await running;
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string; code?: string | number };
    if (e.code === 'ENOENT') throw new Error(`${full[0]} is not installed (see README: system packages)`);
    throw new Error(`${full.join(' ')} failed: ${(e.stderr || e.stdout || e.message).toString().trim()}`);
  }
}

export async function shQuiet(argv: string[], opts: { ns?: string } = {}): Promise<void> {
  await sh(argv, opts).catch(() => undefined);
}

/** Starts a long-running process detached (own process group), output to a log file. */
export function spawnDetached(argv: string[], opts: { ns?: string; logFile: string; append?: boolean; env?: NodeJS.ProcessEnv }): ChildProcess {
  const full = nsArgv(opts.ns, argv);
  const fd = openSync(opts.logFile, opts.append ? 'a' : 'w');
  try {
    const child = spawn(full[0]!, full.slice(1), { detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Signals a process and waits (bounded) until it is gone; escalates to SIGKILL. */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await sleep(25);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (let i = 0; i < 40 && isAlive(pid); i++) await sleep(25);
}
