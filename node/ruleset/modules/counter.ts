/**
 * `counter [packets N bytes N]`: counts packets and bytes of the rule. A super-packet
 * counts as the number of wire packets it stands for (pkt.segments). The cell is kept
 * by rule handle across generations, so counts survive transactions.
 */
import type { Stmt } from '../ast.js';
import { POS, mark } from '../errors.js';
import type { Registry, StatementModule, CounterCell, StmtFn } from '../registry.js';
import { namedObjectParse, namedObjectCheck, namedObjectValidate, namedObjectCompile } from './object-ref.js';

const counterModule: StatementModule = {
  name: 'counter',
  keywords: ['counter'],
  jsonKeys: ['counter'],
  help: 'count packets and bytes that reach this statement',
  params: [
    { name: 'packets', type: 'integer', help: 'initial packet count' },
    { name: 'bytes', type: 'integer', help: 'initial byte count' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r, first) {
    const named = namedObjectParse(r, 'counter');
    if (named) return named;
    let packets = 0;
    let bytes = 0;
    if (r.acceptWord('packets')) {
      packets = r.integer();
      r.expectWord('bytes');
      bytes = r.integer();
    }
    // POS in the literal: the parser sets the statement's position, and a slot that
    // exists already costs nothing to fill (errors.ts POS).
    return { counter: { packets, bytes }, [POS]: mark(first) } as Stmt;
  },
  print(stmt) {
    if (typeof (stmt as { counter: unknown }).counter === 'string') return `counter name ${JSON.stringify((stmt as { counter: string }).counter)}`;
    const c = (stmt as { counter: CounterCell | null }).counter;
    return `counter packets ${c?.packets ?? 0} bytes ${c?.bytes ?? 0}`;
  },
  checkJson(stmt) {
    const c = (stmt as { counter: unknown }).counter;
    if (c === null) return null;
    const named = namedObjectCheck(c);
    if (named !== undefined) return named;
    if (typeof c !== 'object') return 'counter must be null or {packets, bytes}';
    const o = c as { packets?: unknown; bytes?: unknown };
    if (!isCount(o.packets)) return 'counter packets must be a non-negative integer';
    if (!isCount(o.bytes)) return 'counter bytes must be a non-negative integer';
    return null;
  },
  validate: (stmt, env) => namedObjectValidate(stmt, 'counter', env),
  compile(stmt, env) {
    const named = namedObjectCompile(stmt, 'counter', env);
    if (named) return named;
    const init = (stmt as { counter: Partial<CounterCell> | null }).counter;
    const cell: CounterCell = { packets: init?.packets ?? 0, bytes: init?.bytes ?? 0 };
    env.counter(cell);
    return countInto(cell);
  },
};

/** The counting closure, made apart from compile so it keeps only its cell alive. */
function countInto(cell: CounterCell): StmtFn {
  return (ctx) => {
    const p = ctx.pkt;
    cell.packets += p.segments;
    cell.bytes += p.end - p.l3Off;
    return 0;
  };
}

/** Absent, or a whole number >= 0 that prints as one (not 1e309, which JSON reads as Infinity). */
function isCount(v: unknown): boolean {
  return v === undefined || (Number.isSafeInteger(v) && (v as number) >= 0);
}

export function registerCounter(r: Registry): void {
  r.registerStatement(counterModule);
}
