/**
 * Connection tracking numbers, offline, one process:
 *
 *   ct-insert        new UDP flows per second into a table of 1M entries (track + commit)
 *   ct-lookup        packets per second of flows already in the full table (track of an
 *                    existing entry, random order so the cache does not help), beside the
 *                    parse-only cost of the same packets
 *   ct-lookup-only   the table lookup alone (keyed hash + probe + key compare) for tuples
 *                    present in the full 1M table, random order, key words filled from the
 *                    flow number (no packet, no state machine): ns per lookup
 *   ct-memory        process RSS growth per entry once the table holds 1M connections
 *   ct-index-prefault  RSS growth of a fresh process that creates a table of 200,000
 *                    entries with prefaultIndex, beside one without (the index's pages are
 *                    resident at once, or only once touched)
 *   ct-flood         tuples crafted to pile into a few buckets of a table hashed with a
 *                    known (all-zero) key — what an attacker can do against an unkeyed
 *                    hash — tracked by a zero-keyed table (the attack works: long probes,
 *                    refused inserts) and by a normal randomly keyed one, whose cost must
 *                    stay that of random tuples (ratio ~1).
 *
 * Bounded: fixed counts, a few seconds at most on the shared 2-core box.
 */
import { spawnSync } from 'node:child_process';
import { ConnTracker } from '../node/conntrack/index.js';
import { halfSipHash13Key10 } from '../inet/index.js';
import { buildUdp } from '../node/packet/build.js';
import { PacketInfo } from '../node/packet/packet-info.js';
import { parsePacket } from '../node/packet/parse.js';
import { withRatio, type BenchResult } from './report.js';

/** Source addresses come from 198.18.0.0/15 (RFC 2544 benchmarking range). */
const SRC_BASE = (198 << 24) | (18 << 16);
const SRC_COUNT = 1 << 17;
const DST = ((198 << 24) | (19 << 16) | (255 << 8) | 254) >>> 0;
const DPORT = 53;

/** One reusable UDP/IPv4 packet whose source address and port are rewritten in place. */
class FlowPacket {
  readonly buf = buildUdp({ src: '198.18.0.1', dst: '198.19.255.254', sport: 1024, dport: DPORT, payload: 16 });
  readonly info = new PacketInfo();

  /** Rewrites the packet as flow (src, sport) and parses it (checksums do not matter here). */
  set(src: number, sport: number): PacketInfo {
    const b = this.buf;
    b[12] = src >>> 24;
    b[13] = (src >>> 16) & 0xff;
    b[14] = (src >>> 8) & 0xff;
    b[15] = src & 0xff;
    b[20] = sport >>> 8;
    b[21] = sport & 0xff;
    parsePacket(this.info, b, 0, b.length, 0);
    return this.info;
  }
}

/** Flow i of a dense set: 131072 sources x as many ports as needed. */
function flowSrc(i: number): number {
  return (SRC_BASE + (i % SRC_COUNT)) >>> 0;
}
function flowPort(i: number): number {
  return 1024 + Math.floor(i / SRC_COUNT);
}

/** A deterministic permutation-ish order for lookups (stride coprime with n). */
function strideOf(n: number): number {
  let s = Math.floor(n * 0.618) | 1;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  while (gcd(s, n) !== 1) s += 2;
  return s;
}

