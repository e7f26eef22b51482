import assert from 'node:assert/strict';
import { engine, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';
import { CtState } from '../../ct-state/index.js';
import { parsePacket } from '../../packet/parse.js';
import { buildUdp } from '../../packet/build.js';

const V4 = buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2 });
const V6 = buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1, dport: 2 });

/** The forward verdict and the context after it, for a packet of a connection in `state`. */
function run(e: RulesetEngine, bytes: Uint8Array, state: number, ctMark = 0): { v: Verdict; ctx: ClassifyContext } {
  const ctx = new ClassifyContext();
  const copy = bytes.slice();
  parsePacket(ctx.pkt, copy, 0, copy.length, 0);
  ctx.ctState = state;
  ctx.ctMark = ctMark;
  const v = e.compiled.classify(ctx, Hook.Forward);
  return { v, ctx };
}

function loadError(rule: string): string {
  try {
    new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('connmark save/restore, ct zone, ct label', () => {
  for (const [fam, pkt] of [['IPv4', V4], ['IPv6', V6]] as const) {
    it(`meta mark set ct mark restores the connection's mark, ct mark set meta mark saves it (${fam})`, () => {
      const restore = engine('meta mark set ct mark\nmeta mark 0x2a drop');
      assert.equal(run(restore, pkt, CtState.Established, 0x2a).v, Verdict.Drop);
      assert.equal(run(restore, pkt, CtState.Established, 0x2b).v, Verdict.Accept);
      const save = engine('meta mark set 0x11 ct mark set meta mark');
      const { ctx } = run(save, pkt, CtState.New);
      assert.equal(ctx.ctMark, 0x11);
      assert.equal(ctx.ctMarkSet, true, 'the datapath writes it to the conntrack entry');
      assert.equal(ctx.metaMark, 0x11);
    });

    it(`ct zone is 0 for every tracked packet, no match without a connection (${fam})`, () => {
      const e = engine('ct zone 0 drop');
      assert.equal(run(e, pkt, CtState.New).v, Verdict.Drop);
      assert.equal(run(e, pkt, CtState.Established).v, Verdict.Drop);
      assert.equal(run(e, pkt, CtState.Invalid).v, Verdict.Accept);
      assert.equal(run(e, pkt, CtState.Untracked).v, Verdict.Accept);
      assert.equal(run(engine('ct zone != 0 drop'), pkt, CtState.New).v, Verdict.Accept);
      assert.equal(run(engine('ct original zone 0 drop'), pkt, CtState.New).v, Verdict.Drop);
      assert.equal(run(engine('ct reply zone 1 drop'), pkt, CtState.New).v, Verdict.Accept);
    });
  }

  it('listed and written as nft 1.0.6 lists them', () => {
    assert.deepEqual(roundTrips('meta mark set ct mark'), [{ mangle: { key: { meta: { key: 'mark' } }, value: { ct: { key: 'mark' } } } }]);
    assert.deepEqual(roundTrips('ct mark set meta mark'), [{ mangle: { key: { ct: { key: 'mark' } }, value: { meta: { key: 'mark' } } } }]);
    assert.deepEqual(roundTrips('ct zone 0 drop')[0], { match: { op: '==', left: { ct: { key: 'zone' } }, right: 0 } });
    assert.deepEqual(roundTrips('ct original zone != 1 drop')[0], { match: { op: '!=', left: { ct: { key: 'zone', dir: 'original' } }, right: 1 } });
    assert.deepEqual(roundTrips('ct reply zone 0 drop')[0], { match: { op: '==', left: { ct: { key: 'zone', dir: 'reply' } }, right: 0 } });
  });

  it('refuses ct zone set, ct label and a copy between fields of different types, with the place and the reason', () => {
    assert.match(loadError('ct zone set 1'), /^x\.nft:2:1: 'ct zone set' is not supported: hafw keeps one conntrack table and tracks every connection in zone 0/);
    assert.match(loadError('ct label 3 drop'), /^x\.nft:2:1: 'ct label' is not supported: .*no label storage.*Use ct mark/);
    assert.match(loadError('ct mark set ct label'), /^x\.nft:2:1: 'ct label' is not supported/);
    assert.match(loadError('meta mark set ip saddr'), /^x\.nft:2:1: meta mark needs a mark, the field gives ipv4_addr/);
    assert.match(loadError('ct zone 65536 drop'), /^x\.nft:2:9: 65536 is out of range for ct_zone/);
    const json = new RulesetEngine();
    assert.throws(() => json.load({
      nftables: [
        { table: { family: 'inet', name: 't' } },
        { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0 } },
        { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ match: { op: 'in', left: { ct: { key: 'label' } }, right: 3 } }] } },
      ],
    } as never), /'ct label' is not supported/);
  });
});
