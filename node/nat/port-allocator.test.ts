import assert from 'node:assert/strict';
import { parseAddress } from '../packet/address.js';
import { IpProto } from '../packet/packet-info.js';
import { NatBinding, ORIG_DST, ORIG_SRC } from './binding.js';
import { NatFlags } from './nat-flags.js';
import { MAX_SCAN_WORDS, PORT_EXHAUSTED, PortAllocator, PortPool } from './port-allocator.js';
import { rng } from '../../inet/index.js';

const PUBLIC = parseAddress('198.51.100.2').bytes;

/** A TCP binding from client 192.0.2.x:sport to 198.51.100.100:dport (original tuple only). */
function conn(b: NatBinding, client: number, sport: number, dport = 80, proto: number = IpProto.Tcp): NatBinding {
  b.family = 4;
  b.proto = proto;
  b.addrs.fill(0);
  b.addrs.set([192, 0, 2, client & 0xff], ORIG_SRC);
  b.addrs.set([198, 51, 100, 100], ORIG_DST);
  b.origSport = sport;
  b.origDport = dport;
  b.natSport = sport;
  b.natDport = dport;
  return b;
}

function naiveFree(pool: PortPool, min: number, max: number, start: number): number {
  for (let p = start; p <= max; p++) if (!pool.isTaken(p)) return p;
  for (let p = min; p < start; p++) if (!pool.isTaken(p)) return p;
  return -1;
}

