/**
 * `ct count [over] N` (nft's connlimit): matches while the statement has counted at most N
 * tracked connections (`over`: once it has counted more), counting this packet's
 * connection first, as the kernel's nft_connlimit does. Alone in a rule it counts every
 * connection that reaches it; inside a dynamic set element (`add @s { ip saddr ct count
 * over 20 }`) each element (each source address) counts its own (conn-count.ts).
 * A packet without a conntrack entry (untracked, invalid) has nothing to count: the
 * statement does not match it. JSON: `{"ct count": {"val": N, "inv": true}}`.
 */
import { Code } from '../codes.js';
import { ConnCount } from '../conn-count.js';
import type { Registry, StatementModule } from '../registry.js';

interface CtCountJ {
  val: number;
  inv?: boolean;
}

/** The kernel keeps the limit in 32 bits. */
const CT_COUNT_MAX = 0xffffffff;

const ctCountModule: StatementModule = {
  name: 'ct count',
  keywords: ['ct count'],
  jsonKeys: ['ct count'],
  help: 'match while at most N tracked connections went through this statement (over: more than N); in a dynamic set element, per element',
  params: [
    { name: 'val', type: 'integer', required: true, help: 'the number of connections' },
    { name: 'inv', type: 'boolean', help: 'true for `over`: match when more than val are counted' },
  ],
  families: ['ip', 'ip6', 'inet'],
  parse(r) {
    const inv = r.acceptWord('over');
    const at = r.peek();
    const val = r.integer();
    if (val > CT_COUNT_MAX) r.error(`ct count takes at most ${CT_COUNT_MAX}, got ${val}`, at);
    return { 'ct count': inv ? { val, inv: true } : { val } };
  },
  print(stmt) {
    const c = (stmt as { 'ct count': CtCountJ })['ct count'];
    return `ct count ${c.inv ? 'over ' : ''}${c.val}`;
  },
  checkJson(stmt) {
    const c = (stmt as { 'ct count': unknown })['ct count'];
    if (c === null || typeof c !== 'object') return '"ct count" needs {"val": N}';
    const o = c as { val?: unknown; inv?: unknown };
    if (!Number.isSafeInteger(o.val) || (o.val as number) < 0 || (o.val as number) > CT_COUNT_MAX) return `ct count "val" must be an integer from 0 to ${CT_COUNT_MAX}`;
    if (o.inv !== undefined && typeof o.inv !== 'boolean') return 'ct count "inv" must be true or false';
    return null;
  },
  compile(stmt) {
    const c = (stmt as { 'ct count': CtCountJ })['ct count'];
    const limit = c.val;
    const inv = c.inv === true;
    const conns = new ConnCount();
    return (ctx) => {
      const n = conns.add(ctx, limit);
      if (n < 0) return Code.Break;
      return n > limit === inv ? 0 : Code.Break;
    };
  },
};

export function registerCtCount(r: Registry): void {
  r.registerStatement(ctCountModule);
}
