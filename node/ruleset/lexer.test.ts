import assert from 'node:assert/strict';
import { Tok, tokenize } from './lexer.js';
import { RulesetError } from './errors.js';

describe('lexer', () => {
  it('gives every token its line and column', () => {
    const toks = tokenize('table ip t {\n  chain c { ip saddr 10.0.0.0/8 drop }\n}');
    const saddr = toks.find((t) => t.text === '10.0.0.0/8')!;
    assert.equal(saddr.line, 2);
    assert.equal(saddr.col, 22);
    assert.equal(toks.filter((t) => t.kind === Tok.Eol).length, 2);
  });

  it('keeps IPv6 prefixes, ranges and rates as single words', () => {
    const words = tokenize('2001:db8::/32 1000-2000 10/second @set $var').filter((t) => t.kind === Tok.Word).map((t) => t.text);
    assert.deepEqual(words, ['2001:db8::/32', '1000-2000', '10/second', '@set', '$var']);
  });

  it('drops comments and reads quoted strings', () => {
    const toks = tokenize('log prefix "a b" # comment here\n');
    assert.deepEqual(toks.map((t) => t.text), ['log', 'prefix', 'a b', '\n', '']);
    assert.equal(toks[2].kind, Tok.String);
  });

  it('reports an unterminated string at its position', () => {
    assert.throws(() => tokenize('x\n  "abc', 'f.nft'), (e: unknown) => e instanceof RulesetError && e.errors[0].line === 2 && e.errors[0].col === 3);
  });

  it('rejects characters outside the language with their position', () => {
    assert.throws(() => tokenize('a ~ b', 'f.nft'), /f\.nft:1:3: unexpected character/);
  });
});