function rssMb(): number {
  return process.memoryUsage().rss;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

interface ConntrackBenchOptions {
  /** Entries in the big table (default 1M). */
  entries?: number;
}

export async function runConntrackBench(opts: ConntrackBenchOptions = {}): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const n = opts.entries ?? 1_000_000;
  const fp = new FlowPacket();
  const now = 1_000_000;

  // ---------------------------------------------------------------- 1M table
  gc();
  const rss0 = rssMb();
  const ct = new ConnTracker({ maxEntries: n, now: () => now, sweepPerPacket: 0 });
  let t0 = performance.now();
  let refused = 0;
  for (let i = 0; i < n; i++) {
    ct.track(fp.set(flowSrc(i), flowPort(i)), now);
    if (!ct.commit(true) || ct.result.drop) refused++;
  }
  const insertMs = performance.now() - t0;
  gc();
  const rss1 = rssMb();
  results.push({ name: 'ct-insert', value: n / (insertMs / 1000), unit: 'flows/s', note: `${n.toLocaleString('en-US')} new UDP flows into an empty table of ${n.toLocaleString('en-US')}${refused ? `, ${refused} refused` : ''} (parse included)` });
  results.push({ name: 'ct-memory', value: (rss1 - rss0) / ct.count(), unit: 'bytes/entry', note: `RSS +${((rss1 - rss0) / 1e6).toFixed(0)} MB for ${ct.count().toLocaleString('en-US')} entries (target: 1M in <= 512 MB)` });

  const stride = strideOf(n);
  const lookups = n;
  // Parse-only baseline over the same packets and order.
  t0 = performance.now();
  let k = 0;
  let sink = 0;
  for (let j = 0; j < lookups; j++) {
    sink += fp.set(flowSrc(k), flowPort(k)).sport;
    k = (k + stride) % n;
  }
  const parseMs = performance.now() - t0;
  const parse: BenchResult = { name: 'ct-lookup-parse-only', value: lookups / (parseMs / 1000), unit: 'pkts/s', note: 'rewriting + parsing the packet, no conntrack (baseline)' };
  t0 = performance.now();
  let found = 0;
  k = 0;
  for (let j = 0; j < lookups; j++) {
    ct.track(fp.set(flowSrc(k), flowPort(k)), now);
    if (ct.result.entry >= 0 && !ct.result.pending) found++;
    k = (k + stride) % n;
  }
  const lookupMs = performance.now() - t0;
  if (found !== lookups) throw new Error(`lookup bench: ${lookups - found} flows not found`);
  results.push(parse);
  results.push(
    withRatio(
      { name: 'ct-lookup', value: lookups / (lookupMs / 1000), unit: 'pkts/s', note: `existing flows in a full table, random order; ~${(((lookupMs - parseMs) * 1e6) / lookups).toFixed(0)} ns per packet beyond parsing` },
      parse,
    ),
  );
  if (sink === -1) console.log(sink);
  results.push(lookupOnly(ct, n, stride));

  // ---------------------------------------------------------------- hash flood
  results.push(...floodBench(fp));
  results.push(prefaultBench());
  return results;
}

/**
 * Each case in a fresh process: in a long-lived one the allocator may hand out memory that
 * earlier work freed and that is still resident, and then RSS grows by nothing either way.
 */
function prefaultBench(): BenchResult {
  const cap = 200_000; // index: 4 buckets x 24 bytes per entry = 19.2 MB
  const tableModule = new URL('../node/conntrack/conn-table.js', import.meta.url).href;
  const grownMb = (prefault: boolean): number => {
    const script = `import { ConnTable } from ${JSON.stringify(tableModule)};
      const before = process.memoryUsage().rss;
      new ConnTable(${cap}, 64, new Uint8Array(16), ${prefault});
      process.stdout.write(String(process.memoryUsage().rss - before));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ct-index-prefault: ${r.stderr}`);
    return Number(r.stdout) / 1e6;
  };
  const lazy = grownMb(false);
  const eager = grownMb(true);
  return { name: 'ct-index-prefault', value: eager, unit: 'MB', note: `RSS growth for a ${cap.toLocaleString('en-US')}-entry table with its index prefaulted (19.2 MB index); without: ${lazy.toFixed(1)} MB` };
}

/**
 * Lookup alone: fills the table's scratch key straight from the flow number (the words
 * track() would read from the packet), hashes and probes. Median of 3 passes over all n
 * flows in the same random order as ct-lookup; every lookup must hit.
 */
function lookupOnly(ct: ConnTracker, n: number, stride: number): BenchResult {
  const t = ct.table;
  const key = t.key;
  const meta = ((4 << 24) | (17 << 16)) >>> 0; // IPv4, UDP, zone 0
  const times: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    key.fill(0); // IPv4: address words 1-3 stay zero
    let k = 0;
    let found = 0;
    const t0 = performance.now();
    for (let j = 0; j < n; j++) {
      key[0] = flowSrc(k);
      key[4] = DST;
      key[8] = ((flowPort(k) << 16) | DPORT) >>> 0;
      key[9] = meta;
      if (t.find(t.hashKey()) >= 0) found++;
      k = (k + stride) % n;
    }
    times.push(((performance.now() - t0) * 1e6) / n);
    if (found !== n) throw new Error(`lookup-only bench: ${n - found} flows not found`);
  }
  times.sort((a, b) => a - b);
  const ns = times[1]!;
  return { name: 'ct-lookup-only', value: 1e9 / ns, unit: 'lookups/s', note: `hash + probe + compare of existing tuples in the full ${n.toLocaleString('en-US')} table, random order: ${ns.toFixed(0)} ns per lookup (median of 3)` };
}

/** Table for the flood: small, so crafting colliding tuples takes well under a second. */
const FLOOD_CAP = 65536;
const FLOOD_TUPLES = 8000;
/** Crafted tuples share these high hash bits (which pick the bucket) under the zero key: 1 in 4096 candidates. */
const FLOOD_BITS = 12;

