import assert from 'node:assert/strict';
import { ConnTable } from './conn-table.js';
import { FIXED_KEY } from './testing.js';
import { Rng } from '../../inet/index.js';
import { execFileSync } from 'node:child_process';

/** Writes entry e's tuples: original words `o`, reply words `r` (10 key words each). */
function store(t: ConnTable, e: number, family: number, proto: number, zone: number, o: number[], r: number[]): void {
  t.key.set(o);
  t.storeKey(2 * e);
  t.key.set(r);
  t.storeKey(2 * e + 1);
  t.family[e] = family;
  t.proto[e] = proto;
  t.zone[e] = zone;
}

/** The tuple v a lookup of these 10 key words finds, or -1. */
function lookup(t: ConnTable, words: number[]): number {
  for (let i = 0; i < 10; i++) t.key[i] = words[i]!;
  return t.find(t.hashKey());
}

function lookupHash(t: ConnTable, words: number[]): number {
  for (let i = 0; i < 10; i++) t.key[i] = words[i]!;
  return t.hashKey();
}

const meta = (family: number, proto: number, zone: number) => ((family << 24) | (proto << 16) | zone) >>> 0;

describe('ConnTable lookup', () => {
  it('tells apart IPv6 tuples that differ only in address words 1-3 (not copied into the bucket)', () => {
    const t = new ConnTable(16, 64, FIXED_KEY);
    const m = meta(6, 17, 0);
    const a = [0x20010db8, 0, 0, 1, 0x20010db8, 0, 0, 2, (1000 << 16) | 53, m];
    const b = [0x20010db8, 0, 0, 9, 0x20010db8, 0, 0, 2, (1000 << 16) | 53, m];
    const inv = (w: number[]) => [...w.slice(4, 8), ...w.slice(0, 4), ((w[8]! & 0xffff) << 16) | (w[8]! >>> 16), w[9]!];
    const ea = t.alloc();
    store(t, ea, 6, 17, 0, a, inv(a));
    assert.equal(t.link(ea), 0);
    const eb = t.alloc();
    store(t, eb, 6, 17, 0, b, inv(b));
    assert.equal(t.link(eb), 0, 'b is a different tuple, not a clash');
    assert.equal(lookup(t, a), 2 * ea);
    assert.equal(lookup(t, b), 2 * eb);
    assert.equal(lookup(t, inv(b)), 2 * eb + 1);
    const c = [...a];
    c[6] = 7; // destination word 2
    assert.equal(lookup(t, c), -1);
  });

  it('does not take a full 32-bit hash collision for a match: the key words decide', () => {
    const t = new ConnTable(16, 64, FIXED_KEY);
    const inv = (w: number[]) => [...w.slice(4, 8), ...w.slice(0, 4), ((w[8]! & 0xffff) << 16) | (w[8]! >>> 16), w[9]!];
    // Birthday search for two tuples with the same hash: one differing only in word `at`.
    const collide = (base: number[], at: number): [number[], number[]] => {
      const seen = new Map<number, number>();
      for (let x = 1; x < 1 << 20; x++) {
        base[at] = x;
        const h = lookupHash(t, base);
        const y = seen.get(h);
        if (y !== undefined) {
          const a = [...base];
          a[at] = y;
          return [a, [...base]];
        }
        seen.set(h, x);
      }
      throw new Error('no collision found');
    };
    const cases: [number, number[], number][] = [
      // IPv6, differing in source word 3 (not copied into the bucket)
      [6, [0x20010db8, 0, 0, 0, 0x20010db8, 0, 0, 2, (1000 << 16) | 53, meta(6, 17, 0)], 3],
      // IPv4, differing in the ports word (copied into the bucket)
      [4, [0xc0000201, 0, 0, 0, 0xc6336464, 0, 0, 0, 0, meta(4, 17, 0)], 8],
    ];
    for (const [fam, base, at] of cases) {
      const [a, b] = collide(base, at);
      assert.equal(lookupHash(t, a), lookupHash(t, b));
      const ea = t.alloc();
      store(t, ea, fam, 17, 0, a, inv(a));
      assert.equal(t.link(ea), 0);
      assert.equal(lookup(t, b), -1, `family ${fam}: same hash, other tuple`);
      const eb = t.alloc();
      store(t, eb, fam, 17, 0, b, inv(b));
      assert.equal(t.link(eb), 0, `family ${fam}: a colliding tuple is not a clash`);
      assert.equal(lookup(t, a), 2 * ea);
      assert.equal(lookup(t, b), 2 * eb);
    }
  });

  it('compares every bucket word: ports, protocol and zone each separate tuples', () => {
    const t = new ConnTable(64, 64, FIXED_KEY);
    const src = 0xc0000201;
    const dst = 0xc6336464;
    const base = [src, 0, 0, 0, dst, 0, 0, 0, (1000 << 16) | 53, meta(4, 17, 0)];
    const variants = [base, [...base.slice(0, 8), (1001 << 16) | 53, base[9]!], [...base.slice(0, 9), meta(4, 6, 0)], [...base.slice(0, 9), meta(4, 17, 5)]];
    const entries: number[] = [];
    for (const w of variants) {
      const e = t.alloc();
      store(t, e, 4, (w[9]! >>> 16) & 0xff, w[9]! & 0xffff, w, [dst, 0, 0, 0, src, 0, 0, 0, ((w[8]! & 0xffff) << 16) | (w[8]! >>> 16), w[9]!]);
      assert.equal(t.link(e), 0);
      entries.push(e);
    }
    variants.forEach((w, i) => assert.equal(lookup(t, w), 2 * entries[i]!));
    assert.equal(lookup(t, [...base.slice(0, 9), meta(4, 17, 6)]), -1);
    assert.equal(lookup(t, [...base.slice(0, 9), meta(6, 17, 0)]), -1, 'same words, other family');
  });

  it('clears stray address words 1-3 of an IPv4 entry at link, so the clean key finds it', () => {
    const t = new ConnTable(8, 8, FIXED_KEY);
    const e = t.alloc();
    const o = [0x0a000001, 5, 6, 7, 0x0a000002, 8, 9, 10, (40000 << 16) | 80, meta(4, 6, 0)];
    const r = [0x0a000002, 1, 1, 1, 0x0a000001, 2, 2, 2, (80 << 16) | 40000, meta(4, 6, 0)];
    store(t, e, 4, 6, 0, o, r);
    assert.equal(t.link(e), 0);
    for (const v of [2 * e, 2 * e + 1]) {
      t.keyFromTuple(v);
      for (const i of [1, 2, 3, 5, 6, 7]) assert.equal(t.key[i], 0, `tuple ${v & 1} addr word ${i}`);
    }
    assert.equal(lookup(t, [0x0a000001, 0, 0, 0, 0x0a000002, 0, 0, 0, (40000 << 16) | 80, meta(4, 6, 0)]), 2 * e);
    assert.equal(lookup(t, [0x0a000002, 0, 0, 0, 0x0a000001, 0, 0, 0, (80 << 16) | 40000, meta(4, 6, 0)]), 2 * e + 1);
  });

  for (const cap of [500, 7]) {
  it(`agrees with a Map through random inserts and deletes of mixed IPv4/IPv6 tuples (${cap} entries, ${4 * cap} buckets, bounded)`, () => {
    const t = new ConnTable(cap, 64, FIXED_KEY);
    const r = new Rng(99);
    const rnd = (n: number): number => r.int(n);
    const model = new Map<string, number>(); // key words -> v
    const byEntry = new Map<number, number[][]>();
    const gone: number[][] = [];
    const verify = (): void => {
      for (const [, tuples] of byEntry) for (const w of tuples) assert.equal(lookup(t, w), model.get(w.join()));
    };
    for (let op = 0; op < 3000; op++) {
      // Small table: every probe path wraps around the end now and then; check after each step.
      if (cap < 16) verify();
      if (byEntry.size < cap && (byEntry.size === 0 || rnd(3) !== 0)) {
        const v6 = rnd(2) === 1;
        const fam = v6 ? 6 : 4;
        // Few distinct values per word, so tuples share words and probe paths cross.
        const w = (): number => (v6 ? rnd(4) : 0);
        const o = [rnd(8), w(), w(), w(), rnd(8), w(), w(), w(), ((rnd(16) << 16) | rnd(4)) >>> 0, meta(fam, 17, rnd(2))];
        const r = [o[4]!, o[5]!, o[6]!, o[7]!, o[0]!, o[1]!, o[2]!, o[3]!, (((o[8]! & 0xffff) << 16) | (o[8]! >>> 16)) >>> 0, o[9]!];
        if (model.has(o.join()) || model.has(r.join()) || o.join() === r.join()) continue;
        const e = t.alloc();
        store(t, e, fam, 17, o[9]! & 0xffff, o, r);
        assert.equal(t.link(e), 0);
        model.set(o.join(), 2 * e);
        model.set(r.join(), 2 * e + 1);
        byEntry.set(e, [o, r]);
      } else {
        const es = [...byEntry.keys()];
        const e = es[rnd(es.length)]!;
        const [o, r] = byEntry.get(e)!;
        t.free(e);
        model.delete(o!.join());
        model.delete(r!.join());
        byEntry.delete(e);
        gone.push(o!, r!);
      }
    }
    assert.ok(byEntry.size > cap / 2, `the table is well filled (${byEntry.size})`);
    verify();
    for (const w of gone) assert.equal(lookup(t, w), model.get(w.join()) ?? -1);
  });
  }

  it('holds an entry in under 300 bytes of typed arrays at any size (1M entries well inside 512 MB)', () => {
    // Sizes just above and below a power of two: the index is not rounded up.
    for (const cap of [(1 << 14) + 1, (1 << 14) - 1, 10_000]) {
      const t = new ConnTable(cap, 64, FIXED_KEY);
      const perEntry = t.byteSize() / t.cap;
      assert.ok(perEntry < 300, `${cap} entries: ${perEntry} bytes per entry`);
    }
  });
});

