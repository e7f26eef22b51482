import assert from 'node:assert/strict';
import { checkRuleset, convertRuleset } from './check.js';
import { describeModules, formatSchema } from './schema.js';
import { builtinRegistry } from './modules/index.js';
import { Registry } from './registry.js';
import { RulesetError } from './errors.js';
import { RulesetEngine } from './engine.js';

describe('check, convert and schema', () => {
  it('checkRuleset counts what it loaded', () => {
    const r = checkRuleset('table inet t { set s { type ipv4_addr; }\n chain a { type filter hook forward priority 0; policy drop; ip saddr @s drop\n accept } }', 'ok.nft');
    assert.equal(r.ok, true);
    assert.deepEqual([r.tables, r.chains, r.rules, r.sets], [1, 1, 2, 1]);
    assert.ok(r.ms >= 0);
    assert.deepEqual(r.errors, []);
  });

  it('checkRuleset returns positioned errors instead of throwing', () => {
    const r = checkRuleset('table inet t {\n chain a { tcp dport 22 jump b } }', 'bad.nft');
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors, [{ line: 2, col: 25, message: "unknown chain 'b'" }]);
  });

  it('convertRuleset throws a positioned error on bad input', () => {
    assert.throws(() => convertRuleset('table ip t { chain c { bogus } }', 'json', 'x.nft'), (e: unknown) => e instanceof RulesetError && /x\.nft:1:24/.test(e.message));
  });

  it('convertRuleset to json leaves out handles so the output is stable', () => {
    const j = JSON.parse(convertRuleset('table ip t { chain c { accept } }', 'json'));
    assert.equal(JSON.stringify(j).includes('handle'), false);
    assert.deepEqual(j.nftables[3], { rule: { family: 'ip', table: 't', chain: 'c', expr: [{ accept: null }] } });
  });

  it('describes every registered match and statement, with parameters and families', () => {
    const all = describeModules();
    const reg = builtinRegistry();
    for (const m of reg.matches) assert.ok(all.some((x) => x.kind === 'match' && x.name === m.name), m.name);
    for (const s of reg.statements) assert.ok(all.some((x) => x.kind === 'statement' && x.name === s.name), s.name);
    const limit = describeModules('limit')[0];
    assert.deepEqual(limit.params?.map((p) => p.name), ['rate', 'per', 'burst', 'inv', 'rate_unit', 'burst_unit']);
    const saddr = describeModules('ip saddr')[0];
    assert.deepEqual(saddr.families, ['ip', 'inet']);
    assert.deepEqual(saddr.json, { payload: { protocol: 'ip', field: 'saddr' } });
    assert.ok(describeModules('tcp').length >= 3, 'a prefix lists the tcp matches');
    assert.match(formatSchema(describeModules('ct state')), /ct state \(ct_state\)\s+conntrack state/);
    assert.equal(formatSchema(describeModules('nope')), 'no such module\n');
  });

  it('a new match module is usable by parser, printer, validation and compiler at once', () => {
    const reg = builtinRegistry();
    const mine = new Registry();
    for (const t of reg.types.values()) mine.registerType(t);
    for (const m of reg.matches) mine.registerMatch(m);
    for (const s of reg.statements) mine.registerStatement(s);
    const proto = reg.type('inet_proto')!;
    mine.registerMatch({
      name: 'ip evil', keywords: ['ip', 'evil'], left: { payload: { protocol: 'ip', field: 'evil' } },
      type: { ...proto, name: 'ip_evil', symbols: undefined, help: 'RFC 3514 evil bit' }, families: ['ip', 'inet'], l3: 4, help: 'IPv4 evil bit (RFC 3514)',
      load(ctx, out, off) {
        if (ctx.pkt.family !== 4) return false;
        out[off] = 4;
        return true;
      },
    });
    const e = new RulesetEngine({ registry: mine });
    e.load('table ip t { chain c { type filter hook forward priority 0; policy accept; ip evil < 5 drop } }');
    assert.match(e.list(), /ip evil < 5 drop/);
    assert.equal(describeModules('ip evil', mine).length, 1);
  });
});
