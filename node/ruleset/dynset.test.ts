import assert from 'node:assert/strict';
import { buildTcp, buildUdp } from '../packet/build.js';
import { parsePacket } from '../packet/parse.js';
import { ConnTracker } from '../conntrack/index.js';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook, Verdict } from './context.js';
import { RulesetError } from './errors.js';
import { refusal } from './test-refusal.js';
import { HashKeySet } from './set-structures.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Tests run from dist/node/ruleset; the listings stay in the source tree.
const NFT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node/ruleset/testdata/nft-1.0.6');

const A = Verdict.Accept;
const D = Verdict.Drop;

/** An engine on a clock the test moves, with one forward chain (policy as given) and sets. */
function engine(sets: string, rules: string, policy = 'accept', limits = {}): { e: RulesetEngine; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const e = new RulesetEngine({ clock: () => clock.now, limits });
  e.load(`table inet t {\n${sets}\nchain fw { type filter hook forward priority 0; policy ${policy};\n${rules}\n} }`, 'x.nft');
  return { e, clock };
}

function udpFrom(src: string, sport = 1000): Uint8Array {
  const dst = src.includes(':') ? '2001:db8:ff::1' : '198.51.100.1';
  return buildUdp({ src, dst, sport, dport: 53, payload: 72 });
}

/** Classifies one UDP packet from `src` (no conntrack) at the engine's clock. */
function send(e: RulesetEngine, clock: { now: number }, src: string): Verdict {
  const ctx = new ClassifyContext();
  const b = udpFrom(src);
  parsePacket(ctx.pkt, b, 0, b.length, 0);
  ctx.nowMs = clock.now;
  return e.compiled.classify(ctx, Hook.Forward);
}

/** The listing with long element lists on one line (hafw wraps them as nft does). */
function listed(e: RulesetEngine): string {
  return e.list().replace(/,\n\t+ +/g, ', ');
}

function loadError(text: string, limits = {}): string {
  try {
    new RulesetEngine({ limits }).load(text, 'x.nft');
  } catch (err) {
    if (err instanceof RulesetError) return err.message;
    throw err;
  }
  return '';
}

const FAMILIES = [
  { name: 'IPv4', sel: 'ip saddr', type: 'ipv4_addr', a: '192.0.2.1', b: '192.0.2.2', c: '192.0.2.3' },
  { name: 'IPv6', sel: 'ip6 saddr', type: 'ipv6_addr', a: '2001:db8::1', b: '2001:db8::2', c: '2001:db8::3' },
];

