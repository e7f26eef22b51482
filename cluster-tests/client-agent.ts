/**
 * A small Node script run in the client namespace that talks JSON lines: the test writes
 * a line to its stdin, reads the next JSON line it prints. Used by the lab tests that hold
 * connections open across a firewall change (restart, migration) and ask about them.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { nsArgv } from './exec.js';
import { NS } from './topology.js';

export class ClientAgent {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiters: ((l: string) => void)[] = [];
  private readonly lines: string[] = [];

  /** `script` runs with `node -e` and the given arguments; `name` goes into errors. */
  constructor(script: string, args: string[], private readonly name: string) {
    const argv = nsArgv(NS.client, [process.execPath, '-e', script, ...args]);
    this.child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }

  /** The next JSON line the script prints (rejects after `timeoutMs` without one). */
  next(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l) as Record<string, unknown>);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no answer`)), timeoutMs);
      this.waiters.push((line) => {
        clearTimeout(t);
        resolve(JSON.parse(line) as Record<string, unknown>);
      });
    });
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Asks the script to quit ("quit"), killed a second later if it has not. */
  close(): void {
    this.child.stdin.end('quit\n');
    setTimeout(() => {
      if (this.child.exitCode === null) this.child.kill('SIGKILL');
    }, 1000).unref();
  }
}
