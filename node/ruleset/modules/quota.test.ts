import assert from 'node:assert/strict';
import { buildUdp } from '../../packet/build.js';
import { parsePacket } from '../../packet/parse.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';

/** 1,000-byte UDP packets (IPv4 or IPv6 header included in the length). */
function packet(v6: boolean): Uint8Array {
  return v6
    ? buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1, dport: 2, payload: 1000 - 48 })
    : buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2, payload: 1000 - 28 });
}

function engine(rules: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(`table inet t { chain fw { type filter hook forward priority 0; policy accept;\n${rules}\n} }`, 'x.nft');
  return e;
}

function verdicts(e: RulesetEngine, n: number, v6 = false): Verdict[] {
  const out: Verdict[] = [];
  for (let i = 0; i < n; i++) {
    const ctx = new ClassifyContext();
    const b = packet(v6);
    parsePacket(ctx.pkt, b, 0, b.length, 0);
    out.push(e.compiled.classify(ctx, Hook.Forward));
  }
  return out;
}

const A = Verdict.Accept;
const D = Verdict.Drop;

describe('quota', () => {
  for (const v6 of [false, true]) {
    it(`until: the rule goes on while less than the budget is used; over: only after (${v6 ? 'IPv6' : 'IPv4'})`, () => {
      // 1,000 bytes a packet, a budget of 3,000: the third packet reaches it.
      assert.deepEqual(verdicts(engine('quota until 3000 bytes drop'), 5, v6), [D, D, A, A, A]);
      assert.deepEqual(verdicts(engine('quota over 3000 bytes drop'), 5, v6), [A, A, D, D, D]);
    });
  }

  it('keeps what was used across transactions, and lists it (text and JSON)', () => {
    const e = engine('quota over 2000 bytes drop');
    assert.deepEqual(verdicts(e, 1), [A]);
    e.transaction('add rule inet t fw counter');
    assert.deepEqual(verdicts(e, 2), [D, D], 'the 1,000 bytes from before still count');
    assert.match(e.list(), /quota over 2000 bytes used 3000 bytes drop/);
    const rule = e.toJSON().nftables.find((x) => 'rule' in x && JSON.stringify(x).includes('quota')) as { rule: { expr: unknown[] } };
    assert.deepEqual(rule.rule.expr[0], { quota: { val: 2000, val_unit: 'bytes', inv: true, used: 3000, used_unit: 'bytes' } });
    // Loaded back (a restart from a listing), it starts from what was used.
    const again = new RulesetEngine();
    again.load(e.list());
    assert.deepEqual(verdicts(again, 1), [D]);
  });

  it('refuses an unknown unit or a bad JSON quota, with the place', () => {
    assert.throws(() => engine('quota 5 tbytes'), /^RulesetError: x\.nft:2:9: unknown unit 'tbytes' \(bytes, kbytes, mbytes, gbytes\)/);
    const e = new RulesetEngine();
    assert.throws(
      () => e.load({ nftables: [{ table: { family: 'inet', name: 't' } }, { chain: { family: 'inet', table: 't', name: 'c' } }, { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ quota: { val: -1 } }] } }] } as never),
      /quota val must be a non-negative integer/,
    );
  });
});
