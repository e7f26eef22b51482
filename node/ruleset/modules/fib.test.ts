import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { engine, roundTrips } from './rule-test-kit.js';
import { RulesetEngine } from '../engine.js';
import { ClassifyContext, Hook, Verdict, type FibRoutes, type LocalAddressView } from '../context.js';
import { parsePacket } from '../../packet/parse.js';
import { buildUdp } from '../../packet/build.js';
import { parseAddress, parsePrefix } from '../../packet/address.js';

/** The node's addresses, as the datapath's LocalAddresses answers for them (with their interfaces). */
const NODE: [string, string][] = [['198.51.100.2', 'wan'], ['192.0.2.2', 'lan'], ['2001:db8:1::2', 'lan']];
const same = (buf: Uint8Array, off: number, a: Uint8Array) => a.every((x, i) => buf[off + i] === x);
const localAddrs: LocalAddressView = {
  has: (buf, off, family) => NODE.some(([a]) => parseAddress(a).family === family && same(buf, off, parseAddress(a).bytes)),
  hasOn: (buf, off, family, ifname) => NODE.some(([a, i]) => i === ifname && parseAddress(a).family === family && same(buf, off, parseAddress(a).bytes)),
};

/**
 * The node's main table as the datapath hands it over (RouteInterfaces does the same
 * longest-prefix match): lan and wan subnets, a default route via wan, a blackhole.
 */
const ROUTES: [string, string | null][] = [
  ['192.0.2.0/24', 'lan'], ['198.51.100.0/24', 'wan'], ['0.0.0.0/0', 'wan'], ['203.0.113.0/24', null],
  ['2001:db8:1::/64', 'lan'], ['2001:db8:2::/64', 'wan'], ['::/0', 'wan'], ['2001:db8:dead::/48', null],
];
function routesOf(e: RulesetEngine): FibRoutes & { ifOf(buf: Uint8Array, off: number, family: 4 | 6): number } {
  const table = ROUTES.map(([p, dev]) => ({ ...parsePrefix(p, { strict: true }), id: dev === null ? 0 : e.ifnames.idOf(dev), reject: dev === null }));
  const best = (buf: Uint8Array, off: number, family: 4 | 6) => {
    let found: (typeof table)[number] | undefined;
    for (const r of table) {
      if (r.family !== family) continue;
      let ok = true;
      for (let bit = 0; bit < r.len && ok; bit++) ok = ((buf[off + (bit >> 3)]! ^ r.bytes[bit >> 3]!) & (0x80 >> (bit & 7))) === 0;
      if (ok && (found === undefined || r.len > found.len)) found = r;
    }
    return found;
  };
  return {
    fibOif: (buf, off, family) => best(buf, off, family)?.id ?? 0,
    // Interface inference (as the datapath's): the best usable route; rejecting ones are skipped.
    ifOf: (buf, off, family) => {
      const r = best(buf, off, family);
      return r === undefined ? 0 : r.reject ? (best(new Uint8Array(16), 0, family)?.id ?? 0) : r.id;
    },
  };
}

const HOOK: Record<string, Hook> = { prerouting: Hook.Prerouting, forward: Hook.Forward, output: Hook.Output };

/** Does `RULE drop`, in a base chain of `hook`, drop a UDP packet src -> dst? iif/oif as the datapath infers them. */
function drops(rule: string, src: string, dst: string, opts: { hook?: string; routes?: boolean; local?: boolean; iif?: string } = {}): boolean {
  const hook = opts.hook ?? 'prerouting';
  const e = new RulesetEngine();
  e.load(`table inet t { chain c { type filter hook ${hook} priority 0; policy accept;\n${rule} drop\n} }`, 'x.nft');
  const ctx = new ClassifyContext();
  const pkt = buildUdp({ src, dst, sport: 1, dport: 2 });
  parsePacket(ctx.pkt, pkt, 0, pkt.length, 0);
  const routes = routesOf(e);
  ctx.localAddrs = opts.local === false ? null : localAddrs;
  if (opts.routes !== false) ctx.fibRoutes = routes;
  const fam = ctx.pkt.family as 4 | 6;
  // opts.iif: the interface a per-interface input device says the packet came in on.
  ctx.iif = hook === 'output' ? 0 : opts.iif !== undefined ? e.ifnames.idOf(opts.iif) : routes.ifOf(ctx.pkt.buf, ctx.pkt.srcOff, fam);
  ctx.oif = hook === 'prerouting' ? 0 : routes.ifOf(ctx.pkt.buf, ctx.pkt.dstOff, fam);
  return e.compiled.classify(ctx, HOOK[hook]!) === Verdict.Drop;
}