/**
 * Original-direction tuples (src, sport) whose HalfSipHash-1-3 under the all-zero key has
 * its top FLOOD_BITS bits zero: the table takes a hash's home bucket as floor(h * buckets
 * / 2^32), so in a zero-keyed table they all start probing in the first 64 buckets of 262,144.
 */
function craftCollisions(count: number): { src: Uint32Array; port: Uint16Array; tried: number } {
  const w = new Uint32Array(10);
  const src = new Uint32Array(count);
  const port = new Uint16Array(count);
  const shift = 32 - FLOOD_BITS;
  w[4] = DST;
  w[9] = ((4 << 24) | (17 << 16)) >>> 0;
  let got = 0;
  let i = 0;
  while (got < count) {
    const s = flowSrc(i);
    const p = flowPort(i) + 20000;
    w[0] = s;
    w[8] = ((p << 16) | DPORT) >>> 0;
    if (halfSipHash13Key10(w, 0, 0) >>> shift === 0) {
      src[got] = s;
      port[got] = p;
      got++;
    }
    i++;
  }
  return { src, port, tried: i };
}

/**
 * Inserts the flows into a fresh table, then tracks each of them `rounds` times; returns
 * the lookup phase's ns per packet (median of 3 runs) and how many inserts were refused.
 */
function runFlows(make: () => ConnTracker, fp: FlowPacket, src: Uint32Array, port: Uint16Array, rounds: number): { nsPerPkt: number; refused: number } {
  const now = 1_000_000;
  const times: number[] = [];
  let refused = 0;
  for (let rep = 0; rep < 3; rep++) {
    const ct = make();
    refused = 0;
    for (let i = 0; i < src.length; i++) {
      ct.track(fp.set(src[i]!, port[i]!), now);
      if (!ct.commit(true)) refused++;
    }
    const t0 = performance.now();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < src.length; i++) ct.track(fp.set(src[i]!, port[i]!), now);
    }
    times.push(((performance.now() - t0) * 1e6) / (src.length * rounds));
  }
  times.sort((a, b) => a - b);
  return { nsPerPkt: times[1]!, refused };
}

function floodBench(fp: FlowPacket): BenchResult[] {
  const t0 = performance.now();
  const crafted = craftCollisions(FLOOD_TUPLES);
  const craftMs = performance.now() - t0;
  const random = { src: new Uint32Array(FLOOD_TUPLES), port: new Uint16Array(FLOOD_TUPLES) };
  for (let i = 0; i < FLOOD_TUPLES; i++) {
    // Spread over the whole range: flow numbers far apart, so nothing lines up.
    const f = (i * 7919 + 13) % (SRC_COUNT * 8);
    random.src[i] = flowSrc(f);
    random.port[i] = flowPort(f) + 30000;
  }
  const rounds = 20;
  const zeroKey = new Uint8Array(8);
  const opts = { maxEntries: FLOOD_CAP, now: () => 1_000_000, sweepPerPacket: 0 };
  const keyedTable = (): ConnTracker => new ConnTracker(opts);
  // Warm up the code paths once so the first measured run is not the JIT's.
  runFlows(keyedTable, fp, random.src, random.port, 2);

  const base = runFlows(keyedTable, fp, random.src, random.port, rounds);
  const keyed = runFlows(keyedTable, fp, crafted.src, crafted.port, rounds);
  const unkeyed = runFlows(() => new ConnTracker({ ...opts, hashKey: zeroKey }), fp, crafted.src, crafted.port, rounds);
  const baseRow: BenchResult = { name: 'ct-flood-random-tuples', value: base.nsPerPkt, unit: 'ns/pkt', note: `${FLOOD_TUPLES} random flows in a table of ${FLOOD_CAP}, random key: tracking them once inserted (baseline)` };
  return [
    baseRow,
    withRatio(
      {
        name: 'ct-flood-crafted-keyed',
        value: keyed.nsPerPkt,
        unit: 'ns/pkt',
        note: `${FLOOD_TUPLES} flows colliding under the zero key (${crafted.tried.toLocaleString('en-US')} candidates in ${craftMs.toFixed(0)} ms), random key: must stay ~1x${keyed.refused ? `; ${keyed.refused} refused` : ''}`,
      },
      baseRow,
    ),
    withRatio(
      {
        name: 'ct-flood-crafted-unkeyed',
        value: unkeyed.nsPerPkt,
        unit: 'ns/pkt',
        note: `the same flows against a table hashed with the zero key (what an unkeyed hash allows): ${unkeyed.refused} of ${FLOOD_TUPLES} inserts refused at the probe cap`,
      },
      baseRow,
    ),
  ];
}
