import assert from 'node:assert/strict';
import { describeModules } from '../node/ruleset/schema.js';
import { RulesetEngine, RulesetError } from '../node/ruleset/index.js';
import { buildForms, buildRule, rowAtLine, newStatementRow, type SchemaEntry, type RuleDraft } from './forms.js';

const BASE = 'table inet filter {\n  set blk { type ipv4_addr; }\n  chain forward {\n    type filter hook forward priority 0; policy drop;\n  }\n}\n';

function draft(over: Partial<RuleDraft>): RuleDraft {
  return { family: 'inet', table: 'filter', chain: 'forward', matches: [], statements: [], ...over };
}

describe('console rule builder forms (generated from the module registry)', () => {
  const schema = describeModules() as SchemaEntry[];
  const forms = buildForms(schema);

  it('has a form for every registered match and statement, with every parameter, its type and help', () => {
    for (const e of schema) {
      if (e.kind === 'match') {
        const m = forms.matches.find((x) => x.name === e.name);
        assert.ok(m, e.name);
        assert.equal(m.help, e.help);
        assert.equal(m.valueType, e.type);
        assert.deepEqual(m.left, e.json);
      } else if (e.kind === 'statement') {
        const s = forms.statements.find((x) => x.name === e.name);
        assert.ok(s, e.name);
        assert.deepEqual(s.fields.map((f) => [f.name, f.type, f.help, f.required]), (e.params ?? []).map((p) => [p.name, p.type, p.help, p.required === true]));
      }
    }
    assert.equal(forms.matches.length, schema.filter((e) => e.kind === 'match').length);
    assert.equal(forms.statements.length, schema.filter((e) => e.kind === 'statement').length);
    // Types lend their names to the value field: `ct state` offers established, related...
    assert.ok(forms.matches.find((m) => m.name === 'ct state')!.symbols.includes('established'));
  });

  it('shows a module the registry gains, without any console change', () => {
    const extra: SchemaEntry[] = [
      ...schema,
      { kind: 'type', name: 'colour', help: 'a colour of the packet', bits: 8, symbols: ['red', 'green'] },
      { kind: 'match', name: 'pkt colour', help: 'the colour of the packet', families: ['inet'], type: 'colour', json: { meta: { key: 'colour' } } },
      { kind: 'statement', name: 'paint', help: 'paint the packet', families: ['inet'], json: ['paint'], params: [{ name: 'colour', type: 'red|green|blue', required: true, help: 'the new colour' }, { name: 'coats', type: 'integer', help: 'how many coats' }] },
    ];
    const f = buildForms(extra);
    const m = f.matches.find((x) => x.name === 'pkt colour')!;
    assert.deepEqual(m.symbols, ['red', 'green']);
    const s = f.statements.find((x) => x.name === 'paint')!;
    assert.deepEqual(s.fields.map((x) => [x.name, x.kind, x.options]), [['colour', 'enum', ['red', 'green', 'blue']], ['coats', 'integer', undefined]]);
    const b = buildRule(f, draft({ matches: [{ name: 'pkt colour', op: '==', value: 'red' }], statements: [{ ...newStatementRow(s), values: { colour: 'blue', coats: '2' } }] }));
    assert.deepEqual(b.errors, []);
    assert.deepEqual((b.command as { add: { rule: { expr: unknown[] } } }).add.rule.expr, [{ match: { op: '==', left: { meta: { key: 'colour' } }, right: 'red' } }, { paint: { colour: 'blue', coats: 2 } }]);
    // Its parameters are checked from their declared types too.
    const bad = buildRule(f, draft({ statements: [{ name: 'paint', key: 'paint', values: { coats: 'many' } }] }));
    assert.deepEqual(bad.errors.map((e) => e.at), ['/statements/0/colour', '/statements/0/coats']);
  });

  it('builds rules the node accepts: values, prefixes, ranges, sets, @sets, flags, parameters', () => {
    const engine = new RulesetEngine();
    engine.load(BASE);
    const rows: RuleDraft[] = [
      draft({ matches: [{ name: 'tcp dport', op: '==', value: '22' }, { name: 'ip saddr', op: '!=', value: '192.0.2.0/24' }], statements: [{ name: 'counter', key: 'counter', values: {} }, { name: 'verdict', key: 'accept', values: {} }] }),
      draft({ matches: [{ name: 'ct state', op: 'in', value: 'established,related' }], statements: [{ name: 'verdict', key: 'accept', values: {} }] }),
      draft({ matches: [{ name: 'tcp dport', op: '==', value: '{ 80, 443, 8000-8080 }' }, { name: 'icmp type', op: '==', value: 'echo-request' }], statements: [{ name: 'log', key: 'log', values: { prefix: 'web ', level: 'info' } }, { name: 'verdict', key: 'drop', values: {} }] }),
      draft({ matches: [{ name: 'ip saddr', op: '==', value: '@blk' }], statements: [{ name: 'limit', key: 'limit', values: { rate: '10', per: 'second' } }, { name: 'mangle', key: 'mangle', values: { key: 'meta mark', value: '5' } }, { name: 'verdict', key: 'drop', values: {} }] }),
    ];
    for (const d of rows) {
      const b = buildRule(forms, d);
      assert.deepEqual(b.errors, [], JSON.stringify(d));
      engine.transaction(b.text, undefined, '<builder>');
    }
    const text = engine.list();
    assert.match(text, /tcp dport 22 ip saddr != 192\.0\.2\.0\/24 counter packets 0 bytes 0 accept/);
    assert.match(text, /ct state established,related accept/);
    assert.match(text, /tcp dport \{ 80, 443, 8000-8080 \} icmp type echo-request log prefix "web " level info drop/);
    assert.match(text, /ip saddr @blk limit rate 10\/second meta mark set 0x00000005 drop/);
  });

  it('finds bad input before sending, at its row and field', () => {
    const b = buildRule(forms, draft({ matches: [{ name: 'tcp dport', op: '==', value: '' }, { name: 'ip saddr', op: '==', value: '10.0.0.0/40' }, { name: 'no such', op: '==', value: '1' }], statements: [{ name: 'limit', key: 'limit', values: { rate: 'fast' } }] }));
    assert.deepEqual(b.errors.map((e) => e.at), ['/matches/0/value', '/matches/1/value', '/matches/2/name', '/statements/0/rate']);
    assert.match(b.errors[1]!.message, /prefix length 40 is longer than the 32 bits of ipv4_addr/);
    assert.match(buildRule(forms, draft({ family: 'ip6', matches: [{ name: 'ip saddr', op: '==', value: '192.0.2.1' }] })).errors[0]!.message, /not available in ip6 tables/);
  });

  it("maps the node's line:col errors back to the row they are about", () => {
    const engine = new RulesetEngine();
    engine.load(BASE);
    const b = buildRule(forms, draft({ matches: [{ name: 'tcp dport', op: '==', value: '22' }], statements: [{ name: 'counter', key: 'counter', values: {} }, { name: 'verdict', key: 'jump', values: { target: 'nowhere' } }] }));
    assert.deepEqual(b.errors, []);
    let line = 0;
    try {
      engine.transaction(b.text, undefined, '<builder>');
    } catch (err) {
      assert.ok(err instanceof RulesetError);
      line = err.errors[0]!.line;
      assert.match(err.errors[0]!.message, /unknown chain 'nowhere'/);
    }
    assert.equal(rowAtLine(b, line), '/statements/1');
  });
});
