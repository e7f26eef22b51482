import assert from 'node:assert/strict';
import { buildUdp } from '../packet/build.js';
import { parsePacket } from '../packet/parse.js';
import { RulesetEngine } from './engine.js';
import { ClassifyContext, Hook, Verdict } from './context.js';
import { RulesetError } from './errors.js';

/** An engine on a clock the test moves, with one forward chain and the given maps. */
function engine(maps: string, rules: string): { e: RulesetEngine; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  const e = new RulesetEngine({ clock: () => clock.now });
  e.load(`table inet t {\n${maps}\nchain fw { type filter hook forward priority 0; policy accept;\n${rules}\n} }`, 'x.nft');
  return { e, clock };
}

/** Classifies one UDP packet (no conntrack) with the given packet mark; returns verdict and mark after. */
function send(e: RulesetEngine, clock: { now: number }, src: string, sport = 1000, mark = 0): { v: Verdict; mark: number } {
  const ctx = new ClassifyContext();
  const dst = src.includes(':') ? '2001:db8:ff::1' : '198.51.100.1';
  const b = buildUdp({ src, dst, sport, dport: 53, payload: 32 });
  parsePacket(ctx.pkt, b, 0, b.length, 0);
  ctx.nowMs = clock.now;
  ctx.metaMark = mark;
  const v = e.compiled.classify(ctx, Hook.Forward);
  return { v, mark: ctx.metaMark };
}

function oneLine(t: string): string {
  return t.replace(/,\n\t+ +/g, ', ');
}

