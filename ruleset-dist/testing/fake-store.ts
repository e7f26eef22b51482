/**
 * A RulesetStore over a list of lines, for protocol tests: ops are {add?: string[],
 * del?: string[]}, and a line "refuse" in ops.add is refused like an invalid batch.
 */
import type { RulesetStore } from '../distributor.js';

export class FakeStore implements RulesetStore {
  lines: string[];
  applied = 0;

  constructor(text = '') {
    this.lines = text.split('\n').filter((l) => l !== '');
  }

  canonicalText(): string {
    return this.lines.length ? `${this.lines.join('\n')}\n` : '';
  }

  async applyText(text: string): Promise<void> {
    this.lines = text.split('\n').filter((l) => l !== '');
    this.applied++;
  }

  async applyOps(ops: unknown): Promise<void> {
    const o = ops as { add?: string[]; del?: string[] };
    if (o.add?.includes('refuse')) throw new Error('refused');
    const next = this.lines.filter((l) => !o.del?.includes(l));
    next.push(...(o.add ?? []));
    this.lines = next;
    this.applied++;
  }

  /** A local transaction as the API would run it. */
  tx(ops: { add?: string[]; del?: string[] }): () => Promise<void> {
    return () => this.applyOps(ops);
  }
}
