/**
 * Connection tracking matches: `ct state`, `ct status`, `ct mark`, `ct direction`. The
 * datapath fills ctx.ctState / ctStatus / ctMark / ctDir from its conntrack lookup before
 * classifying.
 */
import { CT_STATE_IN_CONNECTION } from '../../ct-state/index.js';
import { CT_DIR, CT_STATE, CT_STATUS, MARK, integerType } from '../data-types.js';
import type { Registry } from '../registry.js';

/** nft's ct zone: 16 bits. */
const CT_ZONE = integerType('ct_zone', 16, 'conntrack zone (16 bits); hafw tracks every connection in zone 0');
/** Parsed so the refusal can say why (nft's 128 label bits). */
const CT_LABEL = integerType('ct_label', 7, 'conntrack label bit (0-127)');

const ZONE_NOT_WRITABLE = "'ct zone set' is not supported: hafw keeps one conntrack table and tracks every connection in zone 0 (the datapath assigns no zones), so a zone set by a rule would change nothing. `ct zone 0` matches every tracked packet; keep overlapping address spaces apart by interface (iifname) instead";
const LABEL_REFUSED = "'ct label' is not supported: hafw's conntrack entries have no label storage (the kernel keeps 128 label bits per connection). Use ct mark (32 bits, kept in the conntrack entry and replicated to the standby) to tag connections";

export function registerCt(r: Registry): void {
  for (const dir of [undefined, 'original', 'reply'] as const) {
    r.registerMatch({
      name: dir ? `ct ${dir} zone` : 'ct zone',
      keywords: dir ? ['ct', dir, 'zone'] : ['ct', 'zone'],
      left: { ct: dir ? { key: 'zone', dir } : { key: 'zone' } },
      type: CT_ZONE,
      families: ['ip', 'ip6', 'inet'],
      help: "conntrack zone: always 0 here (one table, no zones); no match for invalid or untracked packets",
      notWritable: ZONE_NOT_WRITABLE,
      load(ctx, out, off) {
        if ((ctx.ctState & CT_STATE_IN_CONNECTION) === 0) return false;
        out[off] = 0;
        return true;
      },
    });
  }
  r.registerMatch({
    name: 'ct label',
    keywords: ['ct', 'label'],
    left: { ct: { key: 'label' } },
    type: CT_LABEL,
    families: ['ip', 'ip6', 'inet'],
    help: 'not supported: conntrack entries here have no labels (use ct mark)',
    refused: LABEL_REFUSED,
    load() {
      return false;
    },
  });
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