function loadError(text: string): string {
  try {
    new RulesetEngine().load(text, 'x.nft');
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

describe('maps filled from the packet path (add @m { KEY : DATA }, update @m { KEY : DATA })', () => {
  for (const f of FAMILIES) {
    it(`update @m { KEY : DATA } adds the key with its data, which a map lookup then gives (${f.name})`, () => {
      const { e, clock } = engine(`map m { type ${f.type} : mark; flags dynamic; }`, `meta mark set ${f.sel} map @m\nupdate @m { ${f.sel} : 0x2a }`);
      assert.equal(send(e, clock, f.a).mark, 0, 'first packet: the map is empty when it is read');
      assert.equal(send(e, clock, f.a).mark, 0x2a, 'the second finds the data the first put there');
      assert.equal(send(e, clock, f.b).mark, 0, 'another source has no element yet');
      assert.match(oneLine(e.list()), new RegExp(`elements = \\{ (${f.a} : 0x0000002a, ${f.b} : 0x0000002a|${f.b} : 0x0000002a, ${f.a} : 0x0000002a) \\}`));
    });

    it(`the data may come from the packet (a selector of the data type) and a held element keeps its data, as in the kernel (${f.name})`, () => {
      const { e, clock } = engine(
        `map m { type ${f.type} : mark; flags dynamic,timeout; timeout 1m; }\nmap p { type ${f.type} : inet_service; flags dynamic; }`,
        `add @p { ${f.sel} : udp sport }\nupdate @m { ${f.sel} : meta mark }\nupdate @m { ${f.sel} : 0x7 }`,
      );
      send(e, clock, f.a, 4000, 5);
      send(e, clock, f.a, 4001, 6);
      const l = oneLine(e.list());
      assert.match(l, new RegExp(`elements = \\{ ${f.a} : 4000 \\}`), 'add: the first sport stays');
      assert.match(l, new RegExp(`elements = \\{ ${f.a} expires 1m : 0x00000005 \\}`), 'update restarts the timeout, keeps the first data');
    });
  }

  it('update restarts the timeout, add does not; an expired element is gone and comes back with new data', () => {
    const { e, clock } = engine(
      'map u { type ipv4_addr : mark; flags dynamic,timeout; }\nmap a { type ipv4_addr : mark; flags dynamic,timeout; }',
      'update @u { ip saddr timeout 1m : meta mark }\nadd @a { ip saddr timeout 1m : meta mark }\nmeta mark set ip saddr map @u',
    );
    send(e, clock, '192.0.2.1', 1000, 1);
    clock.now += 50_000;
    send(e, clock, '192.0.2.1', 1000, 2);
    clock.now += 20_000; // 70 s after the first packet, 20 s after the second
    const l = e.list();
    assert.match(l, /map u \{[^}]*elements = \{ 192\.0\.2\.1 timeout 1m expires 40s : 0x00000001 \}/);
    assert.doesNotMatch(l, /map a \{[^}]*elements/, 'add did not restart the timeout: expired');
    assert.equal(send(e, clock, '192.0.2.1', 1000, 9).mark, 1, 'u still holds the first data');
    clock.now += 61_000;
    assert.equal(send(e, clock, '192.0.2.1', 1000, 3).mark, 3, 'expired: the key came back with the packet\'s data');
  });

  it('a map holds at most its size: past it the key is not added and the rule stops; concatenated keys', () => {
    const { e, clock } = engine(
      'map m { type ipv4_addr . inet_service : mark; size 2; flags dynamic; }',
      'add @m { ip saddr . udp sport : 0x1 } counter accept\ndrop',
    );
    assert.deepEqual([1, 2, 3].map((i) => send(e, clock, '192.0.2.1', 1000 + i).v), [Verdict.Accept, Verdict.Accept, Verdict.Drop]);
    assert.equal(send(e, clock, '192.0.2.1', 1001).v, Verdict.Accept, 'a held key still matches');
    assert.match(oneLine(e.list()), /elements = \{ 192\.0\.2\.1 \. 100[12] : 0x00000001, 192\.0\.2\.1 \. 100[12] : 0x00000001 \}/);
  });

  it('delete @m { KEY : DATA } removes the key (the data is not compared, as in the kernel)', () => {
    const { e, clock } = engine('map m { type ipv4_addr : mark; flags dynamic; }', 'udp sport 1 delete @m { ip saddr : 0x0 }\nudp sport 2 add @m { ip saddr : 0x5 }');
    send(e, clock, '192.0.2.1', 2);
    assert.match(e.list(), /elements = \{ 192\.0\.2\.1 : 0x00000005 \}/);
    send(e, clock, '192.0.2.1', 1);
    assert.doesNotMatch(e.list(), /elements/);
  });

  it('JSON: the form of later nft versions ({"map": {"op", "elem", "data", "map"}}) loads and lists back; text and JSON round trips agree', () => {
    const { e, clock } = engine(
      'map m { type ipv4_addr : mark; flags dynamic,timeout; }\nmap p { type ipv4_addr : inet_service; flags dynamic; }',
      'update @m { ip saddr timeout 30s counter : 0x1 }\nadd @p { ip saddr : udp sport }',
    );
    send(e, clock, '192.0.2.1', 999);
    const rules = e.toJSON().nftables.filter((o) => 'rule' in o).map((o) => (o as { rule: { expr: unknown[] } }).rule.expr);
    assert.deepEqual(rules, [
      [{ map: { op: 'update', elem: { elem: { val: { payload: { protocol: 'ip', field: 'saddr' } }, timeout: 30 } }, data: 1, map: '@m', stmt: [{ counter: null }] } }],
      [{ map: { op: 'add', elem: { payload: { protocol: 'ip', field: 'saddr' } }, data: { payload: { protocol: 'udp', field: 'sport' } }, map: '@p' } }],
    ]);
    const maps = e.toJSON().nftables.filter((o) => 'map' in o).map((o) => (o as { map: { elem?: unknown } }).map.elem);
    assert.deepEqual(maps, [[[{ elem: { val: '192.0.2.1', timeout: 30, expires: 30, counter: { packets: 1, bytes: 60 } } }, 1]], [['192.0.2.1', 999]]]);
    const fromJson = new RulesetEngine();
    fromJson.load(e.toJSON());
    const fromText = new RulesetEngine();
    fromText.load(fromJson.list());
    assert.equal(fromText.list(), fromJson.list());
    assert.match(fromJson.list(), /update @m \{ ip saddr timeout 30s counter : 0x00000001 \}\n\t\tadd @p \{ ip saddr : udp sport \}/);
  });

  it('nft 1.0.6\'s -j listing of such a rule (its text in place of a statement) is refused with the reason', () => {
    const j = { nftables: [{ table: { family: 'ip', name: 't' } }, { map: { family: 'ip', table: 't', name: 'm', type: 'ipv4_addr', map: 'mark' } },
      { chain: { family: 'ip', table: 't', name: 'c' } }, { rule: { family: 'ip', table: 't', chain: 'c', expr: ['update @m { ip saddr : 0x00000001 }'] } }] };
    assert.match(loadError(JSON.stringify(j)), /a statement must be an object, got "update @m \{ ip saddr : 0x00000001 \}" \(nft -j writes a statement it has no JSON form for as its text, and nft cannot load that back either/);
  });

  it('refuses with the place what nft or hafw cannot do', () => {
    const t = (decl: string, rule: string) => loadError(`table ip t {\n${decl}\nchain c {\n${rule}\n} }`);
    assert.match(t('map m { type ipv4_addr : verdict; }', 'add @m { ip saddr : accept }'), /^x\.nft:4:21: a verdict cannot be map data from the packet path/);
    assert.match(t('map m { type ipv4_addr : ipv4_addr; }', 'add @m { ip saddr : ip daddr }'), /^x\.nft:4:1: map 'm' holds ipv4_addr: data of that type from the packet path is not supported \(hafw keeps such data by value/);
    assert.match(t('map m { type ipv4_addr : inet_service . mark; }', 'add @m { ip saddr : 1 }'), /^x\.nft:4:1: map 'm' holds inet_service \. mark: data of that type/);
    assert.match(t('set s { type ipv4_addr; }', 'add @s { ip saddr : 1 }'), /^x\.nft:4:1: 's' is a set, not a map: it keeps no data/);
    assert.match(t('map m { type ipv4_addr : mark; }', 'add @m { ip saddr : ip daddr }'), /^x\.nft:4:1: datatype mismatch: map 'm' holds mark data, the data has type ipv4_addr/);
    assert.match(t('map m { type ipv4_addr : inet_service; }', 'add @m { ip saddr : 70000 }'), /^x\.nft:4:1: map 'm' data: /);
    assert.match(t('map m { type ipv4_addr : mark; }', 'add @m { tcp dport : 1 }'), /^x\.nft:4:1: datatype mismatch: map 'm' holds ipv4_addr, the key has type inet_service/);
    assert.match(t('map m { type ipv4_addr : mark; flags dynamic,timeout; }', 'add @m { ip saddr : 1 timeout 3s }'), /^x\.nft:4:23: a timeout goes after the key, before the data/);
    assert.match(t('map m { type ipv4_addr : mark; flags dynamic; }', 'add @m { ip saddr timeout 3s : 1 }'), /^x\.nft:4:1: map 'm' takes no timeouts/);
    assert.match(t('map m { type ipv4_addr : mark; flags interval; }', 'add @m { ip saddr : 1 }'), /^x\.nft:4:1: map 'm' has flags interval/);
    assert.match(t('map m { type ipv4_addr : mark; }', 'add @m { ip saddr : meta mark & 0xff }'), /^x\.nft:4:31: '\}' expected after the map data/);
    assert.match(t('', 'meter f { ip saddr counter : 1 }'), /^x\.nft:4:28: 'meter' keeps no data/);
    assert.match(t('map m { type ipv4_addr : mark; }', 'update @m { ip saddr }'), /^x\.nft:4:1: 'm' is a map: give the data for the key/);
  });
});
