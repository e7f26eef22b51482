/**
 * Byte-rate limits as nft and the kernel have them: `limit rate [over] N kbytes/second
 * [burst N kbytes]`; the bucket holds one unit's rate plus the burst, each packet costs its
 * length. Listing and JSON as nft 1.0.6 writes them; packets of several sizes, IPv4 and IPv6.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUdp } from '../../packet/build.js';
import { parsePacket } from '../../packet/parse.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict } from '../context.js';

const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../node/ruleset/testdata/nft-1.0.6');

/** A UDP packet of `len` bytes in all (IP header included, as the kernel's skb->len). */
function packet(len: number, v6: boolean): Uint8Array {
  return v6
    ? buildUdp({ src: '2001:db8::1', dst: '2001:db8:1::1', sport: 1, dport: 2, payload: len - 48 })
    : buildUdp({ src: '192.0.2.1', dst: '198.51.100.1', sport: 1, dport: 2, payload: len - 28 });
}

function engine(rules: string): RulesetEngine {
  const e = new RulesetEngine();
  e.load(`table inet t { chain fw { type filter hook forward priority 0; policy accept;\n${rules}\n} }`, 'x.nft');
  return e;
}

/** Verdicts for [time ms, packet length] in order. */
function run(e: RulesetEngine, pkts: [number, number][], v6: boolean): Verdict[] {
  return pkts.map(([ms, len]) => {
    const ctx = new ClassifyContext();
    const b = packet(len, v6);
    parsePacket(ctx.pkt, b, 0, b.length, 0);
    ctx.nowMs = ms;
    return e.compiled.classify(ctx, Hook.Forward);
  });
}

