/**
 * The configuration format keepalived and conntrackd share: words, optional double-quoted
 * strings, blocks in braces, one statement a line, comments from `#` or `!` to the end
 * of the line. A small reader made for `hafw import`: it keeps each word's line and
 * column, so every finding can point at its place, and it refuses unbalanced braces and
 * unterminated strings with that place.
 *
 *   vrrp_instance VI_1 {          -> { words: [vrrp_instance, VI_1], children: [...] }
 *     virtual_ipaddress {
 *       192.0.2.1/24 dev eth1     -> { words: [192.0.2.1/24, dev, eth1] }
 *     }
 *     Protocol Accept { TCP UDP } -> { words: [Protocol, Accept], children: [{ words: [TCP, UDP] }] }
 */

export interface Word {
  text: string;
  line: number;
  col: number;
}

export interface Statement {
  words: Word[];
  /** The block after the words, if any. */
  children?: Statement[];
  line: number;
  col: number;
}

export class BracesError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}:${col}: ${problem}`);
  }
}

/** Deepest nesting accepted (real files nest three or four levels). */
const MAX_DEPTH = 32;

type Token = Word & { kind: 'word' | 'open' | 'close' | 'newline' };

function tokens(text: string, file: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    const col = i - lineStart + 1;
    if (c === '\n') {
      out.push({ kind: 'newline', text: '\n', line, col });
      line++;
      lineStart = ++i;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '#' || c === '!') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '{' || c === '}') {
      out.push({ kind: c === '{' ? 'open' : 'close', text: c, line, col });
      i++;
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      const nl = text.indexOf('\n', i + 1);
      if (end < 0 || (nl >= 0 && nl < end)) throw new BracesError(file, line, col, 'a string that does not end on its line (missing ")');
      out.push({ kind: 'word', text: text.slice(i + 1, end), line, col });
      i = end + 1;
    } else {
      let j = i;
      while (j < text.length && !' \t\r\n{}#"'.includes(text[j]!)) j++;
      // `!` starts a comment only where a word could start: inside a word it is a character.
      out.push({ kind: 'word', text: text.slice(i, j), line, col });
      i = j;
    }
  }
  return out;
}

/** Parses a whole file into its top-level statements. */
export function parseBraces(text: string, file: string): Statement[] {
  const toks = tokens(text, file);
  const root: Statement[] = [];
  // Open blocks: the statement that owns each and the list its children go into.
  const stack: { owner: Statement | null; list: Statement[] }[] = [{ owner: null, list: root }];
  let cur: Statement | null = null;
  for (const t of toks) {
    const top = stack[stack.length - 1]!;
    if (t.kind === 'word') {
      if (cur === null) {
        cur = { words: [], line: t.line, col: t.col };
        top.list.push(cur);
      }
      if (cur.children) {
        // Words after a closed block on the same line (`} foo`): a statement of their own.
        cur = { words: [], line: t.line, col: t.col };
        top.list.push(cur);
      }
      cur.words.push({ text: t.text, line: t.line, col: t.col });
    } else if (t.kind === 'newline') {
      cur = null;
    } else if (t.kind === 'open') {
      if (stack.length > MAX_DEPTH) throw new BracesError(file, t.line, t.col, `blocks nested deeper than ${MAX_DEPTH}`);
      // A `{` on a line of its own opens the block of the statement above it.
      const owner: Statement | undefined = cur ?? top.list[top.list.length - 1];
      if (!owner || owner.children) throw new BracesError(file, t.line, t.col, "'{' without a name before it");
      owner.children = [];
      stack.push({ owner, list: owner.children });
      cur = null;
    } else {
      if (stack.length === 1) throw new BracesError(file, t.line, t.col, "'}' without a '{' to close");
      stack.pop();
      // What follows `}` on the same line belongs to the enclosing block.
      const parent = stack[stack.length - 1]!;
      cur = parent.list[parent.list.length - 1] ?? null;
    }
  }
  if (stack.length > 1) {
    const open = stack[stack.length - 1]!.owner!;
    throw new BracesError(file, open.line, open.col, `the block of '${open.words.map((w) => w.text).join(' ')}' is never closed (missing '}')`);
  }
  return root;
}

/** All words of a block's statements, in order (list blocks: `unicast_peer { a b \n c }`). */
export function blockWords(s: Statement): Word[] {
  return (s.children ?? []).flatMap((c) => [...c.words, ...blockWords(c)]);
}

/** The statement's first word. */
export function keyword(s: Statement): string {
  return s.words[0]?.text ?? '';
}
