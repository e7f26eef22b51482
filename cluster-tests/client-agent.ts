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

/**
 * `n` long-lived TCP flows to an echo server, each writing a byte every `writeEveryMs` and
 * counting the bytes echoed. On "mark" the script prints, per flow, its local port, the
 * bytes echoed so far and the error that ended it (null while it lives). It stops by itself
 * after `lifetimeMs`.
 */
const MARKED_FLOWS = `const net = require('net'); const [host, port, n, every, lifetime] = process.argv.slice(1);
const flows = []; let connected = 0;
for (let i = 0; i < Number(n); i++) {
  const f = { port: 0, echoed: 0, error: null }; flows.push(f);
  const s = net.connect({ host, port: Number(port) }); s.setNoDelay(true);
  s.on('connect', () => { f.port = s.localPort; if (++connected === Number(n)) console.log(JSON.stringify({ connected })); setInterval(() => s.write('x'), Number(every)); });
  s.on('data', (d) => (f.echoed += d.length));
  s.on('error', (e) => (f.error = e.code || e.message));
  s.on('close', () => (f.error = f.error || 'closed'));
}
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  if (l === 'mark') console.log(JSON.stringify({ flows }));
  if (l === 'quit') process.exit(0);
});
setTimeout(() => process.exit(0), Number(lifetime));`;

/** One flow of a FlowAgent at a mark. */
export interface FlowMark {
  port: number;
  echoed: number;
  error: string | null;
}

/** Long-lived TCP flows from the client namespace, asked about at marks (migration, drills). */
export class FlowAgent {
  private readonly agent: ClientAgent;

  constructor(host: string, port: number, n: number, opts: { writeEveryMs: number; lifetimeMs: number }) {
    this.agent = new ClientAgent(MARKED_FLOWS, [host, String(port), String(n), String(opts.writeEveryMs), String(opts.lifetimeMs)], 'flow agent');
  }

  /** Resolves once every flow is connected. */
  async connected(timeoutMs = 10000): Promise<void> {
    await this.agent.next(timeoutMs);
  }

  async mark(): Promise<FlowMark[]> {
    this.agent.send('mark');
    return (await this.agent.next()).flows as FlowMark[];
  }

  close(): void {
    this.agent.close();
  }
}