describe('ConnTable memory: pages are written as entries are used, not at construction', () => {
  /** RSS growth (bytes) of a fresh process constructing a table of `cap` entries. */
  function rssOfNewTable(cap: number): number {
    const url = new URL('./conn-table.js', import.meta.url).href;
    const code = `import { ConnTable } from ${JSON.stringify(url)};
      import { readFileSync } from 'node:fs';
      const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      const before = rss();
      const t = new ConnTable(${cap}, 64, new Uint8Array(8));
      if (t.cap !== ${cap}) throw new Error("cap");
      process.stdout.write(String(rss() - before));`;
    return Number(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }));
  }

  it('a table for 1M entries costs under 2 MB resident until it holds entries (no free-list or index prefill)', () => {
    // Before: the free list was initialised (4 bytes an entry, 4 MB) at construction.
    const grown = rssOfNewTable(1 << 20);
    assert.ok(grown < 2 * 2 ** 20, `constructing the table made ${(grown / 2 ** 20).toFixed(1)} MB resident`);
  });

  it('hands out freed slots first, then never-used ones from 0 up; full at cap', () => {
    const t = new ConnTable(4, 64, FIXED_KEY);
    assert.deepEqual([t.alloc(), t.alloc(), t.alloc()], [0, 1, 2]);
    t.free(1);
    t.free(0);
    assert.deepEqual([t.alloc(), t.alloc(), t.alloc(), t.alloc()], [0, 1, 3, -1]);
    t.free(2);
    assert.equal(t.alloc(), 2);
  });

  it('touchedBytes follows the highest slot used and the index changes, up to byteSize()', () => {
    const t = new ConnTable(1000, 64, FIXED_KEY);
    assert.equal(t.touchedBytes, 0);
    for (let e = 0; e < 500; e++) {
      assert.equal(t.alloc(), e);
      store(t, e, 4, 17, 0, [e, 0, 0, 0, 1, 0, 0, 0, 0x10001, meta(4, 17, 0)], [1, 0, 0, 0, e, 0, 0, 0, 0x10001, meta(4, 17, 0)]);
      assert.equal(t.link(e), 0);
    }
    const half = t.touchedBytes;
    assert.ok(half > 0 && half < t.byteSize(), `${half} of ${t.byteSize()}`);
    const full = new ConnTable(1000, 64, FIXED_KEY, true);
    assert.ok(full.touchedBytes >= 1000 * 96, 'a prefaulted index counts whole');
  });
});