function loadError(rule: string, hook = 'prerouting', inputInterfaces: 'exact' | 'inferred' = 'inferred'): string {
  try {
    new RulesetEngine({ inputInterfaces }).load(`table inet t { chain c { type filter hook ${hook} priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

function jsonError(left: unknown, right: unknown, hook = 'prerouting', inputInterfaces: 'exact' | 'inferred' = 'inferred'): string {
  try {
    new RulesetEngine({ inputInterfaces }).load({
      nftables: [
        { table: { family: 'inet', name: 't' } },
        { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook, prio: 0 } },
        { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ match: { op: '==', left, right } }, { drop: null }] } },
      ],
    } as never);
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

describe('fib ... type', () => {
  it('IPv4: the node\'s addresses and loopback are local, 224.0.0.0/4 multicast, the rest neither', () => {
    const d = (rule: string, dst: string, local = true) => drops(rule, '192.0.2.1', dst, { hook: 'forward', local });
    assert.equal(d('fib daddr type local', '198.51.100.2'), true);
    assert.equal(d('fib daddr type local', '127.0.0.1'), true);
    assert.equal(d('fib daddr type local', '198.51.100.3'), false);
    assert.equal(d('fib daddr type local', '198.51.100.2', false), false, 'no local addresses known: nothing is local but loopback');
    assert.equal(d('fib daddr type != local', '203.0.113.1'), true);
    assert.equal(d('fib daddr type != local', '198.51.100.2'), false);
    assert.equal(d('fib daddr type multicast', '224.0.0.251'), true);
    assert.equal(d('fib daddr type multicast', '239.255.255.250'), true);
    assert.equal(d('fib daddr type multicast', '255.255.255.255'), false);
    assert.equal(d('fib daddr type { local, multicast }', '224.0.0.1'), true);
    assert.equal(d('fib daddr type { local, multicast }', '203.0.113.1'), false);
  });

  it('IPv6: the node\'s addresses and ::1 are local, ff00::/8 multicast', () => {
    const d = (rule: string, dst: string) => drops(rule, '2001:db8:2::9', dst, { hook: 'forward' });
    assert.equal(d('fib daddr type local', '2001:db8:1::2'), true);
    assert.equal(d('fib daddr type local', '::1'), true);
    assert.equal(d('fib daddr type local', '2001:db8:1::3'), false);
    assert.equal(d('fib daddr type multicast', 'ff02::1'), true);
    assert.equal(d('fib daddr type != multicast', 'ff02::1'), false);
    assert.equal(d('fib daddr type != multicast', '2001:db8:1::3'), true);
  });

  it('fib saddr type: the source\'s type (an output chain drops what the node did not send from its own address)', () => {
    assert.equal(drops('fib saddr type != local', '198.51.100.2', '203.0.113.1', { hook: 'output' }), false);
    assert.equal(drops('fib saddr type != local', '198.51.100.9', '203.0.113.1', { hook: 'output' }), true);
    assert.equal(drops('fib saddr type multicast', '224.0.0.5', '192.0.2.1'), true);
    assert.equal(drops('fib saddr type local', '2001:db8:1::2', '2001:db8:2::1'), true);
  });

  it('. iif / . oif type local: an address of that interface only (loopback is lo\'s)', () => {
    // From lan (iif lan): 192.0.2.2 is lan's, 198.51.100.2 is wan's.
    assert.equal(drops('fib daddr . iif type local', '192.0.2.1', '192.0.2.2'), true);
    assert.equal(drops('fib daddr . iif type local', '192.0.2.1', '198.51.100.2'), false);
    assert.equal(drops('fib daddr . iif type local', '192.0.2.1', '127.0.0.1'), false);
    assert.equal(drops('fib daddr . iif type != local', '192.0.2.1', '198.51.100.2'), true);
    assert.equal(drops('fib daddr . iif type local', '2001:db8:1::9', '2001:db8:1::2'), true);
    assert.equal(drops('fib daddr . iif type local', '2001:db8:2::9', '2001:db8:1::2'), false);
    // Forward, oif wan (the route to the destination).
    assert.equal(drops('fib daddr . oif type local', '192.0.2.1', '198.51.100.2', { hook: 'forward' }), true);
    assert.equal(drops('fib saddr . oif type local', '192.0.2.2', '198.51.100.9', { hook: 'forward' }), false);
    assert.equal(drops('fib daddr . oif type multicast', '192.0.2.1', '239.1.1.1', { hook: 'forward' }), true);
  });
});

describe('fib ... oif | oifname: the node\'s route to the address', () => {
  it('IPv4: fib saddr oif missing (loose reverse path) drops a source with no route back, keeps the rest', () => {
    assert.equal(drops('fib saddr oif missing', '203.0.113.7', '192.0.2.1'), true, 'a blackholed (bogon) source: no route back');
    assert.equal(drops('fib saddr oif missing', '198.51.100.7', '192.0.2.1'), false);
    assert.equal(drops('fib saddr oif 0', '203.0.113.7', '192.0.2.1'), true, '0 is missing');
    assert.equal(drops('fib saddr oif exists', '192.0.2.9', '198.51.100.1'), true);
    assert.equal(drops('fib saddr oif "lan"', '192.0.2.9', '198.51.100.1'), true);
    assert.equal(drops('fib saddr oif "lan"', '198.51.100.9', '192.0.2.1'), false);
    assert.equal(drops('fib saddr oifname "wan"', '8.8.8.8', '192.0.2.1'), true, 'via the default route');
    assert.equal(drops('fib saddr oifname "wa*"', '8.8.8.8', '192.0.2.1'), true, 'oifname takes wildcards');
  });

  it('IPv4: fib daddr oif: the destination\'s interface; none for a blackholed or a local destination (RTN_LOCAL)', () => {
    assert.equal(drops('fib daddr oifname "lan"', '198.51.100.9', '192.0.2.7'), true);
    assert.equal(drops('fib daddr oif missing', '192.0.2.9', '203.0.113.1'), true, 'blackhole');
    assert.equal(drops('fib daddr oif missing', '192.0.2.9', '192.0.2.2'), true, 'the node\'s own address: the local table, no interface');
    assert.equal(drops('fib daddr oif missing', '192.0.2.9', '127.0.0.1'), true);
    assert.equal(drops('fib daddr oifname != "wan"', '192.0.2.9', '192.0.2.2'), true, 'the empty name');
    assert.equal(drops('fib daddr oif missing', '192.0.2.9', '198.51.100.20'), false);
    assert.equal(drops('fib daddr oif != 0', '192.0.2.9', '198.51.100.20'), true);
  });

  it('IPv4: fib daddr . iif oif: the route to the destination must leave by the input interface (a hairpin)', () => {
    assert.equal(drops('fib daddr . iif oif missing', '192.0.2.9', '198.51.100.9', { hook: 'forward' }), true);
    assert.equal(drops('fib daddr . iif oif missing', '192.0.2.9', '192.0.2.77', { hook: 'forward' }), false);
    assert.equal(drops('fib daddr . iif oifname "lan"', '192.0.2.9', '192.0.2.77', { hook: 'forward' }), true);
  });

  it('IPv4: a packet from 0.0.0.0 to a broadcast or 224.0.0.0/24 gives the input interface, as the kernel answers it', () => {
    // 0.0.0.0 has no route of its own but the default; the kernel answers before its lookup.
    assert.equal(drops('fib daddr oifname "wan"', '0.0.0.0', '255.255.255.255'), true);
    assert.equal(drops('fib daddr oifname "wan"', '0.0.0.0', '224.0.0.22'), true);
  });

  it('IPv6: the same lookups, link-local addresses on the input interface', () => {
    assert.equal(drops('fib saddr oif missing', '2001:db8:dead::1', '2001:db8:1::9'), true, 'blackholed source');
    assert.equal(drops('fib saddr oif missing', '2001:db8:2::1', '2001:db8:1::9'), false);
    assert.equal(drops('fib saddr oifname "lan"', '2001:db8:1::5', '2001:db8:2::9'), true);
    assert.equal(drops('fib daddr oif missing', '2001:db8:1::5', '2001:db8:1::2'), true, 'local');
    assert.equal(drops('fib daddr oif missing', '2001:db8:1::5', '::1'), true);
    assert.equal(drops('fib daddr oifname "wan"', '2001:db8:1::5', '2001:db8:99::1'), true, 'default route');
    assert.equal(drops('fib daddr . iif oif missing', '2001:db8:1::5', '2001:db8:2::9', { hook: 'forward' }), true);
    assert.equal(drops('fib daddr . iif oif missing', '2001:db8:1::5', '2001:db8:1::9', { hook: 'forward' }), false);
    // fe80::/10: the kernel binds the lookup to the device the packet came in on (lan, from 2001:db8:1::5).
    assert.equal(drops('fib daddr oifname "lan"', '2001:db8:1::5', 'fe80::1'), true);
  });

  it('no route table known (a replay without --route): no value, so neither missing nor != missing holds', () => {
    assert.equal(drops('fib saddr oif missing', '203.0.113.7', '192.0.2.1', { routes: false }), false);
    assert.equal(drops('fib saddr oif != 0', '203.0.113.7', '192.0.2.1', { routes: false }), false);
  });
});

describe('fib: listing and refusals', () => {
  it('listed and written as nft 1.0.6 lists them', () => {
    const fib = (result: string, ...flags: string[]) => ({ fib: { result, flags } });
    const t = (rule: string) => engine(rule).list();
    assert.deepEqual(roundTrips('fib daddr type local accept')[0], { match: { op: '==', left: fib('type', 'daddr'), right: 'local' } });
    assert.deepEqual(roundTrips('fib daddr type != local drop')[0], { match: { op: '!=', left: fib('type', 'daddr'), right: 'local' } });
    assert.deepEqual(roundTrips('fib daddr type { local, multicast } drop')[0], { match: { op: '==', left: fib('type', 'daddr'), right: { set: ['local', 'multicast'] } } });
    assert.deepEqual(roundTrips('fib daddr . iif type local accept')[0], { match: { op: '==', left: fib('type', 'daddr', 'iif'), right: 'local' } });
    assert.deepEqual(roundTrips('fib daddr . iif oif missing drop')[0], { match: { op: '==', left: fib('oif', 'daddr', 'iif'), right: false } });
    assert.deepEqual(roundTrips('fib saddr . iif oif missing drop')[0], { match: { op: '==', left: fib('oif', 'saddr', 'iif'), right: false } });
    assert.deepEqual(roundTrips('fib saddr . iif oifname "lan" accept')[0], { match: { op: '==', left: fib('oifname', 'saddr', 'iif'), right: 'lan' } });
    assert.deepEqual(roundTrips('fib daddr . iif oifname "lan" accept')[0], { match: { op: '==', left: fib('oifname', 'daddr', 'iif'), right: 'lan' } });
    assert.deepEqual(roundTrips('fib daddr . oif type local drop')[0], { match: { op: '==', left: fib('type', 'daddr', 'oif'), right: 'local' } });
    assert.ok(t('fib daddr type local accept').includes('fib daddr type local accept'));
  });

  it('nft 1.0.6\'s JSON listing of fib rules loads, and hafw writes the same JSON for them', () => {
    const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../node/ruleset/testdata/nft-1.0.6');
    const text = readFileSync(path.join(dir, 'fib.list.json'), 'utf8');
    const fibMatches = (json: unknown) =>
      (json as { nftables: Record<string, { expr?: { match?: { left: object } }[] }>[] }).nftables
        .filter((o) => 'rule' in o)
        .flatMap((o) => o.rule!.expr!.filter((x) => x.match !== undefined && 'fib' in x.match.left));
    const want = fibMatches(JSON.parse(text));
    assert.equal(want.length, 19);
    const e = new RulesetEngine();
    e.load(text, 'fib.list.json');
    assert.deepEqual(fibMatches(e.toJSON()), want);
  });

  it('refuses the reverse-path check where the input interface is inferred (inputDevices: shared), . mark, . oif oif, with the place and the reason', () => {
    assert.match(loadError('fib saddr . iif oif missing drop'), /^x\.nft:2:1: fib saddr \. iif is not supported here: with datapath\.inputDevices: shared .*TUN.*would always pass.*per-interface.*rp_filter/);
    assert.match(loadError('fib saddr . iif oif 0 drop'), /^x\.nft:2:1: fib saddr \. iif is not supported/);
    assert.match(loadError('fib saddr . iif oifname "lan" accept', 'forward'), /^x\.nft:2:1: fib saddr \. iif is not supported/);
    assert.match(loadError('fib saddr . mark . iif oif missing drop'), /^x\.nft:2:1: fib \.\.\. \. mark is not supported: .*policy routing/);
    assert.match(loadError('fib daddr . mark type local drop'), /^x\.nft:2:1: fib \.\.\. \. mark is not supported/);
    assert.match(loadError('fib daddr . oif oif missing drop'), /^x\.nft:2:1: fib \.\.\. \. oif cannot give oif or oifname: the kernel refuses/);
    assert.match(loadError('fib saddr . daddr oif missing drop'), /^x\.nft:2:1: a fib expression is 'fib saddr\|daddr/);
    assert.match(loadError('fib iif oif missing drop'), /^x\.nft:2:1: a fib expression is/);
    assert.match(loadError('fib daddr oif 3 drop'), /^x\.nft:2:15: interface index 3: hafw knows interfaces by name/);
    assert.match(loadError('fib daddr oif "eth*" drop'), /^x\.nft:2:15: 'eth\*': fib oif is one interface .*use oifname/);
    assert.match(jsonError({ fib: { result: 'oif', flags: ['saddr', 'iif'] } }, false), /fib saddr \. iif is not supported/);
    assert.match(jsonError({ fib: { result: 'oif', flags: ['iif', 'saddr'] } }, false), /fib saddr \. iif is not supported/, 'flags in any order');
    assert.match(jsonError({ fib: { result: 'oif', flags: ['saddr', 'daddr'] } }, false), /a fib expression is/);
    assert.equal(jsonError({ fib: { result: 'oif', flags: ['saddr'] } }, false), 'accepted');
    assert.equal(jsonError({ fib: { result: 'oif', flags: ['daddr'] } }, 'lan'), 'accepted');
    // With the real input interface (per-interface input devices, the default) it loads.
    assert.equal(loadError('fib saddr . iif oif missing drop', 'prerouting', 'exact'), 'accepted');
    assert.equal(loadError('fib saddr . iif oifname "lan" accept', 'forward', 'exact'), 'accepted');
    assert.equal(jsonError({ fib: { result: 'oif', flags: ['saddr', 'iif'] } }, false, 'prerouting', 'exact'), 'accepted');
    assert.match(loadError('fib saddr . mark . iif oif missing drop', 'prerouting', 'exact'), /\. mark is not supported/, '. mark stays refused');
  });

  it('fib saddr . iif oif (strict reverse path) with the real input interface: the route back must leave by it, IPv4 and IPv6', () => {
    const v4 = (src: string, iif: string) => drops('fib saddr . iif oif missing', src, '192.0.2.1', { iif });
    assert.equal(v4('192.0.2.9', 'wan'), true, 'a LAN source in by the WAN: spoofed');
    assert.equal(v4('192.0.2.9', 'lan'), false);
    assert.equal(v4('8.8.8.8', 'wan'), false, 'via the default route');
    assert.equal(v4('8.8.8.8', 'lan'), true);
    assert.equal(v4('203.0.113.7', 'wan'), true, 'blackholed: no route back at all');
    assert.equal(v4('192.0.2.2', 'lan'), true, 'the node\'s own address: RTN_LOCAL, no interface');
    const v6 = (src: string, iif: string) => drops('fib saddr . iif oif missing', src, '2001:db8:1::1', { iif });
    assert.equal(v6('2001:db8:1::9', 'wan'), true);
    assert.equal(v6('2001:db8:1::9', 'lan'), false);
    assert.equal(v6('2001:db8:77::1', 'wan'), false);
    assert.equal(v6('fe80::1', 'wan'), false, 'link-local: the input interface, as the kernel answers');
    assert.equal(drops('fib saddr . iif oifname != "lan"', '192.0.2.9', '198.51.100.1', { hook: 'forward', iif: 'wan' }), true);
    assert.equal(drops('fib saddr . iif oifname != "lan"', '192.0.2.9', '198.51.100.1', { hook: 'forward', iif: 'lan' }), false);
  });

  it('refuses type values it cannot tell apart', () => {
    assert.match(loadError('fib daddr type broadcast drop'), /^x\.nft:2:16: fib type 'broadcast' is not supported: .*subnet broadcast/);
    assert.match(loadError('fib daddr type { multicast, unicast } drop'), /^x\.nft:2:29: fib type 'unicast' is not supported/);
    assert.match(loadError('fib daddr type lokal drop'), /^x\.nft:2:16: 'lokal' is not a fib address type/);
    assert.match(jsonError({ fib: { result: 'type', flags: ['daddr'] } }, 'broadcast'), /fib type 'broadcast' is not supported/);
    assert.equal(jsonError({ fib: { result: 'type', flags: ['daddr'] } }, 'local'), 'accepted');
  });

  it('only in the hooks the kernel allows (nft_fib_validate)', () => {
    assert.match(loadError('fib daddr oif missing drop', 'forward'), /^x\.nft:2:1: fib daddr oif cannot be used in a forward chain \(only prerouting: as in the kernel\)/);
    assert.equal(loadError('fib daddr . iif oif missing drop', 'forward'), 'accepted');
    assert.match(loadError('fib daddr . iif oif missing drop', 'output'), /cannot be used in a output chain/);
    assert.match(loadError('fib daddr . oif type local drop', 'prerouting'), /fib daddr \. oif type cannot be used in a prerouting chain/);
    assert.match(loadError('fib daddr . iif type local drop', 'postrouting'), /fib daddr \. iif type cannot be used in a postrouting chain/);
    assert.equal(loadError('fib daddr type local drop', 'postrouting'), 'accepted');
  });
});
