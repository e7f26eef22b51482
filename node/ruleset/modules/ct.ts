/**
 * Connection tracking matches: `ct state`, `ct status`, `ct mark`, `ct direction`. The
 * datapath fills ctx.ctState / ctStatus / ctMark / ctDir from its conntrack lookup before
 * classifying.
 */
import { CT_STATE_IN_CONNECTION } from '../../ct-state/index.js';
import { CT_DIR, CT_STATE, CT_STATUS, MARK } from '../data-types.js';
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
    name: 'ct direction',
    keywords: ['ct', 'direction'],
    left: { ct: { key: 'direction' } },
    type: CT_DIR,
    families: ['ip', 'ip6', 'inet'],
    help: 'direction of the packet in its connection: original (from the side that opened it) or reply; no match for invalid or untracked packets',
    load(ctx, out, off) {
      if ((ctx.ctState & CT_STATE_IN_CONNECTION) === 0) return false;
      out[off] = ctx.ctDir;
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
