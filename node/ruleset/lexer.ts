/**
 * Tokenizer for the nft-style language. Tokens carry line:col (1-based) so every later
 * error can point at the source.
 *
 * Words are greedy runs of [A-Za-z0-9_.:/$@*-] and friends: an IPv6 prefix
 * (`2001:db8::/32`), a range (`1000-2000`), a rate (`10/second`), a variable (`$lan`)
 * or a set reference (`@blocked`) is one word, and the data type of the place it appears
 * in splits it. A word that is exactly `.`, `:` or `/` is an operator (concatenation,
 * map separator, flag mask) — nft itself prints those with spaces around them.
 */
import { Pos, RulesetError } from './errors.js';

export const enum Tok {
  Word = 1,
  String = 2,
  Punct = 3,
  Eol = 4,
  Eof = 5,
}

export interface Token extends Pos {
  kind: Tok;
  text: string;
}

const PUNCT1 = '{}();,=!<>&|+';

function isWordChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || // 0-9
    (c >= 65 && c <= 90) || // A-Z
    (c >= 97 && c <= 122) || // a-z
    c === 95 || c === 46 || c === 58 || c === 47 || c === 36 || c === 64 || c === 45 || c === 42 // _ . : / $ @ - *
  );
}

export function tokenize(text: string, file = '<input>'): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    const col = i - lineStart + 1;
    if (c === 10) {
      out.push({ kind: Tok.Eol, text: '\n', line, col });
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    if (c === 92 && text.charCodeAt(i + 1) === 10) {
      // backslash-newline continues a line
      i += 2;
      line++;
      lineStart = i;
      continue;
    }
    if (c === 35) {
      // '#' comment to end of line
      while (i < n && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    if (c === 34) {
      let j = i + 1;
      let s = '';
      while (j < n && text.charCodeAt(j) !== 34) {
        if (text.charCodeAt(j) === 10) throw RulesetError.at(file, { line, col }, 'unterminated string');
        if (text.charCodeAt(j) === 92 && j + 1 < n) {
          j++;
        }
        s += text[j];
        j++;
      }
      if (j >= n) throw RulesetError.at(file, { line, col }, 'unterminated string');
      out.push({ kind: Tok.String, text: s, line, col });
      i = j + 1;
      continue;
    }
    if (isWordChar(c)) {
      let j = i + 1;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      out.push({ kind: Tok.Word, text: text.slice(i, j), line, col });
      i = j;
      continue;
    }
    // == != <= >= : the second character is '='
    if ((c === 61 || c === 33 || c === 60 || c === 62) && text.charCodeAt(i + 1) === 61) {
      out.push({ kind: Tok.Punct, text: text.slice(i, i + 2), line, col });
      i += 2;
      continue;
    }
    if (PUNCT1.includes(text[i])) {
      out.push({ kind: Tok.Punct, text: text[i], line, col });
      i++;
      continue;
    }
    throw RulesetError.at(file, { line, col }, `unexpected character '${text[i]}'`);
  }
  out.push({ kind: Tok.Eof, text: '', line, col: i - lineStart + 1 });
  return out;
}
