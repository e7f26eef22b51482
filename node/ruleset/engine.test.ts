import assert from 'node:assert/strict';
import { RulesetEngine, type ChangeEvent } from './engine.js';
import { RulesetError } from './errors.js';
import { ClassifyContext, Hook, Verdict } from './context.js';
import { fillPacket, type TestPacket } from './test-packets.js';
import { formatEvent } from './monitor.js';
import type { Command } from './ast.js';

const P: TestPacket = { src: '192.0.2.100', dst: '198.51.100.100', proto: 'tcp', sport: 40000, dport: 22 };
const BASE = `table inet t {
  set blocked { type ipv4_addr; }
  chain fw {
    type filter hook forward priority 0; policy accept;
    tcp dport 80 drop
  }
  chain other { accept }
}`;

function verdict(e: RulesetEngine, p: TestPacket = P): Verdict {
  const ctx = new ClassifyContext();
  fillPacket(ctx.pkt, p);
  return e.compiled.classify(ctx, Hook.Forward);
}

function handles(e: RulesetEngine, chain = 'fw'): number[] {
  return e.ruleset.table('inet', 't')!.chains.get(chain)!.rules.map((r) => r.handle!);
}

describe('engine transactions', () => {
  it('adds, inserts, replaces and deletes rules by handle', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    const [h80] = handles(e);
    const add = e.transaction('add rule inet t fw tcp dport 22 drop');
    assert.equal(add.generation, 2);
    assert.equal(verdict(e), Verdict.Drop);
    const hAdd = add.changes[0].handle!;
    e.transaction('insert rule inet t fw tcp dport 22 accept');
    assert.equal(verdict(e), Verdict.Accept, 'inserted at the top');
    const hIns = handles(e)[0];
    e.transaction(`add rule inet t fw position ${h80} udp dport 53 drop`);
    assert.deepEqual(handles(e), [hIns, h80, hAdd + 2, hAdd]);
    e.transaction(`replace rule inet t fw handle ${hIns} tcp dport 23 accept`);
    assert.equal(verdict(e), Verdict.Drop, 'replaced rule no longer accepts port 22');
    assert.equal(handles(e)[0], hIns, 'replace keeps the handle');
    e.transaction(`delete rule inet t fw handle ${hAdd}`);
    assert.equal(verdict(e), Verdict.Accept);
    assert.equal(e.generation, 6);
  });

  it('applies a batch entirely or not at all', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    const before = e.list();
    const compiled = e.compiled;
    assert.throws(
      () => e.transaction('add rule inet t fw tcp dport 22 drop\nadd rule inet t fw jump nosuch'),
      (x: unknown) => x instanceof RulesetError && x.errors[0].line === 2 && /unknown chain 'nosuch'/.test(x.errors[0].message),
    );
    assert.equal(e.list(), before);
    assert.equal(e.generation, 1);
    assert.equal(e.compiled, compiled, 'the datapath keeps the same compiled ruleset');
    assert.equal(verdict(e), Verdict.Accept);
  });

  it('a failing load keeps the previous ruleset', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    assert.throws(() => e.load('table ip x { chain c { jump c } }'), /loop/);
    assert.equal(e.generation, 1);
    assert.ok(e.ruleset.table('inet', 't'));
  });

  it('refuses a transaction based on an older generation', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    e.transaction('add rule inet t fw tcp dport 1 drop', 1);
    assert.throws(() => e.transaction('add rule inet t fw tcp dport 2 drop', 1), /based on generation 1, current is 2/);
    assert.equal(e.generation, 2);
  });

  it('adds and deletes set elements; rules see them without recompiling', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    e.transaction('add rule inet t fw ip saddr @blocked drop');
    const fwdChain = e.compiled.chains[e.ruleset.table('inet', 't')!.chains.get('fw')!.id];
    assert.equal(verdict(e), Verdict.Accept);
    e.transaction('add element inet t blocked { 192.0.2.100 }');
    assert.equal(verdict(e), Verdict.Drop);
    assert.equal(e.compiled.chains[e.ruleset.table('inet', 't')!.chains.get('fw')!.id], fwdChain, 'the chain was not recompiled');
    e.transaction('delete element inet t blocked { 192.0.2.100 }');
    assert.equal(verdict(e), Verdict.Accept);
    assert.throws(() => e.transaction('delete element inet t blocked { 192.0.2.100 }'), /is not in set/);
  });

  it('recompiles only the chain that changed', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    const id = (n: string): number => e.ruleset.table('inet', 't')!.chains.get(n)!.id;
    const other = e.compiled.chains[id('other')];
    const fwd = e.compiled.chains[id('fw')];
    e.transaction('add rule inet t fw counter');
    assert.equal(e.compiled.chains[id('other')], other);
    assert.notEqual(e.compiled.chains[id('fw')], fwd);
    assert.equal(e.compiled.chains[id('fw')]!.rules[0], fwd!.rules[0], 'unchanged rules keep their compiled form');
  });

  it('flushes and deletes chains, sets and tables', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    e.transaction('flush chain inet t fw');
    assert.deepEqual(handles(e), []);
    e.transaction('delete chain inet t other');
    assert.equal(e.ruleset.table('inet', 't')!.chains.has('other'), false);
    e.transaction('delete set inet t blocked');
    e.transaction('delete table inet t');
    assert.equal(e.ruleset.tables.size, 0);
    assert.equal(verdict(e), Verdict.Accept);
    assert.equal(e.compiled.hasHook(Hook.Forward), false);
  });

  it('accepts libnftables JSON commands', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    const ops: Command[] = [
      { add: { rule: { family: 'inet', table: 't', chain: 'fw', expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 22 } }, { drop: null }] } } },
      { add: { element: { family: 'inet', table: 't', name: 'blocked', elem: ['10.0.0.1'] } } },
    ];
    e.transaction(ops);
    assert.equal(verdict(e), Verdict.Drop);
    assert.throws(() => e.transaction([{ add: { rule: { family: 'inet', table: 't', chain: 'fw', expr: [{ bogus: 1 }] } } } as unknown as Command]), /unknown statement 'bogus'/);
  });

  it('keeps counters of untouched rules across transactions', () => {
    const e = new RulesetEngine();
    e.load('table inet t { chain fw { type filter hook forward priority 0; policy accept; counter } }');
    verdict(e);
    verdict(e);
    e.transaction('add rule inet t fw tcp dport 9 drop');
    verdict(e);
    assert.match(e.list(), /counter packets 3 bytes 300/);
  });

  it('emits one change event per commit with the new generation', () => {
    const e = new RulesetEngine();
    const events: ChangeEvent[] = [];
    e.on('change', (ev: ChangeEvent) => events.push(ev));
    e.load(BASE);
    e.transaction('add rule inet t fw tcp dport 22 drop\nadd element inet t blocked { 10.0.0.1 }');
    try {
      e.transaction('add rule inet t fw jump nowhere');
    } catch {
      /* refused: no event */
    }
    assert.deepEqual(events.map((x) => x.generation), [1, 2]);
    assert.deepEqual(events[1].changes.map((c) => `${c.op} ${c.kind}`), ['add rule', 'add element']);
  });

  it('prints events like nft monitor', () => {
    const e = new RulesetEngine();
    const lines: string[] = [];
    e.on('change', (ev: ChangeEvent) => lines.push(formatEvent(ev, e.registry)));
    e.load(BASE);
    const h = e.transaction('add rule inet t fw ip saddr 10.0.0.0/8 tcp dport { 22, 80 } counter drop').changes[0].handle;
    e.transaction(`delete rule inet t fw handle ${h}`);
    e.transaction('add element inet t blocked { 10.0.0.1, 10.0.0.2 }');
    assert.match(lines[0], /^flush ruleset\nadd table inet t\nadd chain inet t fw \{ type filter hook forward priority filter; policy accept; \}\nadd chain inet t other\nadd set inet t blocked \{ type ipv4_addr; \}/);
    assert.equal(lines[1], `add rule inet t fw ip saddr 10.0.0.0/8 tcp dport { 22, 80 } counter packets 0 bytes 0 drop # handle ${h}\n# new generation 2`);
    assert.equal(lines[2], `delete rule inet t fw handle ${h}\n# new generation 3`);
    assert.equal(lines[3], 'add element inet t blocked { 10.0.0.1, 10.0.0.2 }\n# new generation 4');
  });

  it('lists handles like nft -a', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    assert.match(e.list({ handles: true }), /tcp dport 80 drop # handle \d+/);
  });

  it('add/insert rule ... handle H place the rule after/before rule H, and refuse an unknown H', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    const [h80] = handles(e);
    const n = handles(e).length;
    const added = e.transaction(`add rule inet t fw handle ${h80} udp dport 54 drop`).changes[0].handle!;
    assert.deepEqual(handles(e).slice(0, 2), [h80, added], 'added right after rule H');
    assert.equal(handles(e).length, n + 1);
    e.transaction(`insert rule inet t fw handle ${h80} udp dport 55 drop`);
    assert.equal(handles(e).indexOf(h80), 1, 'inserted before rule H');
    assert.throws(() => e.transaction('insert rule inet t fw handle 9999 udp dport 56 drop'), /no rule with handle 9999/);
    assert.throws(() => e.transaction('add rule inet t fw handle 9999 udp dport 56 drop'), /no rule with handle 9999/);
  });

  it('loads JSON with positions for its errors', () => {
    const e = new RulesetEngine();
    const json = `{"nftables": [
  {"table": {"family": "ip", "name": "t"}},
  {"chain": {"family": "ip", "table": "t", "name": "c"}},
  {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [
    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "10.0.0.999"}}
  ]}}
]}`;
    assert.throws(() => e.load(json, 'r.json'), (x: unknown) => x instanceof RulesetError && x.errors[0].line === 5 && /not a valid IPv4/.test(x.errors[0].message));
  });

  it('keeps a hash set right through many single-element transactions', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    e.transaction('add rule inet t fw ip saddr @blocked drop');
    for (let i = 0; i < 300; i++) e.transaction(`add element inet t blocked { 10.0.${i >> 8}.${i & 255} }`);
    for (let i = 0; i < 300; i += 2) e.transaction(`delete element inet t blocked { 10.0.${i >> 8}.${i & 255} }`);
    e.transaction('add element inet t blocked { 10.0.0.0 }');
    for (let i = 0; i < 300; i++) {
      const v = verdict(e, { ...P, src: `10.0.${i >> 8}.${i & 255}` });
      assert.equal(v, i % 2 === 1 || i === 0 ? Verdict.Drop : Verdict.Accept, `10.0.${i >> 8}.${i & 255}`);
    }
    assert.equal(e.ruleset.table('inet', 't')!.sets.get('blocked')!.elems.size, 151);
  });

  it('rebuilds an interval set when ranges are added, and flush empties a set', () => {
    const e = new RulesetEngine();
    e.load('table inet t { set r { type inet_service; flags interval; elements = { 22 } }\n chain fw { type filter hook forward priority 0; policy accept; tcp dport @r drop } }');
    assert.equal(verdict(e, { ...P, dport: 22 }), Verdict.Drop);
    e.transaction('add element inet t r { 1000-2000 }');
    assert.equal(verdict(e, { ...P, dport: 1500 }), Verdict.Drop);
    assert.equal(verdict(e, { ...P, dport: 22 }), Verdict.Drop);
    e.transaction('flush set inet t r');
    assert.equal(verdict(e, { ...P, dport: 22 }), Verdict.Accept);
    assert.equal(verdict(e, { ...P, dport: 1500 }), Verdict.Accept);
  });

  it('a failed batch leaves set elements untouched', () => {
    const e = new RulesetEngine();
    e.load(BASE);
    e.transaction('add rule inet t fw ip saddr @blocked drop\nadd element inet t blocked { 192.0.2.100 }');
    assert.throws(() => e.transaction('delete element inet t blocked { 192.0.2.100 }\nadd element inet t blocked { 10.0.0.999 }'), /not a valid IPv4/);
    assert.equal(verdict(e), Verdict.Drop);
    assert.equal(e.ruleset.table('inet', 't')!.sets.get('blocked')!.elems.size, 1);
  });

  it('refreshes an element timeout when it is added again', () => {
    let now = 0;
    const e = new RulesetEngine({ clock: () => now });
    e.load('table inet t { set s { type ipv4_addr; flags timeout; timeout 10s; }\n chain fw { type filter hook forward priority 0; policy accept; ip saddr @s drop } }');
    e.transaction('add element inet t s { 192.0.2.100 }');
    now = 8000;
    e.transaction('add element inet t s { 192.0.2.100 }');
    const ctx = new ClassifyContext();
    fillPacket(ctx.pkt, P);
    ctx.nowMs = 15000;
    assert.equal(e.compiled.classify(ctx, Hook.Forward), Verdict.Drop, 'the second add restarted the 10 s');
    ctx.nowMs = 18000;
    assert.equal(e.compiled.classify(ctx, Hook.Forward), Verdict.Accept);
  });

  it('expiredOps() names the timed-out elements; committed, they go in one commit with events', () => {
    let now = 0;
    const e = new RulesetEngine({ clock: () => now });
    e.load('table inet t { set s { type ipv4_addr; flags timeout; elements = { 10.0.0.1 timeout 5s, 10.0.0.2 timeout 60s, 10.0.0.3 } } }');
    assert.deepEqual(e.expiredOps(), [], 'nothing expired yet');
    now = 6000;
    const events: ChangeEvent[] = [];
    e.on('change', (ev: ChangeEvent) => events.push(ev));
    const r = e.transaction(e.expiredOps());
    assert.equal(r?.generation, 2);
    assert.deepEqual([...e.ruleset.table('inet', 't')!.sets.get('s')!.elems.keys()], ['"10.0.0.2"', '"10.0.0.3"']);
    assert.equal(formatEvent(events[0], e.registry), 'delete element inet t s { 10.0.0.1 }\n# new generation 2');
  });
});