function loadError(rules: string): string {
  try {
    engine(rules);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

const A = Verdict.Accept;
const D = Verdict.Drop;

describe('limit with byte rates', () => {
  for (const v6 of [false, true]) {
    const fam = v6 ? 'IPv6' : 'IPv4';
    it(`holds one second of the rate, each packet costs its length; refills with time (${fam})`, () => {
      // 10 kbytes/second, no burst: the bucket holds 10,240 bytes.
      const e = engine('limit rate 10 kbytes/second accept\ndrop');
      const at0 = Array.from({ length: 10 }, (): [number, number] => [0, 1000]);
      assert.deepEqual(run(e, [...at0, [0, 1000], [0, 240], [0, 48]], v6), [...at0.map(() => A), D, A, D], '10,000 bytes pass, 240 remain: a 1,000-byte packet takes nothing, a 240-byte one fits');
      // 100 ms later: 1,024 bytes back.
      assert.deepEqual(run(e, [[100, 1025], [100, 1024], [100, 60]], v6), [D, A, D]);
    });

    it(`burst adds to what the bucket holds (${fam})`, () => {
      // 1 kbytes/second burst 2 kbytes: 3,072 bytes at once.
      const e = engine('limit rate 1 kbytes/second burst 2 kbytes accept\ndrop');
      assert.deepEqual(run(e, [[0, 1000], [0, 1000], [0, 1000], [0, 100], [0, 72]], v6), [A, A, A, D, A]);
      assert.deepEqual(run(e, [[1000, 1024], [1000, 48]], v6), [A, D], 'one second refills 1,024 bytes');
      // Never more than rate + burst, however long it waited.
      assert.deepEqual(run(e, [[60_000, 1500], [60_000, 1500], [60_000, 100]], v6), [A, A, D]);
    });

    it(`over: matches only what exceeds the rate (${fam})`, () => {
      const e = engine('limit rate over 2 kbytes/second drop');
      assert.deepEqual(run(e, [[0, 1500], [0, 500], [0, 100], [0, 48]], v6), [A, A, D, A]);
      assert.deepEqual(run(e, [[500, 1024], [500, 48]], v6), [A, D], 'half a second: 1,024 bytes');
    });
  }

  it('is listed as nft lists it: in the largest exact unit, no burst when 0', () => {
    const e = engine(['limit rate 10 mbytes/second burst 1 mbytes accept', 'limit rate over 512 kbytes/second drop', 'limit rate 1024 kbytes/minute burst 2048 bytes accept', 'limit rate over 1 mbytes/hour burst 1500 bytes drop', 'limit rate 3 bytes/day burst 0 bytes accept'].join('\n'));
    const rules = e.list().split('\n').map((l) => l.trim()).filter((l) => l.startsWith('limit'));
    assert.deepEqual(rules, ['limit rate 10 mbytes/second burst 1 mbytes accept', 'limit rate over 512 kbytes/second drop', 'limit rate 1 mbytes/minute burst 2 kbytes accept', 'limit rate over 1 mbytes/hour burst 1500 bytes drop', 'limit rate 3 bytes/day accept']);
    const again = new RulesetEngine();
    again.load(e.list());
    assert.equal(again.list(), e.list());
  });

  it("reads and writes nft 1.0.6's JSON (rate_unit, burst_unit) and lists what nft listed", () => {
    const nftJson = readFileSync(path.join(DIR, 'limits.list.json'), 'utf8');
    const nftText = readFileSync(path.join(DIR, 'limits.list.nft'), 'utf8');
    const e = new RulesetEngine();
    e.load(nftJson, 'limits.list.json');
    const limitLines = (t: string) => t.split('\n').filter((l) => l.includes('limit rate') && l.includes('bytes'));
    assert.equal(limitLines(nftText).length, 8);
    assert.deepEqual(limitLines(e.list()), limitLines(nftText));
    // What hafw writes for the text form is what nft wrote for it.
    const fromText = new RulesetEngine();
    fromText.load(nftText, 'limits.list.nft');
    const limits = (j: unknown) => JSON.stringify((j as { nftables: { rule?: { expr: object[] } }[] }).nftables.flatMap((o) => o.rule?.expr.filter((x) => 'limit' in x && 'rate_unit' in (x as { limit: object }).limit) ?? []));
    assert.equal(limits(fromText.toJSON()), limits(JSON.parse(nftJson)));
  });

  it('refuses what nft refuses, with the place', () => {
    assert.equal(loadError('limit rate 1 gbytes/second'), "x.nft:2:14: unknown unit 'gbytes' (bytes, kbytes, mbytes; or RATE/UNIT for packets)");
    assert.equal(loadError('limit rate 10 mbytes/second burst 5 packets'), "x.nft:2:37: unknown unit 'packets' (bytes, kbytes, mbytes; or RATE/UNIT for packets)");
    assert.equal(loadError('limit rate 10/second burst 1 mbytes'), "x.nft:2:30: a packet rate's burst is in packets, not 'mbytes' (or give the rate in bytes)");
    assert.equal(loadError('limit rate 10 mbytes'), "x.nft:2:15: expected BYTES/UNIT after '10' (e.g. mbytes/second), got 'mbytes'");
    const json = (limit: object) => ({ nftables: [{ table: { family: 'inet', name: 't' } }, { chain: { family: 'inet', table: 't', name: 'c' } }, { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ limit }] } }] });
    const jsonError = (limit: object) => {
      try {
        new RulesetEngine().load(json(limit));
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    assert.match(jsonError({ rate: 1, per: 'second', rate_unit: 'gbytes' }), /limit rate_unit must be one of bytes, kbytes, mbytes/);
    assert.match(jsonError({ rate: 1, per: 'second', burst: 4, burst_unit: 'gbytes', rate_unit: 'bytes' }), /limit burst_unit must be one of/);
    assert.match(jsonError({ rate: 1, per: 'second', burst: 4, burst_unit: 'kbytes' }), /limit burst_unit needs rate_unit/);
    assert.match(jsonError({ rate: 1, per: 'second', burst: 4097, burst_unit: 'mbytes', rate_unit: 'bytes' }), /limit burst must be at most 4294967295 bytes/);
    assert.equal(jsonError({ rate: 1, per: 'second', burst: 4096, burst_unit: 'mbytes', rate_unit: 'bytes' }).includes('burst must be'), true, '4 GiB is one byte past 32 bits');
  });
});
