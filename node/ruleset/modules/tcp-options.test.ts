import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../../packet/build.js';
import { parsePacket } from '../../packet/parse.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';

const VNET = 10;
const CLAMP = 'tcp flags syn tcp option maxseg size > 1360 tcp option maxseg size set 1360';

function engine(rules: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(`table inet t { chain fw { type filter hook forward priority 0; policy accept;\n${rules}\n} }`);
  return e;
}

/** Runs a copy of `bytes` through the forward chain; returns the verdict and the bytes after. */
function run(e: RulesetEngine, bytes: Uint8Array, vnet = 0): { v: Verdict; out: Uint8Array } {
  const ctx = new ClassifyContext();
  const out = bytes.slice();
  parsePacket(ctx.pkt, out, 0, out.length, vnet);
  return { v: e.compiled.classify(ctx, Hook.Forward), out };
}

describe('tcp option maxseg size (MSS clamping)', () => {
  for (const [fam, src, dst] of [['IPv4', '192.0.2.100', '198.51.100.100'], ['IPv6', '2001:db8::100', '2001:db8:1::100']] as const) {
    it(`lowers the MSS of ${fam} SYNs above the limit, checksum kept right, and leaves the others alone`, () => {
      const syn = (mss?: number, flags = 'S', partialCsum = false) => buildTcp({ src, dst, sport: 40000, dport: 443, flags, seq: 1, ...(mss !== undefined ? { mss } : {}), wscale: 7, partialCsum });
      const e = engine(CLAMP);
      // Byte for byte the segment as if the host had sent 1360: MSS and TCP checksum.
      assert.deepEqual(run(e, syn(1460)).out, syn(1360));
      assert.deepEqual(run(e, syn(1460, 'SA')).out, syn(1360, 'SA'));
      assert.deepEqual(run(e, syn(1200)).out, syn(1200), 'below the limit: untouched');
      assert.deepEqual(run(e, syn()).out, syn(), 'no MSS option: untouched');
      // Offloaded checksum (NeedsCsum): the field holds the pseudo-header sum and stays so.
      assert.deepEqual(run(e, syn(1460, 'S', true), VNET).out, syn(1360, 'S', true));
      // Not TCP: nothing to read or write.
      const udp = buildUdp({ src, dst, sport: 1, dport: 2, payload: 20 });
      assert.deepEqual(run(e, udp).out, udp);
    });
  }

  it('matches on the MSS value, and sets it from a map', () => {
    const syn = buildTcp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 80, flags: 'S', mss: 1460 });
    assert.equal(run(engine('tcp option maxseg size 1460 drop'), syn).v, Verdict.Drop);
    assert.equal(run(engine('tcp option maxseg size 1400-1450 drop'), syn).v, Verdict.Accept);
    const out = run(engine('tcp option maxseg size set tcp dport map { 80 : 1400, 443 : 1300 }'), syn).out;
    assert.deepEqual(out, buildTcp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 80, flags: 'S', mss: 1400 }));
  });

  it('prints and reads back in text and JSON (libnftables "tcp option" selector)', () => {
    const e = engine(CLAMP);
    assert.match(e.list(), /tcp flags syn tcp option maxseg size > 1360 tcp option maxseg size set 1360/);
    const again = new RulesetEngine();
    again.load(e.toJSON());
    assert.equal(again.list(), e.list());
    const expr = (e.toJSON().nftables.find((x) => 'rule' in x) as { rule: { expr: unknown[] } }).rule.expr;
    assert.deepEqual(expr[2], { mangle: { key: { 'tcp option': { name: 'maxseg', field: 'size' } }, value: 1360 } });
  });

  it('refuses values a 16-bit MSS cannot hold, and setting a read-only field, with their place', () => {
    const bad = (rule: string) => {
      try {
        new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(bad('tcp option maxseg size set 70000'), /^x\.nft:2:\d+: '70000' is not a valid tcp_mss/);
    assert.match(bad('tcp flags set 2'), /^x\.nft:2:\d+: tcp flags cannot be set \(writable: [^)]*\btcp option maxseg size\b[^)]*\bct mark\b/);
  });
});
