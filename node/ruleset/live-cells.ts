/**
 * The stateful statements' live values in a rule's JSON. `counter` and `quota` keep their
 * state in cells the compiled rule owns (kept by rule handle across generations); listing a
 * rule, as text or JSON, shows what the cells hold now instead of the values it was loaded
 * with. Cells come in statement order, one per counter or quota.
 */
import type { Stmt } from './ast.js';
import type { CounterCell } from './registry.js';

export function withLiveCells(expr: Stmt[], cells: readonly CounterCell[] | undefined): Stmt[] {
  if (!cells || cells.length === 0) return expr;
  let k = 0;
  return expr.map((s) => {
    // A named object's reference (`{"counter": "c1"}`) has no cell in the rule: the object holds it.
    if ('counter' in s && typeof s.counter !== 'string' && cells[k]) {
      const c = cells[k++]!;
      return { counter: { packets: c.packets, bytes: c.bytes } } as Stmt;
    }
    if ('quota' in s && typeof s.quota !== 'string' && cells[k]) {
      const c = cells[k++]!;
      return { quota: { ...(s as { quota: object }).quota, used: c.bytes, used_unit: 'bytes' } } as Stmt;
    }
    return s;
  });
}
