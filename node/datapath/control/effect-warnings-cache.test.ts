import assert from 'node:assert/strict';
import { RulesetEngine } from '../../ruleset/index.js';
import { clusterSegmentWarnings, effectWarnings } from './effect-warnings.js';
import { EffectWarningsCache } from './effect-warnings-cache.js';

const SEG = { interfaces: ['lan', 'wan', 'sync0'], syncInterface: 'sync0' };

function full(e: RulesetEngine): string[] {
  const out = effectWarnings(e.ruleset, { interfaces: SEG.interfaces }).map((w) => `${w.where}: ${w.message}`);
  out.push(...clusterSegmentWarnings(e.ruleset, SEG));
  return out;
}

/** Deterministic PRNG (mulberry32): a failure names its seed and step. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rule bodies: half of them warn somewhere (input/output protocols, wrong side, unknown interface, log flags). */
const BODIES = [
  'tcp dport 22 accept',
  'meta l4proto vrrp accept',
  'ip protocol 89 accept',
  'icmpv6 type echo-request accept',
  'oifname "lan" accept',
  'iifname "lan" accept',
  'iifname "eth9" drop',
  'iifname "wa*" accept',
  'log flags all accept',
  'ip saddr @blk drop',
  'udp dport 53 counter accept',
];
const HOOKS = ['input', 'output', 'forward'];

function seedRuleset(): string {
  return `table inet f {
  set blk { type ipv4_addr; }
  flowtable ft { hook ingress priority 0; devices = { lan, dmz }; }
  chain in { type filter hook input priority 0; policy drop; tcp dport 22 accept; meta l4proto vrrp accept }
  chain out { type filter hook output priority 0; policy accept; iifname "lan" accept }
  chain fw { type filter hook forward priority 0; policy drop; iifname "eth9" accept }
  chain c0 { log flags all accept }
}
table ip g {
  set blk { type ipv4_addr; }
  chain c1 { udp dport 53 accept }
}
`;
}

interface Model {
  tables: string[];
}

/** One random batch against the engine's current ruleset (some of them are refused: fine, nothing changes). */
function randomBatch(e: RulesetEngine, r: () => number, n: number, model: Model): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const state = e.ruleset;
  const tables = [...state.tables.values()];
  if (tables.length === 0) return `add table inet f`;
  const t = pick(tables);
  const tn = `${t.json.family} ${t.json.name}`;
  const chains = [...t.chains.values()];
  const c = chains.length > 0 ? pick(chains) : undefined;
  const handles = c ? c.rules.map((x) => x.handle!) : [];
  const roll = r();
  if (roll < 0.3 && c) return `add rule ${tn} ${c.json.name} ${pick(BODIES)}`;
  if (roll < 0.38 && c) return handles.length > 0 ? `insert rule ${tn} ${c.json.name} position ${pick(handles)} ${pick(BODIES)}` : `insert rule ${tn} ${c.json.name} ${pick(BODIES)}`;
  if (roll < 0.48 && c && handles.length > 0) return `delete rule ${tn} ${c.json.name} handle ${pick(handles)}`;
  if (roll < 0.56 && c && handles.length > 0) return `replace rule ${tn} ${c.json.name} handle ${pick(handles)} ${pick(BODIES)}`;
  if (roll < 0.62) return `add chain ${tn} n${n}\nadd rule ${tn} n${n} ${pick(BODIES)}`;
  if (roll < 0.68) {
    const hook = pick(HOOKS);
    return `add chain ${tn} b${n} { type filter hook ${hook} priority ${Math.floor(r() * 10)}; policy ${r() < 0.5 ? 'drop' : 'accept'}; }\nadd rule ${tn} b${n} ${pick(BODIES)}`;
  }
  if (roll < 0.72 && c?.json.hook) return `add chain ${tn} ${c.json.name} { type filter hook ${c.json.hook} priority 0; policy ${c.json.policy === 'drop' ? 'accept' : 'drop'}; }`;
  if (roll < 0.77 && c) return `delete chain ${tn} ${c.json.name}`;
  if (roll < 0.8 && c) return `flush chain ${tn} ${c.json.name}`;
  if (roll < 0.82) return `flush table ${tn}`;
  if (roll < 0.86) return `add element ${tn} blk { 192.0.2.${1 + Math.floor(r() * 250)} }`;
  if (roll < 0.88) return `delete set ${tn} blk\nadd set ${tn} blk { type ipv4_addr; }`;
  if (roll < 0.91) {
    const name = `t${n}`;
    model.tables.push(name);
    // Some new tables bring a flowtable with an unprotected device (a table-level warning).
    if (n % 2 === 0) return `add table inet ${name}\nadd flowtable inet ${name} ft { hook ingress priority 0; devices = { wan, vpn${n} }; }`;
    return `add table inet ${name}\nadd chain inet ${name} in { type filter hook input priority 5; policy drop; }\nadd rule inet ${name} in ${pick(BODIES)}`;
  }
  if (roll < 0.93 && model.tables.length > 0) return `delete table inet ${model.tables.splice(Math.floor(r() * model.tables.length), 1)[0]}`;
  if (roll < 0.95) return seedRuleset(); // a whole-ruleset replace (load)
  // Several rules into several chains at once.
  return chains.slice(0, 3).map((x) => `add rule ${tn} ${x.json.name} ${pick(BODIES)}`).join('\n') || `add table inet f`;
}

