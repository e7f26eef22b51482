/**
 * Driving the compose stack from a test: both spellings of the tool (the v2 plugin
 * `docker compose` and the older python `docker-compose`, which is what Debian 12 ships),
 * a fixed project name, and every call bounded in time.
 */
import { execFile } from 'node:child_process';

/** How to invoke compose, as printed by scripts/ensure-docker.sh ("docker compose" | "docker-compose"). */
export function parseComposeTool(line: string): string[] {
  const words = line.trim().split(/\s+/).filter(Boolean);
  if (words.length === 2 && words[0] === 'docker' && words[1] === 'compose') return words;
  if (words.length === 1 && /(^|\/)docker-compose$/.test(words[0]!)) return words;
  throw new Error(`not a compose command: ${JSON.stringify(line)} (expected "docker compose" or "docker-compose")`);
}

interface ComposeTarget {
  /** e.g. ['docker', 'compose'] or ['docker-compose'] */
  tool: string[];
  /** -p: containers are named <project>_<service>_1 (v1) or <project>-<service>-1 (v2). */
  project: string;
  /** -f, in order; later files override earlier ones. */
  files: string[];
  /** --profile: services started only with these profiles (e.g. three-nodes: fw-c) are part of the stack. */
  profiles?: string[];
}

/** The full argv of one compose call; global options go before the subcommand in both versions. */
export function composeArgv(t: ComposeTarget, args: string[]): string[] {
  return [...t.tool, '-p', t.project, ...t.files.flatMap((f) => ['-f', f]), ...(t.profiles ?? []).flatMap((p) => ['--profile', p]), ...args];
}

/** `exec` without a TTY (-T), so it works from CI with no terminal in both versions. */
export function execArgs(service: string, argv: string[]): string[] {
  return ['exec', '-T', service, ...argv];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv; never throws for a non-zero exit (the caller decides), only for a time-out. */
export function run(argv: string[], opts: { cwd?: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      argv[0]!,
      argv.slice(1),
      { cwd: opts.cwd, timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const e = err as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        if (e && e.killed) return reject(new Error(`${argv.join(' ')}: no result within ${opts.timeoutMs} ms`));
        if (e && e.code === 'ENOENT') return reject(new Error(`${argv[0]} is not installed`));
        resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

export class ComposeStack {
  constructor(
    readonly target: ComposeTarget,
    readonly cwd: string,
  ) {}

  run(args: string[], timeoutMs = 60_000): Promise<RunResult> {
    return run(composeArgv(this.target, args), { cwd: this.cwd, timeoutMs });
  }

  /** Like run, but a non-zero exit is an error carrying compose's own words. */
  async must(args: string[], timeoutMs = 60_000): Promise<string> {
    const r = await this.run(args, timeoutMs);
    if (r.code !== 0) throw new Error(`${composeArgv(this.target, args).join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-8).join('\n')}`);
    return r.stdout;
  }

  exec(service: string, argv: string[], timeoutMs = 30_000): Promise<RunResult> {
    return this.run(execArgs(service, argv), timeoutMs);
  }
}
