/**
 * `counter [packets N bytes N]`: counts packets and bytes of the rule. A super-packet
 * counts as the number of wire packets it stands for (pkt.segments). The cell is kept
 * by rule handle across generations, so counts survive transactions.
 */
import type { Registry, StatementModule, CounterCell } from '../registry.js';

export const counterModule: StatementModule = {
  name: 'counter',
  keywords: ['counter'],
  jsonKeys: ['counter'],
  help: 'count packets and bytes that reach this statement',
  params: [
    { name: 'packets', type: 'integer', help: 'initial packet count' },
    { name: 'bytes', type: 'integer', help: 'initial byte count' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r) {
    let packets = 0;
    let bytes = 0;
    if (r.acceptWord('packets')) {
      packets = r.integer();
      r.expectWord('bytes');
      bytes = r.integer();
    }
    return { counter: { packets, bytes } };
  },
  print(stmt) {
    const c = (stmt as { counter: CounterCell | null }).counter;
    return `counter packets ${c?.packets ?? 0} bytes ${c?.bytes ?? 0}`;
  },
  checkJson(stmt) {
    const c = (stmt as { counter: unknown }).counter;
    if (c === null) return null;
    if (typeof c !== 'object') return 'counter must be null or {packets, bytes}';
    const o = c as Record<string, unknown>;
    for (const k of ['packets', 'bytes']) {
      if (o[k] !== undefined && (typeof o[k] !== 'number' || (o[k] as number) < 0)) return `counter ${k} must be a non-negative number`;
    }
    return null;
  },
  compile(stmt, env) {
    const init = (stmt as { counter: Partial<CounterCell> | null }).counter;
    const cell: CounterCell = { packets: init?.packets ?? 0, bytes: init?.bytes ?? 0 };
    env.counter(cell);
    return (ctx) => {
      const p = ctx.pkt;
      cell.packets += p.segments;
      cell.bytes += p.end - p.l3Off;
      return 0;
    };
  },
};

export function registerCounter(r: Registry): void {
  r.registerStatement(counterModule);
}
