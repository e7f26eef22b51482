/**
 * `quota [over|until] N UNIT [used N UNIT]`: a byte budget per statement (nft's quota).
 * Every packet that reaches it adds its bytes; `quota until 10 gbytes` (or without a word)
 * lets the rule go on while less than the budget was used, `quota over 10 gbytes` only
 * once it is used up. The bytes used live in a cell kept by rule handle, like a counter's,
 * so they survive transactions, and the listing shows them (`used N bytes`). Units are
 * powers of 1024, as in nft.
 */
import type { Stmt } from '../ast.js';
import { Code } from '../codes.js';
import type { CounterCell, Registry, StatementModule, StmtFn, TextReader } from '../registry.js';
import { namedObjectParse, namedObjectCheck, namedObjectValidate, namedObjectCompile } from './object-ref.js';

const UNITS: Record<string, number> = { bytes: 1, kbytes: 1024, mbytes: 1024 ** 2, gbytes: 1024 ** 3 };

interface QuotaJ {
  val: number;
  val_unit?: string;
  used?: number;
  used_unit?: string;
  inv?: boolean;
}

function amount(r: TextReader): [number, string] {
  const n = r.integer();
  const u = r.expectWord();
  if (!(u.text in UNITS)) r.error(`unknown unit '${u.text}' (${Object.keys(UNITS).join(', ')})`, u);
  return [n, u.text];
}

/** `n unit` in the largest unit that holds it exactly. */
function printBytes(bytes: number): string {
  for (const u of ['gbytes', 'mbytes', 'kbytes']) {
    const f = UNITS[u]!;
    if (bytes >= f && bytes % f === 0) return `${bytes / f} ${u}`;
  }
  return `${bytes} bytes`;
}

const bytesOf = (n: number, unit: string | undefined) => n * (UNITS[unit ?? 'bytes'] ?? NaN);

const quotaModule: StatementModule = {
  name: 'quota',
  keywords: ['quota'],
  jsonKeys: ['quota'],
  help: 'a byte budget: `quota until N mbytes` goes on while less was used, `quota over N mbytes` once it is used up; units bytes, kbytes, mbytes, gbytes (powers of 1024)',
  params: [
    { name: 'val', type: 'integer', required: true, help: 'the budget, in val_unit' },
    { name: 'val_unit', type: Object.keys(UNITS).join('|'), help: 'unit of val (default bytes)' },
    { name: 'used', type: 'integer', help: 'already used, in used_unit (listing shows the live value)' },
    { name: 'used_unit', type: Object.keys(UNITS).join('|'), help: 'unit of used (default bytes)' },
    { name: 'inv', type: 'boolean', help: 'true for `over`: go on only once the budget is used up' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r) {
    const named = namedObjectParse(r, 'quota');
    if (named) return named;
    const inv = r.acceptWord('over');
    if (!inv) r.acceptWord('until');
    const [val, unit] = amount(r);
    const q: QuotaJ = { val, val_unit: unit };
    if (r.acceptWord('used')) {
      const [used, usedUnit] = amount(r);
      q.used = used;
      q.used_unit = usedUnit;
    }
    if (inv) q.inv = true;
    return { quota: q } as Stmt;
  },
  print(stmt) {
    if (typeof (stmt as { quota: unknown }).quota === 'string') return `quota name ${JSON.stringify((stmt as { quota: string }).quota)}`;
    const q = (stmt as { quota: QuotaJ }).quota;
    const used = bytesOf(q.used ?? 0, q.used_unit);
    return `quota ${q.inv ? 'over ' : ''}${printBytes(bytesOf(q.val, q.val_unit))}${used > 0 ? ` used ${printBytes(used)}` : ''}`;
  },
  checkJson(stmt) {
    const named = namedObjectCheck((stmt as { quota: unknown }).quota);
    if (named !== undefined) return named;
    const q = (stmt as { quota: QuotaJ }).quota;
    if (!q || typeof q !== 'object') return 'quota needs {val, val_unit}';
    if (!Number.isInteger(q.val) || q.val < 0) return 'quota val must be a non-negative integer';
    if (q.val_unit !== undefined && !(q.val_unit in UNITS)) return `quota val_unit must be one of ${Object.keys(UNITS).join(', ')}`;
    if (q.used !== undefined && (!Number.isInteger(q.used) || q.used < 0)) return 'quota used must be a non-negative integer';
    if (q.used_unit !== undefined && !(q.used_unit in UNITS)) return `quota used_unit must be one of ${Object.keys(UNITS).join(', ')}`;
    if (q.inv !== undefined && typeof q.inv !== 'boolean') return 'quota inv must be true or false';
    return null;
  },
  validate: (stmt, env) => namedObjectValidate(stmt, 'quota', env),
  compile(stmt, env) {
    const named = namedObjectCompile(stmt, 'quota', env);
    if (named) return named;
    const q = (stmt as { quota: QuotaJ }).quota;
    const cell: CounterCell = { packets: 0, bytes: bytesOf(q.used ?? 0, q.used_unit) };
    env.counter(cell);
    return quotaOf(cell, bytesOf(q.val, q.val_unit), q.inv === true);
  },
};

/** As the kernel's quota: add the packet, then compare what is used with the budget. */
function quotaOf(cell: CounterCell, budget: number, over: boolean): StmtFn {
  return (ctx) => {
    const p = ctx.pkt;
    cell.packets += p.segments;
    cell.bytes += p.end - p.l3Off;
    return (cell.bytes >= budget) !== over ? Code.Break : Code.Next;
  };
}

export function registerQuota(r: Registry): void {
  r.registerStatement(quotaModule);
}
