/**
 * Tokenizer for the nft-style language. Tokens carry line:col (1-based) so every later
 * error can point at the source.
 *
 * Words are greedy runs of [A-Za-z0-9_.:/$@*[]-] and friends: an IPv6 prefix
 * (`2001:db8::/32`), a range (`1000-2000`), a rate (`10/second`), a variable (`$lan`),
 * a set reference (`@blocked`) or a bracketed IPv6 NAT target (`[2001:db8::10]:80`) is
 * one word, and the data type of the place it appears in splits it. A word that is exactly
 * `.`, `:` or `/` is an operator (concatenation, map separator, flag mask) — nft itself
 * prints those with spaces around them.
 */
import { Pos, RulesetError } from './errors.js';
import { badStringChar, describeBadChar } from './string-chars.js';

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

/**
 * 1 for the characters of a word: [0-9A-Za-z] and _ . : / $ @ - * [ ] (a table: one load
 * per character). Brackets appear in nft text only around an IPv6 address before a port.
 */
const WORD_CHARS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  WORD_CHARS[c] = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || '_.:/$@-*[]'.includes(String.fromCharCode(c)) ? 1 : 0;
}

function isWordChar(c: number): boolean {
  return c < 128 && WORD_CHARS[c] === 1;
}

/**
 * Reads tokens one at a time, on demand. The parser pulls them through a small lookahead
 * window, so a 10,000-rule file never holds 100,000 token objects at once: tokens that
 * are not kept as a source position die young, and the garbage collector does not copy
 * them from one generation to the next (it did, and that was most of the load time).
 */
export class Lexer {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  private readonly n: number;
  /** The next token (what peekAt(0) returns): one field read on the parser's hot path. */
  private cur: Token;
  /** Tokens after `cur` already scanned for a lookahead: `len` of them from `head` (power-of-two ring). */
  private ring: Token[] = new Array(8);
  private head = 0;
  private len = 0;

  constructor(private readonly text: string, private readonly file = '<input>') {
    this.n = text.length;
    this.cur = this.scan();
  }

  /** The token `k` places ahead (0 = the next one); Eof repeats at the end. */
  peekAt(k: number): Token {
    if (k === 0) return this.cur;
    while (this.len < k) {
      if (this.len === this.ring.length) this.grow();
      this.ring[(this.head + this.len) & (this.ring.length - 1)] = this.scan();
      this.len++;
    }
    return this.ring[(this.head + k - 1) & (this.ring.length - 1)];
  }

  /** Consumes the next token (never past Eof). */
  advance(): void {
    if (this.cur.kind === Tok.Eof) return;
    if (this.len === 0) {
      this.cur = this.scan();
      return;
    }
    this.cur = this.ring[this.head];
    this.head = (this.head + 1) & (this.ring.length - 1);
    this.len--;
  }

  private grow(): void {
    const old = this.ring;
    const ring: Token[] = new Array(old.length * 2);
    for (let k = 0; k < this.len; k++) ring[k] = old[(this.head + k) & (old.length - 1)];
    this.ring = ring;
    this.head = 0;
  }

  /** Scans one token from the text (Eof, again and again, at the end). */
  private scan(): Token {
    const text = this.text;
    const n = this.n;
    let i = this.i;
    while (i < n) {
      const c = text.charCodeAt(i);
      const col = i - this.lineStart + 1;
      if (c === 10) {
        const t: Token = { kind: Tok.Eol, text: '\n', line: this.line, col };
        i++;
        this.line++;
        this.lineStart = i;
        this.i = i;
        return t;
      }
      if (c === 32 || c === 9 || c === 13) {
        i++;
        continue;
      }
      if (c === 92 && text.charCodeAt(i + 1) === 10) {
        // backslash-newline continues a line
        i += 2;
        this.line++;
        this.lineStart = i;
        continue;
      }
      if (c === 35) {
        // '#' comment to end of line
        while (i < n && text.charCodeAt(i) !== 10) i++;
        continue;
      }
      if (c === 34) {
        const line = this.line;
        let j = i + 1;
        let s = '';
        while (j < n && text.charCodeAt(j) !== 34) {
          if (text.charCodeAt(j) === 10) throw RulesetError.at(this.file, { line, col }, 'unterminated string');
          if (text.charCodeAt(j) === 92 && j + 1 < n) {
            // `\*` stays as written, as nft keeps it: in an interface name it is a literal
            // `*`, where a bare trailing `*` is a wildcard (data-types.ts IFNAME).
            if (text.charCodeAt(j + 1) === 42) s += '\\';
            j++;
          }
          const ch = text.charCodeAt(j);
          if (ch < 0x20 || ch === 0x7f || (ch >= 0xd800 && ch <= 0xdfff)) {
            // A surrogate pair is one character; anything else here would not print back (string-chars.ts).
            const bad = badStringChar(text.slice(j, j + 2));
            if (bad === 0) throw RulesetError.at(this.file, { line, col: j - this.lineStart + 1 }, `${describeBadChar(text, j)} in a string`);
            s += text[j++];
          }
          s += text[j];
          j++;
        }
        if (j >= n) throw RulesetError.at(this.file, { line, col }, 'unterminated string');
        this.i = j + 1;
        return { kind: Tok.String, text: s, line, col };
      }
      if (isWordChar(c)) {
        let j = i + 1;
        while (j < n && isWordChar(text.charCodeAt(j))) j++;
        this.i = j;
        return { kind: Tok.Word, text: text.slice(i, j), line: this.line, col };
      }
      // == != <= >= : the second character is '='
      if ((c === 61 || c === 33 || c === 60 || c === 62) && text.charCodeAt(i + 1) === 61) {
        this.i = i + 2;
        return { kind: Tok.Punct, text: text.slice(i, i + 2), line: this.line, col };
      }
      if (isPunct1(c)) {
        this.i = i + 1;
        return { kind: Tok.Punct, text: text[i], line: this.line, col };
      }
      throw RulesetError.at(this.file, { line: this.line, col }, `unexpected character '${text[i]}'`);
    }
    this.i = i;
    return { kind: Tok.Eof, text: '', line: this.line, col: i - this.lineStart + 1 };
  }
}

/** One of `{}();,=!<>&|+` (single-character punctuation). */
function isPunct1(c: number): boolean {
  return (
    c === 123 || c === 125 || c === 40 || c === 41 || c === 59 || c === 44 || c === 61 ||
    c === 33 || c === 60 || c === 62 || c === 38 || c === 124 || c === 43
  );
}

/** The whole text as a token list (ending in Eof): for tests and tools; the parser streams. */
export function tokenize(text: string, file = '<input>'): Token[] {
  const lx = new Lexer(text, file);
  const out: Token[] = [];
  for (;;) {
    const t = lx.peekAt(0);
    out.push(t);
    if (t.kind === Tok.Eof) return out;
    lx.advance();
  }
}