describe('nat port allocator', () => {
  it('hashes with the reference HalfSipHash-2-4 (the inet library\'s, checked against its published vectors)', () => {
    // Key bytes 00..07 and message 00 01 02 03: the reference vector's tag is 0x89466e2a.
    const a = new PortAllocator({ key: [0x03020100, 0x07060504] });
    assert.equal(a.hashWords(Uint32Array.of(0x03020100), 1), 0x89466e2a);
    assert.equal(a.hashWords(new Uint32Array(0), 0), 0x5b9f35a9);
  });

  it('keeps the original port when it is free, and picks another when it is not', () => {
    const a = new PortAllocator({ key: [1, 2] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Tcp);
    const b = new NatBinding();
    assert.equal(a.allocate(pool, conn(b, 100, 40000), 0, 0, 0), 40000);
    const second = a.allocate(pool, conn(b, 101, 40000), 0, 0, 0);
    assert.notEqual(second, 40000);
    assert.ok(second >= 1024 && second <= 65535, `${second} in the default range`);
    assert.equal(a.stats.kept, 1);
    assert.equal(a.stats.allocated, 2);
  });

  it('maps privileged ports into the Linux default ranges', () => {
    const a = new PortAllocator({ key: [3, 4] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Udp);
    const b = new NatBinding();
    pool.take(123);
    pool.take(700);
    for (let i = 0; i < 50; i++) {
      const low = a.allocate(pool, conn(b, i, 123, 53, IpProto.Udp), 0, 0, 0);
      assert.ok(low >= 1 && low <= 511, `port ${low} for source port 123`);
      const mid = a.allocate(pool, conn(b, i, 700, 53, IpProto.Udp), 0, 0, 0);
      assert.ok(mid >= 600 && mid <= 1023, `port ${mid} for source port 700`);
    }
  });

  it('never keeps the port with random or fully-random, and stays in the range', () => {
    const a = new PortAllocator({ key: [5, 6] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Tcp);
    const b = new NatBinding();
    let keptRandom = 0;
    let keptFully = 0;
    for (let i = 0; i < 200; i++) {
      const p1 = a.allocate(pool, conn(b, i, 20000 + i), 20000, 29999, NatFlags.Random);
      const p2 = a.allocate(pool, conn(b, i, 30000 + i), 30000, 39999, NatFlags.FullyRandom);
      assert.ok(p1 >= 20000 && p1 <= 29999);
      assert.ok(p2 >= 30000 && p2 <= 39999);
      if (p1 === 20000 + i) keptRandom++;
      if (p2 === 30000 + i) keptFully++;
    }
    // A coincidence is possible, 200 of them are not.
    assert.ok(keptRandom < 5 && keptFully < 5, `${keptRandom} ${keptFully}`);
    assert.equal(a.stats.kept, 0);
  });

  it('spreads the first port of hashed connections over the whole range', () => {
    const a = new PortAllocator({ key: [7, 8] });
    const b = new NatBinding();
    const buckets = new Array<number>(16).fill(0);
    const N = 3200;
    for (let i = 0; i < N; i++) {
      // A fresh pool each time, so the port is exactly the hashed start.
      const pool = new PortPool(4, PUBLIC, 0, IpProto.Tcp);
      const p = a.allocate(pool, conn(b, i & 0xff, 1024 + i, 80 + (i >> 8)), 1024, 65535, NatFlags.Random);
      buckets[Math.floor(((p - 1024) * 16) / 64512)]++;
    }
    const expect = N / 16;
    let chi = 0;
    for (const c of buckets) chi += ((c - expect) * (c - expect)) / expect;
    // 15 degrees of freedom: chi^2 > 37.7 has probability 0.001 for a uniform source.
    assert.ok(chi < 37.7, `chi^2 ${chi.toFixed(1)} buckets ${buckets.join(',')}`);
  });

  it('gives different keys different ports for the same connection', () => {
    const b = conn(new NatBinding(), 1, 5555);
    const seen = new Set<number>();
    for (let k = 0; k < 20; k++) {
      const a = new PortAllocator({ key: [k, k * 7 + 1] });
      seen.add(a.allocate(a.pool(4, PUBLIC, 0, IpProto.Tcp), b, 1024, 65535, NatFlags.Random));
    }
    assert.ok(seen.size >= 18, `${seen.size} distinct ports from 20 keys`);
  });

  it('reports exhaustion of all 65,535 ports without throwing, and reuses a released port', () => {
    const a = new PortAllocator({ key: [9, 10] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Udp);
    const b = new NatBinding();
    const seen = new Uint8Array(65536);
    for (let i = 0; i < 65535; i++) {
      const p = a.allocate(pool, conn(b, i & 0xff, 1 + (i % 65535), 53, IpProto.Udp), 1, 65535, 0);
      assert.ok(p >= 1 && p <= 65535, `allocation ${i} got ${p}`);
      assert.equal(seen[p], 0, `port ${p} handed out twice`);
      seen[p] = 1;
    }
    assert.equal(pool.used, 65535);
    assert.equal(a.allocate(pool, conn(b, 1, 999, 53, IpProto.Udp), 1, 65535, 0), PORT_EXHAUSTED);
    assert.equal(a.allocate(pool, conn(b, 2, 999, 53, IpProto.Udp), 1, 65535, NatFlags.FullyRandom), PORT_EXHAUSTED);
    assert.equal(a.stats.exhausted, 2);
    assert.ok(a.stats.maxScanWords <= MAX_SCAN_WORDS);
    assert.ok(a.release(pool, 31337));
    assert.equal(a.release(pool, 31337), false, 'a second release is refused');
    assert.equal(a.allocate(pool, conn(b, 3, 999, 53, IpProto.Udp), 1, 65535, NatFlags.Random), 31337);
    assert.equal(a.allocate(pool, conn(b, 4, 999, 53, IpProto.Udp), 1, 65535, 0), PORT_EXHAUSTED);
  });

  it('exhausts a small range on its own while the rest of the address stays free', () => {
    const a = new PortAllocator({ key: [11, 12] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Tcp);
    const b = new NatBinding();
    const got = new Set<number>();
    for (let i = 0; i < 10; i++) got.add(a.allocate(pool, conn(b, i, 50000), 61000, 61009, 0));
    assert.deepEqual([...got].sort(), [61000, 61001, 61002, 61003, 61004, 61005, 61006, 61007, 61008, 61009]);
    assert.equal(a.allocate(pool, conn(b, 99, 50000), 61000, 61009, 0), PORT_EXHAUSTED);
    assert.equal(a.allocate(pool, conn(b, 99, 50000), 0, 0, 0), 50000);
  });

  it('finds the same free port as a naive scan on random bitmaps (bounded)', () => {
    const r = rng(42);
    const pool = new PortPool(4, PUBLIC, 0, IpProto.Tcp);
    for (let round = 0; round < 300; round++) {
      // Fill a random stretch densely so full words, summary bits and edges all occur.
      const lo = Math.floor(r() * 65536);
      const hi = Math.min(65535, lo + Math.floor(r() * 4096));
      const density = r();
      for (let p = lo; p <= hi; p++) if (r() < density + 0.5) pool.take(p);
      const min = Math.max(0, lo - Math.floor(r() * 64));
      const max = Math.min(65535, hi + Math.floor(r() * 64));
      const start = min + Math.floor(r() * (max - min + 1));
      assert.equal(pool.findFree(min, max, start), naiveFree(pool, min, max, start), `round ${round} [${min}, ${max}] from ${start}`);
      assert.ok(pool.lastScanWords <= MAX_SCAN_WORDS);
      for (let p = lo; p <= hi; p++) pool.release(p);
      assert.equal(pool.used, 0);
    }
  });

  it('stays within a bounded number of words per allocation with 60,000 live bindings', () => {
    const a = new PortAllocator({ key: [13, 14] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Tcp);
    const b = new NatBinding();
    const live: number[] = [];
    for (let i = 0; i < 60000; i++) {
      const p = a.allocate(pool, conn(b, i & 0xff, 1024 + (i % 60000), 443), 1024, 65535, NatFlags.Random);
      assert.notEqual(p, PORT_EXHAUSTED);
      live.push(p);
    }
    assert.equal(pool.used, 60000);
    // Churn at full load: release a random live binding, allocate a new one.
    const r = rng(7);
    let words = 0;
    const rounds = 5000;
    for (let i = 0; i < rounds; i++) {
      const k = Math.floor(r() * live.length);
      assert.ok(a.release(pool, live[k]));
      const p = a.allocate(pool, conn(b, i & 0xff, 2000 + i, 8443), 1024, 65535, NatFlags.Random);
      assert.notEqual(p, PORT_EXHAUSTED);
      live[k] = p;
      words += pool.lastScanWords;
    }
    assert.ok(a.stats.maxScanWords <= MAX_SCAN_WORDS, `max ${a.stats.maxScanWords}`);
    // A scan of the bindings would touch 60,000 entries; a plain bitmap walk up to 2,016 words.
    assert.ok(words / rounds < 8, `average ${words / rounds} words`);
  });

  it('reserves replicated ports and reports conflicts', () => {
    const a = new PortAllocator({ key: [15, 16] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Tcp);
    assert.equal(a.reserve(pool, 40000), true);
    assert.equal(a.reserve(pool, 40000), false);
    assert.equal(a.stats.reserved, 1);
    assert.equal(a.stats.reserveConflicts, 1);
    // A reserved port is not handed out again.
    const b = conn(new NatBinding(), 1, 40000);
    assert.notEqual(a.allocate(pool, b, 0, 0, 0), 40000);
  });

  it('keeps separate pools per address, protocol and family', () => {
    const a = new PortAllocator({ key: [17, 18] });
    const tcp = a.pool(4, PUBLIC, 0, IpProto.Tcp);
    assert.equal(a.pool(4, PUBLIC, 0, IpProto.Tcp), tcp);
    assert.notEqual(a.pool(4, PUBLIC, 0, IpProto.Udp), tcp);
    assert.notEqual(a.pool(4, parseAddress('198.51.100.3').bytes, 0, IpProto.Tcp), tcp);
    const v6 = parseAddress('2001:db8:1::2').bytes;
    const p6 = a.pool(6, v6, 0, IpProto.Tcp);
    assert.equal(a.pool(6, parseAddress('2001:db8:1::2').bytes, 0, IpProto.Tcp), p6);
    assert.notEqual(a.pool(6, parseAddress('2001:db8:1::3').bytes, 0, IpProto.Tcp), p6);
    assert.equal(a.poolCount, 5);
    tcp.take(1000);
    assert.equal(a.pool(4, PUBLIC, 0, IpProto.Udp).isTaken(1000), false);
  });

  it('releases a binding once and forgets its pool', () => {
    const a = new PortAllocator({ key: [19, 20] });
    const pool = a.pool(4, PUBLIC, 0, IpProto.Tcp);
    const b = conn(new NatBinding(), 1, 40000);
    b.natSport = a.allocate(pool, b, 0, 0, 0);
    b.pool = pool;
    a.releaseBinding(b);
    a.releaseBinding(b);
    assert.equal(pool.used, 0);
    assert.equal(a.stats.released, 1);
    assert.equal(b.pool, null);
  });

  it('allocateNear (a port for a connection still to come): the wanted port when free, below the range too; else the next free one after it, wrapping; exhausted counted', () => {
    const a = new PortAllocator({ key: [3, 4] });
    const pool = a.pool(4, new Uint8Array([198, 51, 100, 2]), 0, 6);
    assert.equal(a.allocateNear(pool, 50000, 1024, 65535), 50000);
    assert.equal(a.allocateNear(pool, 50000, 1024, 65535), 50001, 'taken: the next one');
    assert.equal(a.allocateNear(pool, 21, 1024, 65535), 21, 'a wanted port below the range is kept when free');
    assert.equal(a.allocateNear(pool, 21, 1024, 65535), 1024, 'taken: the range from its start');
    assert.ok(pool.take(65535));
    assert.equal(a.allocateNear(pool, 65535, 1024, 65535), 1025, 'past the end: wraps to the range\'s first free port');
    assert.equal(a.allocateNear(pool, 0, 1024, 65535), 1026, '0 is no port: the range\'s first free one');
    assert.equal(a.stats.kept, 2);
    const small = a.pool(4, new Uint8Array([198, 51, 100, 3]), 0, 6);
    assert.equal(a.allocateNear(small, 2000, 2000, 2001), 2000);
    assert.equal(a.allocateNear(small, 2000, 2000, 2001), 2001);
    assert.equal(a.allocateNear(small, 2000, 2000, 2001), PORT_EXHAUSTED);
    assert.equal(a.stats.exhausted, 1);
  });
});
