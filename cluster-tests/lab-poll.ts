/**
 * Polling helpers the cluster lab tests share: a bounded wait for a condition on the lab,
 * and the established echo connections a node holds.
 */
import { sleep } from './exec.js';
import type { Lab } from './lab.js';

/**
 * Calls `fn` until `ok` holds for its value, at most `ms`; a call that throws counts as "not
 * yet" (a node restarting answers nothing). Throws naming `what` and the last value seen
 * (a Set by its size), so a failed wait says how far it got.
 */
export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await fn().catch(() => undefined as T);
    if (last !== undefined && ok(last)) return last;
    await sleep(stepMs);
  }
  throw new Error(`timed out: ${what} (last: ${JSON.stringify(last instanceof Set ? [...last].length : last)})`);
}

interface CtEntry {
  original: { src: string; sport?: number; dst: string; dport?: number };
}

/**
 * Established TCP connections to the lab's echo port (5001) that `fw` holds, to one of
 * `servers`, as "dst src sport" keys; `origin` narrows them to the node's own or its replicas
 * (undefined: both).
 */
export async function echoFlowsTo(lab: Lab, fw: string, origin: 'local' | 'replicated' | undefined, servers: string[]): Promise<Set<string>> {
  const args = ['ct', 'list', '-p', 'tcp', '--dport', '5001', '--state', 'ESTABLISHED', '--json', ...(origin ? ['--origin', origin] : [])];
  const r = JSON.parse(await lab.hafw(fw, args)) as { entries: CtEntry[] };
  return new Set(r.entries.filter((e) => servers.includes(e.original.dst)).map((e) => `${e.original.dst} ${e.original.src} ${e.original.sport}`));
}
