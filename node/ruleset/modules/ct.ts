/**
 * Connection tracking matches: `ct state`, `ct status`, `ct mark`. The datapath fills
 * ctx.ctState / ctStatus / ctMark from its conntrack lookup before classifying.
 */
import { CT_STATE, CT_STATUS, MARK } from '../data-types.js';
import type { Registry } from '../registry.js';

export function registerCt(r: Registry): void {
  r.registerMatch({
    name: 'ct state',
    keywords: ['ct', 'state'],
    left: { ct: { key: 'state' } },
    type: CT_STATE,
    families: ['ip', 'ip6', 'inet'],
    help: 'conntrack state: new, established, related, invalid, untracked',
    load(ctx, out, off) {
      out[off] = ctx.ctState;
      return true;
    },
  });
  r.registerMatch({
    name: 'ct status',
    keywords: ['ct', 'status'],
    left: { ct: { key: 'status' } },
    type: CT_STATUS,
    families: ['ip', 'ip6', 'inet'],
    help: 'conntrack status bits: expected, seen-reply, assured, confirmed, snat, dnat, dying',
    load(ctx, out, off) {
      out[off] = ctx.ctStatus;
      return true;
    },
  });
  r.registerMatch({
    name: 'ct mark',
    keywords: ['ct', 'mark'],
    left: { ct: { key: 'mark' } },
    type: MARK,
    families: ['ip', 'ip6', 'inet'],
    help: 'connection mark (32 bits); writable with `ct mark set`',
    store(ctx, v) {
      // The datapath writes it back to the conntrack entry.
      ctx.ctMark = v;
      ctx.ctMarkSet = true;
    },
    load(ctx, out, off) {
      out[off] = ctx.ctMark >>> 0;
      return true;
    },
  });
}
