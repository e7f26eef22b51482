/**
 * Characters a ruleset string may not hold. The printer writes strings with JSON.stringify,
 * which escapes control characters (\n, \u0000) and lone surrogates, and the lexer reads a
 * backslash as "the next character as is": such a string would print as text that loads
 * back as another string. nft cannot hold them either (a NUL ends its C string), and a raw
 * control character in a comment would reach `list ruleset` output and terminals. So the
 * lexer and the JSON reader refuse them, and every string that loads prints back the same.
 */

/** The index of the first C0 control, DEL or lone surrogate in `s`, or -1. */
export function badStringChar(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) i++;
      else return i;
    }
  }
  return -1;
}

/** What the error says about the character at `i`: "control character U+0000". */
export function describeBadChar(s: string, i: number): string {
  const c = s.charCodeAt(i);
  const hex = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  return c >= 0xd800 && c <= 0xdfff ? `lone surrogate ${hex}` : `control character ${hex}`;
}