describe('sets filled from the packet path (add @set, update @set, meter)', () => {
  for (const f of FAMILIES) {
    it(`add @s puts the source in the set, where a later lookup finds it (${f.name})`, () => {
      const { e, clock } = engine(`set s { type ${f.type}; flags dynamic; }`, `${f.sel} @s accept\nadd @s { ${f.sel} }`, 'drop');
      assert.deepEqual([send(e, clock, f.a), send(e, clock, f.a), send(e, clock, f.b), send(e, clock, f.b)], [D, A, D, A]);
      assert.match(listed(e), new RegExp(`elements = \\{ ${f.a}, ${f.b} \\}|elements = \\{ ${f.b}, ${f.a} \\}`));
    });

    it(`update @s restarts an element's timeout; add does not; an expired element no longer matches nor lists (${f.name})`, () => {
      const { e, clock } = engine(
        `set u { type ${f.type}; flags dynamic,timeout; }\nset a { type ${f.type}; flags dynamic,timeout; }`,
        `update @u { ${f.sel} timeout 1m }\nadd @a { ${f.sel} timeout 1m }\n${f.sel} @u meta mark set 1\n${f.sel} @a meta mark set 2`,
      );
      const marks = (): number => {
        const ctx = new ClassifyContext();
        const b = udpFrom(f.a);
        parsePacket(ctx.pkt, b, 0, b.length, 0);
        ctx.nowMs = clock.now;
        e.compiled.classify(ctx, Hook.Forward);
        return ctx.metaMark;
      };
      assert.equal(marks(), 2, 'both hold it at once');
      clock.now += 40_000;
      marks(); // refreshes u's element, not a's
      clock.now += 30_000; // 70 s after the add, 30 s after the update
      assert.match(e.list(), /set u \{[^}]*elements = \{ \S+ timeout 1m expires 30s \}/);
      assert.doesNotMatch(e.list(), /set a \{[^}]*elements/);
      const ctx = new ClassifyContext();
      const b = udpFrom(f.b);
      parsePacket(ctx.pkt, b, 0, b.length, 0);
      ctx.nowMs = clock.now;
      e.compiled.classify(ctx, Hook.Forward);
      assert.equal(ctx.metaMark, 2, 'the other source: in both (a\'s is new), the last mark wins');
    });

    it(`a full set does not grow: the add fails and the rule does not match, until an element expires (${f.name})`, () => {
      const { e, clock } = engine(`set s { type ${f.type}; size 2; flags dynamic,timeout; timeout 10s; }`, `add @s { ${f.sel} } accept`, 'drop');
      assert.deepEqual([send(e, clock, f.a), send(e, clock, f.b), send(e, clock, f.c), send(e, clock, f.a)], [A, A, D, A]);
      clock.now += 10_000;
      assert.equal(send(e, clock, f.c), A, 'the expired ones made room');
    });

    it(`update @s { KEY limit rate over N/second } drop: one token bucket per source (${f.name})`, () => {
      const { e, clock } = engine(`set s { type ${f.type}; flags dynamic,timeout; timeout 1m; }`, `update @s { ${f.sel} limit rate over 2/second burst 2 packets } drop`);
      const fromA = [1, 2, 3, 4].map(() => send(e, clock, f.a));
      assert.deepEqual(fromA, [A, A, D, D]);
      assert.deepEqual([send(e, clock, f.b), send(e, clock, f.b)], [A, A], 'another source has its own bucket');
      clock.now += 1000;
      assert.deepEqual([send(e, clock, f.a), send(e, clock, f.a), send(e, clock, f.a)], [A, A, D], 'refilled at the rate');
    });

    it(`add @s { KEY counter }: each element counts its packets, listed in text and JSON as nft lists them (${f.name})`, () => {
      const { e, clock } = engine(`set s { type ${f.type}; flags dynamic; }`, `add @s { ${f.sel} counter }`);
      for (let i = 0; i < 3; i++) send(e, clock, f.a);
      send(e, clock, f.b);
      const text = e.list();
      const len = udpFrom(f.a).length;
      assert.match(text, new RegExp(`${f.a} counter packets 3 bytes ${3 * len}`));
      assert.match(text, new RegExp(`${f.b} counter packets 1 bytes ${len}`));
      assert.match(text, /add @s \{ ip6? saddr counter \}/);
      const set = e.toJSON().nftables.find((o) => 'set' in o) as { set: { elem: unknown[]; size: number } };
      assert.equal(set.set.size, 65535, 'nft gives a set the packet path fills a size of 65535');
      assert.deepEqual(set.set.elem.find((x) => JSON.stringify(x).includes(`"${f.a}"`)), { elem: { val: f.a, counter: { packets: 3, bytes: 3 * len } } });
      // The listing loads back (text and JSON), with the counts as they were.
      for (const again of [text, e.toJSON()]) {
        const e2 = new RulesetEngine();
        e2.load(again as never);
        assert.match(e2.list(), new RegExp(`${f.a} counter packets 3 bytes ${3 * len}`));
      }
    });

    it(`meter NAME { KEY limit rate over ... }: a private set per rule, listed as nft 1.0.6 lists it (${f.name})`, () => {
      const { e, clock } = engine('', `meter flood { ${f.sel} limit rate over 1/second burst 1 packets } drop`);
      assert.deepEqual([send(e, clock, f.a), send(e, clock, f.a), send(e, clock, f.b)], [A, D, A]);
      assert.match(e.list(), new RegExp(`meter flood size 65535 \\{ ${f.sel} limit rate over 1/second burst 1 packets \\} drop`));
      // A transaction that leaves the rule keeps its meter's state.
      e.transaction('add rule inet t fw counter');
      assert.equal(send(e, clock, f.a), D);
    });
  }

  it('a transaction keeps the packet path\'s elements of a set it does not flush; flush set and a reload empty it, as in nft', () => {
    const { e, clock } = engine('set s { type ipv4_addr; flags dynamic; }', 'ip saddr @s drop\nadd @s { ip saddr }');
    send(e, clock, '192.0.2.1');
    e.transaction('add rule inet t fw counter\nadd element inet t s { 192.0.2.9 }');
    assert.equal(send(e, clock, '192.0.2.1'), D);
    // Listed in nft's order (by address), whichever came first.
    assert.match(listed(e), /elements = \{ 192\.0\.2\.1, 192\.0\.2\.9 \}/);
    e.transaction('flush set inet t s');
    assert.doesNotMatch(e.list(), /elements/);
    send(e, clock, '192.0.2.1');
    // A reload (SIGHUP, PUT /v1/ruleset) is `flush ruleset` and the file: every set is new.
    e.load('table inet t { set s { type ipv4_addr; flags dynamic; }\nchain fw { type filter hook forward priority 0; ip saddr @s drop; add @s { ip saddr } } }');
    assert.doesNotMatch(e.list(), /elements/);
  });

  it('delete element removes an element the packet path added (sets with flags dynamic)', () => {
    const { e, clock } = engine('set s { type ipv4_addr; flags dynamic; }', 'ip saddr @s drop\nadd @s { ip saddr }');
    send(e, clock, '192.0.2.1');
    assert.equal(send(e, clock, '192.0.2.1'), D);
    e.transaction('delete element inet t s { 192.0.2.1 }');
    assert.doesNotMatch(e.list(), /elements/);
    assert.equal(send(e, clock, '192.0.2.1'), A, 'gone, then added again by this packet');
  });

  it('bounds memory: a flood of new sources fills a set to its size and no further; a size above ruleset.maxElements is refused', () => {
    const { e, clock } = engine('set s { type ipv4_addr; size 100; flags dynamic; }', 'add @s { ip saddr }');
    for (let i = 0; i < 5000; i++) send(e, clock, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const set = e.toJSON().nftables.find((o) => 'set' in o) as { set: { elem: unknown[] } };
    assert.equal(set.set.elem.length, 100);
    assert.match(loadError('table ip t { set s { type ipv4_addr; size 100000; flags dynamic; }\nchain c { add @s { ip saddr } } }'),
      /^x\.nft:2:11: set 's' is filled from the packet path and its size is 100000, more than ruleset\.maxElements \(65536\)/);
    assert.match(loadError('table ip t { chain c { meter m { ip saddr counter } } }', { maxElements: 1000 }), /meter 'm' may hold 65535 keys, more than ruleset\.maxElements \(1000\)/);
  });

  it('the structure frees expired elements only when it needs room, at most one pass a second (no scan per packet)', () => {
    const h = new HashKeySet(1);
    const k = new Uint32Array(1);
    for (let i = 0; i < 4; i++) {
      k[0] = i;
      assert.ok(h.addDynamic(k, 100 + i, 0, 4, undefined) >= 0);
    }
    k[0] = 9;
    assert.equal(h.addDynamic(k, 0, 50, 4, undefined), -1, 'full, nothing expired yet');
    assert.ok(h.addDynamic(k, 0, 101, 4, undefined) >= 0, 'two expired at 101: room');
    assert.equal(h.size, 3);
    k[0] = 10;
    assert.ok(h.addDynamic(k, 0, 101, 4, undefined) >= 0);
    k[0] = 11;
    assert.equal(h.addDynamic(k, 0, 500, 4, undefined), -1, 'full again; 102 and 103 expired, but the last pass was less than a second ago');
    assert.ok(h.addDynamic(k, 0, 1101, 4, undefined) >= 0, 'a second later: the next pass frees them');
    assert.equal(h.size, 3);
  });

  for (const f of FAMILIES) {
    it(`delete @s { KEY } removes the packet's key, whoever added it; an absent key is no error and the rule goes on (${f.name})`, () => {
      // Port knocking's close: a packet from the source takes its key out again.
      const { e, clock } = engine(
        `set s { type ${f.type}; flags dynamic; elements = { ${f.c} } }`,
        `udp sport 2000 add @s { ${f.sel} } accept\nudp sport 3000 delete @s { ${f.sel} } meta mark set 7 accept\n${f.sel} @s accept`,
        'drop',
      );
      const from = (src: string, sport: number): { v: Verdict; mark: number } => {
        const ctx = new ClassifyContext();
        const b = udpFrom(src, sport);
        parsePacket(ctx.pkt, b, 0, b.length, 0);
        ctx.nowMs = clock.now;
        const v = e.compiled.classify(ctx, Hook.Forward);
        return { v, mark: ctx.metaMark };
      };
      assert.equal(from(f.a, 2000).v, A); // added
      assert.equal(from(f.a, 1000).v, A); // found
      assert.deepEqual(from(f.a, 3000), { v: A, mark: 7 }); // deleted; the rule went on to its mark
      assert.equal(from(f.a, 1000).v, D); // gone
      assert.deepEqual(from(f.b, 3000), { v: A, mark: 7 }); // absent: nothing to delete, the rule still goes on
      // A declared (transaction) element is deleted too, as in the kernel, and no longer listed.
      assert.equal(from(f.c, 1000).v, A);
      assert.match(listed(e), new RegExp(`elements = \\{ ${f.c} \\}`));
      from(f.c, 3000);
      assert.equal(from(f.c, 1000).v, D);
      assert.doesNotMatch(listed(e), /elements =/);
      assert.equal(JSON.stringify(e.toJSON()).includes(f.c), false);
      // Both forms list back as nft 1.0.6 lists them.
      assert.match(e.list(), new RegExp(`udp sport 3000 delete @s \\{ ${f.sel} \\} meta mark set 0x00000007 accept`));
      const again = new RulesetEngine();
      again.load(e.list());
      assert.equal(again.list().replace(/elements = [^\n]*\n\t*/, ''), e.list().replace(/elements = [^\n]*\n\t*/, ''));
    });
  }

  it('delete @s frees room in a full set; a transaction can add a deleted declared element back', () => {
    const { e, clock } = engine('set s { type ipv4_addr; size 1; flags dynamic; elements = { 192.0.2.9 } }', 'udp sport 3000 delete @s { ip saddr } accept\nadd @s { ip saddr } accept', 'drop');
    const from = (src: string, sport: number): Verdict => {
      const ctx = new ClassifyContext();
      const b = udpFrom(src, sport);
      parsePacket(ctx.pkt, b, 0, b.length, 0);
      ctx.nowMs = clock.now;
      return e.compiled.classify(ctx, Hook.Forward);
    };
    assert.equal(from('192.0.2.1', 1000), D); // full: the add fails
    assert.equal(from('192.0.2.9', 3000), A); // the declared element is deleted
    assert.equal(from('192.0.2.1', 1000), A); // room again: added
    assert.match(listed(e), /elements = \{ 192\.0\.2\.1 \}/);
    e.transaction('delete element inet t s { 192.0.2.1 }');
    e.transaction('add element inet t s { 192.0.2.9 }');
    assert.match(listed(e), /elements = \{ 192\.0\.2\.9 \}/);
    assert.equal(from('192.0.2.1', 1000), D); // full again
  });

  it('delete @s: nft 1.0.6 takes a timeout or a counter in the braces (no effect in the kernel); they load and list back; JSON "op": "delete"', () => {
    const { e } = engine('set s { type ipv4_addr; flags dynamic,timeout; }', 'delete @s { ip saddr timeout 1s }\ndelete @s { ip saddr counter }');
    assert.match(e.list(), /\t\tdelete @s \{ ip saddr timeout 1s \}\n\t\tdelete @s \{ ip saddr counter \}\n/);
    const rules = e.toJSON().nftables.filter((o) => 'rule' in o) as { rule: { expr: unknown[] } }[];
    // As `nft -j list ruleset` (1.0.6) writes them.
    assert.deepEqual(rules[0].rule.expr, [{ set: { op: 'delete', elem: { elem: { val: { payload: { protocol: 'ip', field: 'saddr' } }, timeout: 1 } }, set: '@s' } }]);
    const j = new RulesetEngine();
    j.load(JSON.stringify(e.toJSON()));
    assert.equal(j.list(), e.list());
    assert.match(loadError('{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"set": {"family": "ip", "table": "t", "name": "s", "type": "ipv4_addr"}}, {"chain": {"family": "ip", "table": "t", "name": "c"}}, {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"set": {"op": "remove", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@s"}}]}}]}'), /"op" must be "add", "update" or "delete"/);
  });

  it('list meters / list meter [FAMILY] TABLE NAME: each meter as a set with the keys packets put in it, as nft 1.0.6 lists them (IPv4, IPv6)', () => {
    const clock = { now: 1_000_000 };
    const e = new RulesetEngine({ clock: () => clock.now });
    e.load(`table ip x {\n chain c { counter }\n}\ntable inet t {\n chain c { type filter hook forward priority 0; policy accept;\n meter flood { ip saddr limit rate over 10/second }\n meter m2 size 100 { ip saddr . ip daddr timeout 30s counter }\n meter m3 { ip6 saddr counter }\n }\n}`, 'x.nft');
    for (const src of ['192.0.2.1', '192.0.2.1', '2001:db8::1']) {
      const ctx = new ClassifyContext();
      const b = udpFrom(src);
      parsePacket(ctx.pkt, b, 0, b.length, 0);
      ctx.nowMs = clock.now;
      e.compiled.classify(ctx, Hook.Forward);
    }
    // The layout nft 1.0.6 printed for the same meters (its keys from loopback pings; 100 bytes a packet here).
    const t = [
      'table inet t {',
      '\tmeter flood {', '\t\ttype ipv4_addr', '\t\tsize 65535', '\t\tflags dynamic', '\t\telements = { 192.0.2.1 limit rate over 10/second }', '\t}',
      '\tmeter m2 {', '\t\ttype ipv4_addr . ipv4_addr', '\t\tsize 100', '\t\tflags dynamic,timeout',
      '\t\telements = { 192.0.2.1 . 198.51.100.1 counter packets 2 bytes 200 timeout 30s expires 30s }', '\t}',
      '\tmeter m3 {', '\t\ttype ipv6_addr', '\t\tsize 65535', '\t\tflags dynamic', '\t\telements = { 2001:db8::1 counter packets 1 bytes 120 }', '\t}',
      '}',
    ];
    assert.equal(e.objectCommand('list meters'), `table ip x {\n}\n${t.join('\n')}\n`);
    assert.equal(e.objectCommand('list meters inet'), `${t.join('\n')}\n`);
    assert.equal(e.objectCommand('list meter inet t m3'), ['table inet t {', ...t.slice(13, 19), '}', ''].join('\n'));
    clock.now += 31_000; // m2's key expired: not listed
    assert.doesNotMatch(e.objectCommand('list meter inet t m2'), /elements/);
    assert.match(refusal(() => e.objectCommand('list meter inet t nope')), /^<command>:1:1: no meter nope in table inet t \(nft: No such file or directory\)/);
    assert.match(refusal(() => e.objectCommand('list meter t flood')), /no table ip t/);
    assert.match(refusal(() => e.objectCommand('reset meters')), /nft 1\.0\.6 has no 'reset meters'/);
  });

  it('nft -j list meters / list meter: each meter an object with the handle nft gives its set, elements as nft -j writes them (its layout checked live with nft 1.0.6)', () => {
    const clock = { now: 1_000_000 };
    const e = new RulesetEngine({ clock: () => clock.now });
    e.load(`table ip x {\n chain c { type filter hook forward priority 0;\n meter flood size 128 { ip saddr timeout 30s limit rate over 10/second }\n meter m2 { ip saddr . udp dport counter }\n }\n}\ntable inet t {\n set s { type ipv4_addr; flags dynamic; }\n chain c { type filter hook forward priority 0;\n meter m3 { ip6 saddr counter }\n }\n}`, 'x.nft');
    const ctx = new ClassifyContext();
    const b = udpFrom('192.0.2.1');
    parsePacket(ctx.pkt, b, 0, b.length, 0);
    ctx.nowMs = clock.now;
    e.compiled.classify(ctx, Hook.Forward);
    clock.now += 500;
    const meta = { metainfo: { version: 'hafw', json_schema_version: 1 } };
    const flood = { meter: { family: 'ip', name: 'flood', table: 'x', type: 'ipv4_addr', handle: 2, size: 128, flags: ['timeout'], elem: [{ elem: { val: '192.0.2.1', timeout: 30, expires: 29, limit: { rate: 10, burst: 5, per: 'second', inv: true } } }] } };
    const m2 = { meter: { family: 'ip', name: 'm2', table: 'x', type: ['ipv4_addr', 'inet_service'], handle: 4, size: 65535, elem: [{ elem: { val: { concat: ['192.0.2.1', 53] }, counter: { packets: 1, bytes: 100 } } }] } };
    const m3 = { meter: { family: 'inet', name: 'm3', table: 't', type: 'ipv6_addr', handle: 3, size: 65535 } };
    assert.deepEqual(JSON.parse(e.objectCommand('list meters', '<command>', true)), { nftables: [meta, flood, m2, m3] });
    assert.deepEqual(JSON.parse(e.objectCommand('list meter ip x flood', '<command>', true)), { nftables: [meta, flood] });
    assert.deepEqual(JSON.parse(e.objectCommand('list meters inet', '<command>', true)), { nftables: [meta, m3] });
    assert.deepEqual(JSON.parse(e.objectCommand('list meters ip6', '<command>', true)), { nftables: [meta] });
    assert.match(refusal(() => e.objectCommand('list meter inet t nope', '<command>', true)), /^<command>:1:1: no meter nope in table inet t/);
    assert.match(refusal(() => e.objectCommand('list counters', '<command>', true)), /^<command>:1:1: JSON output is for list meters and list meter/);
    // The handles are the ones `nft -a list ruleset` shows around them: the rules' come right after.
    assert.match(e.list({ handles: true }), /meter flood size 128 .* # handle 3\n\t\tmeter m2 size 65535 .* # handle 5\n/);
  });

  it('refuses misuse with the place, as nft does', () => {
    const t = (decl: string, rule: string) => loadError(`table inet t {\n${decl}\nchain c {\n${rule}\n} }`);
    assert.match(t('', 'add @nope { ip saddr }'), /^x\.nft:4:1: unknown set 'nope'/);
    assert.match(t('set s { type ipv4_addr; }', 'add @s { tcp dport }'), /^x\.nft:4:1: datatype mismatch: set 's' holds ipv4_addr, the key has type inet_service/);
    assert.match(t('set s { type ipv4_addr; flags dynamic; }', 'add @s { ip saddr timeout 1m }'), /^x\.nft:4:1: set 's' takes no timeouts/);
    assert.match(t('set s { type ipv4_addr; flags dynamic,interval; }', 'add @s { ip saddr }'), /^x\.nft:4:1: set 's' has flags interval/);
    assert.match(t('map m { type ipv4_addr : mark; }', 'add @m { ip saddr }'), /^x\.nft:4:1: 'm' is a map/);
    assert.match(t('set s { type ipv4_addr; flags dynamic; }', 'add @s { ip saddr log }'), /^x\.nft:4:19: 'log' cannot be kept per element: only counter, limit, quota, ct count can/);
    assert.match(t('set s { type ipv4_addr; flags dynamic; }', 'add @s { ip saddr counter limit rate 1/second quota 10 bytes }'), /^x\.nft:4:1: an element carries at most 2 statements/);
    assert.match(t('set s { type ifname; flags dynamic; }', 'add @s { iifname }'), /elements of type ifname cannot be added from the packet path/);
    assert.match(t('set s { type ipv4_addr; flags dynamic; }', 'delete @s { tcp dport }'), /^x\.nft:4:1: datatype mismatch: set 's' holds ipv4_addr/);
    assert.match(t('set s { type ipv4_addr; flags interval; }', 'delete @s { ip saddr }'), /^x\.nft:4:1: set 's' has flags interval: the packet path deletes single keys/);
    assert.match(t('set s { type ipv4_addr; flags constant; elements = { 192.0.2.1 } }', 'delete @s { ip saddr }'), /^x\.nft:4:1: set 's' is constant/);
    assert.match(t('map m { type ipv4_addr : mark; }', 'delete @m { ip saddr }'), /^x\.nft:4:1: 'm' is a map/);
    assert.match(t('set m { type ipv4_addr; }', 'meter m { ip saddr counter }'), /^x\.nft:4:1: meter 'm': the table has a set of that name/);
    assert.match(t('', 'meter m { ip saddr }'), /^x\.nft:4:1: a meter keeps exactly one statement per key/);
    assert.match(t('', 'ct count over x'), /^x\.nft:4:15: /);
  });

  it('the ruleset nft 1.0.6 was given lists exactly as nft listed it (sizes nft added, meters, ct count)', () => {
    const e = new RulesetEngine();
    e.load(readFileSync(path.join(NFT_DIR, 'dynset.input.nft'), 'utf8'), 'dynset.input.nft');
    const oneLine = (t: string) => t.replace(/,\n\t+ +/g, ', ').trimEnd();
    assert.equal(oneLine(e.list()), oneLine(readFileSync(path.join(NFT_DIR, 'dynset.list.nft'), 'utf8')));
  });

  it('a meter takes a handle before its rule\'s, as nft allocates one for its set', () => {
    const e = new RulesetEngine();
    e.load('table ip t { chain c { counter\nmeter m { ip saddr counter }\ncounter } }');
    const h = [...e.list({ handles: true }).matchAll(/# handle (\d+)\n/g)].map((m) => Number(m[1])).slice(-3);
    // nft 1.0.6 -a: counter # handle 2, meter ... # handle 4, counter # handle 5
    assert.deepEqual([h[1]! - h[0]!, h[2]! - h[1]!], [2, 1]);
  });

  it('nft accepts add @s on a set without flags dynamic, and so does hafw (the set then gets size 65535, as nft lists it)', () => {
    const { e } = engine('set n { type ipv4_addr; }', 'add @n { ip saddr }');
    assert.match(e.list(), /set n \{\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\}/);
  });

  it('JSON: libnftables\' dynset and meter objects load and list back', () => {
    const rule = (expr: unknown[]) => ({ nftables: [{ table: { family: 'ip', name: 't' } }, { set: { family: 'ip', table: 't', name: 's', type: 'ipv4_addr', flags: ['timeout'], size: 10 } },
      { chain: { family: 'ip', table: 't', name: 'c' } }, { rule: { family: 'ip', table: 't', chain: 'c', expr } }] });
    const exprs = [
      [{ set: { op: 'update', elem: { elem: { val: { payload: { protocol: 'ip', field: 'saddr' } }, timeout: 60 } }, set: '@s', stmt: [{ limit: { rate: 10, burst: 5, per: 'second', inv: true } }] } }, { drop: null }],
      [{ set: { op: 'add', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: '@s', stmt: [{ 'ct count': { val: 20, inv: true } }] } }, { drop: null }],
      [{ meter: { key: { payload: { protocol: 'ip', field: 'saddr' } }, stmt: { counter: null }, size: 65535, name: 'm' } }],
      [{ 'ct count': { val: 5 } }, { accept: null }],
    ];
    for (const expr of exprs) {
      const e = new RulesetEngine();
      e.load(structuredClone(rule(expr)));
      const listed = e.toJSON().nftables.find((o) => 'rule' in o) as { rule: { expr: unknown[] } };
      assert.deepEqual(listed.rule.expr, expr);
      const again = new RulesetEngine();
      again.load(e.list());
      assert.equal(again.list(), e.list());
    }
    assert.match(loadError(JSON.stringify(rule([{ set: { op: 'add', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: 's' } }]))), /"set" must be "@NAME"/);
    assert.match(loadError(JSON.stringify(rule([{ 'ct count': { val: -1 } }]))), /ct count "val" must be an integer/);
    assert.match(loadError(JSON.stringify(rule([{ set: { op: 'add', elem: { payload: { protocol: 'ip', field: 'saddr' } }, set: '@s', stmt: [null] } }]))), /each of an element's statements is an object/);
  });
});

describe('ct count (connlimit)', () => {
  /** Engine + conntrack on one clock; each packet goes through both, as the datapath does. */
  function rig(rules: string) {
    let now = 1000;
    const e = new RulesetEngine({ clock: () => now });
    e.load(`table inet t { set s { type ipv4_addr; flags dynamic; }\nset s6 { type ipv6_addr; flags dynamic; }\nchain fw { type filter hook forward priority 0; policy accept;\n${rules}\n} }`, 'x.nft');
    const ct = new ConnTracker({ now: () => now });
    return {
      e, ct,
      /** A TCP SYN from src:sport; returns the verdict and the connection's entry. */
      syn(src: string, sport: number): { v: Verdict; entry: number } {
        now++;
        const dst = src.includes(':') ? '2001:db8:ff::1' : '198.51.100.1';
        const b = buildTcp({ src, dst, sport, dport: 80, flags: 'S' });
        const ctx = new ClassifyContext();
        parsePacket(ctx.pkt, b, 0, b.length, 0);
        ctx.nowMs = now;
        ctx.ctState = ct.track(ctx.pkt, now);
        ctx.ctEntry = ct.result.entry;
        ctx.ctStatus = ct.result.status;
        ctx.ctReader = ct;
        const entry = ct.result.entry;
        const v = e.compiled.classify(ctx, Hook.Forward);
        ct.commit(v === Verdict.Accept);
        return { v, entry };
      },
    };
  }

  for (const f of FAMILIES) {
    it(`ct count over N drop: the connection past N is dropped; one that ends makes room; a known connection is counted once (${f.name})`, () => {
      const r = rig('ct count over 2 drop');
      const c1 = r.syn(f.a, 1001);
      const c2 = r.syn(f.b, 1002);
      assert.deepEqual([c1.v, c2.v], [A, A]);
      assert.equal(r.syn(f.a, 1001).v, A, 'the same connection again: still 2');
      assert.equal(r.syn(f.c, 1003).v, D, 'a third one');
      assert.equal(r.syn(f.c, 1003).v, D, 'the dropped one was never confirmed, the next try is counted again and dropped');
      r.ct.delete(c1.entry);
      assert.equal(r.syn(f.c, 1003).v, A, 'one ended: room again');
    });

    it(`add @s { KEY ct count over N } drop: each source has its own count (${f.name})`, () => {
      const set = f.name === 'IPv4' ? 's' : 's6';
      const r = rig(`add @${set} { ${f.sel} ct count over 1 } drop`);
      assert.deepEqual([r.syn(f.a, 2001).v, r.syn(f.a, 2002).v, r.syn(f.b, 2003).v], [A, D, A]);
      assert.match(r.e.list(), new RegExp(`${f.a} ct count over 1`));
    });
  }

  it('ct count N (no over) matches while at most N are counted; a packet without conntrack matches neither', () => {
    const r = rig('ct count 1 accept\ndrop');
    assert.deepEqual([r.syn('192.0.2.1', 1).v, r.syn('192.0.2.1', 2).v], [A, D]);
    const ctx = new ClassifyContext();
    const b = udpFrom('192.0.2.1');
    parsePacket(ctx.pkt, b, 0, b.length, 0);
    assert.equal(r.e.compiled.classify(ctx, Hook.Forward), D, 'no conntrack entry: `ct count 1 accept` does not apply');
  });

  it('prints and round-trips as nft 1.0.6 lists it', () => {
    const r = rig('ct count over 20 drop\nct count 5 accept\nadd @s { ip saddr ct count over 20 } drop');
    assert.match(r.e.list(), /ct count over 20 drop\n\t\tct count 5 accept\n\t\tadd @s \{ ip saddr ct count over 20 \} drop/);
    const again = new RulesetEngine();
    again.load(r.e.toJSON());
    assert.equal(again.list(), r.e.list());
  });
});
