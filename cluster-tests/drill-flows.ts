/**
 * One drill agent (tools/drill-agent.ts) in hafw-client: long-lived TCP flows and a UDP
 * probe stream to the echo server at one address, through the VIPs. A test or a scenario
 * drill starts one per address family, runs its steps for as long as they take, then ends
 * the agent (SIGUSR2) and reads its trace.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { COMPILED_ROOT } from './lab.js';
import { nsArgv, sleep } from './exec.js';
import { NS } from './topology.js';

const AGENT = path.join(COMPILED_ROOT, 'cluster-tests', 'tools', 'drill-agent.js');

export interface AgentTrace {
  probeSentMs: number[];
  probeRecvMs: (number | null)[];
  flows: { id: string; progressMs: number[]; failed: boolean }[];
  endMs: number;
}

export interface DrillFlowsOptions {
  flows: number;
  /** Upper bound; trace() ends the agent earlier. */
  durationMs: number;
  probeIntervalMs: number;
  port?: number;
}

export class DrillFlows {
  private readonly lines: AsyncIterator<string>;
  /** The flows' source ports (in hafw-client), once connected. */
  ports: number[] = [];
  private constructor(readonly host: string, private readonly child: ChildProcess) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  /** Starts the agent; resolves once every flow is connected (fails after 15 s). */
  static async start(host: string, o: DrillFlowsOptions): Promise<DrillFlows> {
    const argv = nsArgv(NS.client, [process.execPath, AGENT, '--host', host, '--port', String(o.port ?? 5001), '--flows', String(o.flows), '--duration-ms', String(o.durationMs), '--probe-interval-ms', String(o.probeIntervalMs)]);
    const f = new DrillFlows(host, spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] }));
    const first = await Promise.race([f.lines.next(), sleep(15000).then(() => ({ value: undefined, done: true }))]);
    const ready = first.value ? (JSON.parse(first.value) as { ready: boolean; ports?: number[] }) : undefined;
    if (!ready?.ready) {
      f.stop();
      throw new Error(`drill flows to ${host} did not connect through the VIPs: ${String(first.value ?? 'no answer')}`);
    }
    f.ports = ready.ports ?? [];
    return f;
  }

  /** Ends the flows now (the agent reports) and returns the trace. */
  async trace(): Promise<AgentTrace> {
    if (this.child.exitCode === null && this.child.pid) process.kill(this.child.pid, 'SIGUSR2');
    const last = await this.lines.next();
    if (!last.value) throw new Error(`the drill agent for ${this.host} ended without a report`);
    return JSON.parse(last.value) as AgentTrace;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.pid) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
}
