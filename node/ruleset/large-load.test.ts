import assert from 'node:assert/strict';
import { checkRuleset } from './check.js';
import { ClassifyContext, Hook, Verdict } from './context.js';
import { RulesetEngine } from './engine.js';
import { posOf } from './errors.js';
import { Lexer, Tok, tokenize } from './lexer.js';
import { parseText } from './parser.js';
import { builtinRegistry } from './modules/index.js';
import { buildTcp, parseBuilt } from '../packet/build.js';

/** Just line and col of a position (positions are the tokens themselves). */
function at(p: { line: number; col: number } | undefined): { line: number; col: number } | undefined {
  return p && { line: p.line, col: p.col };
}

/** The benchmark's shape, small: a base chain jumping into `chains` chains of `per` rules. */
function chains(n: number, per: number): string {
  const out = ['table inet bench {'];
  for (let c = 0; c < n; c++) {
    out.push(`  chain c${c} {`);
    for (let r = 0; r < per; r++) out.push(`    ip saddr 198.51.100.${r + 1} tcp dport ${1024 + c * per + r} counter accept`);
    out.push('  }');
  }
  out.push('  chain forward {', '    type filter hook forward priority 0; policy drop;');
  for (let c = 0; c < n; c++) out.push(`    ip daddr 192.0.2.${(c % 250) + 1} tcp sport ${1024 + c} jump c${c}`);
  out.push('  }', '}');
  return out.join('\n') + '\n';
}

describe('large loads (the streaming lexer, shared compile scratch, positions)', () => {
  it('streams the same tokens as a whole-text scan, with any lookahead', () => {
    const text = chains(20, 5);
    const all = tokenize(text, 'x.nft');
    const lx = new Lexer(text, 'x.nft');
    for (let i = 0; i < all.length; i++) {
      // look up to 3 tokens ahead before consuming, as the parser does for selectors
      for (let k = 0; k < 3 && i + k < all.length; k++) {
        const a = lx.peekAt(k);
        const b = all[i + k]!;
        assert.deepEqual([a.kind, a.text, a.line, a.col], [b.kind, b.text, b.line, b.col], `token ${i}+${k}`);
      }
      lx.advance();
    }
    assert.equal(lx.peekAt(0).kind, Tok.Eof);
    lx.advance(); // never past the end
    assert.equal(lx.peekAt(0).kind, Tok.Eof);
  });

  it('reads repeated, similar and long words exactly', () => {
    const toks = tokenize('ip saddr 10.0.0.1 ip daddr 10.0.0.10 ipx saddr', 'x.nft').filter((t) => t.kind === Tok.Word);
    assert.deepEqual(toks.map((t) => t.text), ['ip', 'saddr', '10.0.0.1', 'ip', 'daddr', '10.0.0.10', 'ipx', 'saddr']);
    const longWord = 'a'.repeat(40);
    assert.equal(tokenize(`${longWord} ${longWord}`)[1]!.text, longWord);
  });

  it('keeps exact line:col on rules and statements deep in a large file', () => {
    const text = chains(300, 10);
    const cmds = parseText(builtinRegistry(), text, 'big.nft');
    const rules = cmds.map((c) => (c as { add?: { rule?: { expr: object[] } } }).add?.rule).filter((r) => r !== undefined);
    assert.equal(rules.length, 300 * 10 + 300);
    // chain c123's 7th rule: line 1 (table) + 123 chains of 12 lines + its `chain` line + 7
    const line = 1 + 123 * 12 + 1 + 7;
    const src = text.split('\n')[line - 1]!;
    assert.equal(src, '    ip saddr 198.51.100.7 tcp dport 2260 counter accept');
    const r = rules[123 * 10 + 6]!;
    assert.deepEqual(at(posOf(r)), { line, col: 5 });
    const cols = ['ip saddr', 'tcp', 'counter', 'accept'].map((w) => src.indexOf(w) + 1);
    assert.deepEqual(r.expr.map((s) => at(posOf(s))), cols.map((col) => ({ line, col })));
  });

  it('reports an error in the last chain of a large ruleset at its exact place', () => {
    const text = chains(400, 10).replace('jump c399', 'jump c400');
    const r = checkRuleset(text, 'big.nft');
    assert.equal(r.ok, false);
    const line = text.split('\n').findIndex((l) => l.includes('jump c400')) + 1;
    assert.deepEqual(r.errors, [{ line, col: text.split('\n')[line - 1]!.indexOf('jump') + 1, message: "unknown chain 'c400'" }]);
  });

  it('classifies correctly when every rule shares the compiled key scratch', () => {
    // Two matches per rule, set and value, in 50 chains: each must read its own field.
    const e = new RulesetEngine();
    e.load(
      chains(50, 4).replace('table inet bench {', 'table inet bench {\n  set ports { type inet_service; elements = { 22, 1224 } }')
        .replace('ip daddr 192.0.2.50 tcp sport 1073 jump c49', 'ip daddr 192.0.2.50 tcp sport @ports jump c49'),
      'x.nft',
    );
    const ctx = new ClassifyContext();
    const run = (src: string, dst: string, sport: number, dport: number): number => {
      ctx.pkt = parseBuilt(buildTcp({ src, dst, sport, dport, flags: 'S' }));
      return e.compiled.classify(ctx, Hook.Forward);
    };
    assert.equal(run('198.51.100.3', '192.0.2.8', 1031, 1024 + 7 * 4 + 2), Verdict.Accept); // c7, its 3rd rule
    assert.equal(run('198.51.100.3', '192.0.2.8', 1031, 1024 + 7 * 4 + 1), Verdict.Drop); // right chain, wrong rule
    assert.equal(run('198.51.100.1', '192.0.2.50', 22, 1024 + 49 * 4), Verdict.Accept); // via the set
    assert.equal(run('198.51.100.1', '192.0.2.50', 23, 1024 + 49 * 4), Verdict.Drop); // not in the set
  });
});