describe('effect warnings follow the commits (effect-warnings-cache)', () => {
  it('equal a full recompute after every step of seeded random transactions (rules, chains, base chains, sets, tables, replace)', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const r = rng(seed);
      const e = new RulesetEngine();
      e.load(seedRuleset());
      const cache = new EffectWarningsCache(e, SEG);
      const model: Model = { tables: [] };
      let asked = 0;
      for (let n = 0; n < 250; n++) {
        const batch = randomBatch(e, r, n, model);
        try {
          if (batch === seedRuleset()) e.load(batch);
          else e.transaction(batch);
        } catch {
          continue; // refused (e.g. a chain still referenced): nothing changed
        }
        // Not every commit is asked about (the service skips element-only batches, expiry commits).
        if (r() < 0.3) continue;
        asked++;
        assert.deepEqual(cache.warnings(), full(e), `seed ${seed}, step ${n}, after:\n${batch}`);
      }
      assert.deepEqual(cache.warnings(), full(e), `seed ${seed}, at the end`);
      assert.ok(asked > 100, `seed ${seed}: only ${asked} steps compared`);
    }
  });

  it('a rule transaction recomputes only the chain it touched, whether 1k or 100k rules are loaded', () => {
    const work: { computed: number; scanned: number }[] = [];
    for (const chains of [100, 10_000]) {
      const lines = ['table inet f {', '  chain in { type filter hook input priority 0; policy drop; meta l4proto vrrp accept }'];
      for (let c = 0; c < chains; c++) {
        lines.push(`  chain c${c} {`);
        for (let i = 0; i < 10; i++) lines.push(`    ${i === 0 && c % 50 === 0 ? 'iifname "eth9" ' : ''}ip saddr 198.51.100.${i + 1} tcp dport ${1024 + c} accept`);
        lines.push('  }');
      }
      lines.push('}');
      const e = new RulesetEngine({ limits: { maxExpandedTokens: 100_000_000, maxBytes: 64 << 20 } });
      e.load(lines.join('\n'));
      const cache = new EffectWarningsCache(e, SEG);
      assert.deepEqual(cache.warnings(), full(e));
      const c0 = cache.chainsComputed;
      const s0 = cache.chainsScanned;
      for (let i = 0; i < 20; i++) {
        const chain = (i * 37) % chains;
        e.transaction(`add rule inet f c${chain} ${i % 2 === 0 ? 'iifname "eth7" ' : ''}tcp dport ${100 + i} accept`);
        cache.warnings();
      }
      // Two commits between two answers: both chains, still nothing else.
      e.transaction('add rule inet f c1 iifname "eth8" accept');
      e.transaction('delete rule inet f c1 handle ' + e.ruleset.table('inet', 'f')!.chains.get('c1')!.rules[0]!.handle);
      assert.deepEqual(cache.warnings(), full(e));
      work.push({ computed: cache.chainsComputed - c0, scanned: cache.chainsScanned - s0 });
    }
    assert.deepEqual(work[0], { computed: 21, scanned: 0 });
    assert.deepEqual(work[1], work[0], 'the same work at 1k and at 100k rules');
  });
});
