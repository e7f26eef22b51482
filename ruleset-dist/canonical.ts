/**
 * The canonical form of a ruleset, whose SHA-256 is the version's hash. The store prints
 * its rules without handles, counters or remaining expiry (those differ between nodes that
 * run the same rules); this module removes what a printer may still vary: the order of set
 * elements (a node that built a set by adds and deletes holds them in another order than
 * one that loaded the whole text) and trailing whitespace.
 */
import { createHash } from 'node:crypto';

const ELEMENTS = /^(\s*)elements = \{ /;

/** Sorts the items of every `elements = { ... }` block and trims line ends. */
export function canonicalize(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').split('\n').map((l) => l.replace(/\s+$/, ''));
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = ELEMENTS.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    // The block runs until the line that ends with " }"; items end with "," except the last.
    const block: string[] = [line.slice(m[0].length)];
    while (!block[block.length - 1]!.endsWith(' }') && i + 1 < lines.length) block.push(lines[++i]!.trim());
    const lastItem = block[block.length - 1]!;
    block[block.length - 1] = lastItem.slice(0, -2);
    const items = splitItems(block.join(' ')).map((s) => s.replace(/ expires \S+/, '')).sort();
    out.push(`${m[1]}elements = { ${items.join(', ')} }`);
  }
  let s = out.join('\n');
  while (s.endsWith('\n\n')) s = s.slice(0, -1);
  if (s.length > 0 && !s.endsWith('\n')) s += '\n';
  return s;
}

/** Splits "a, b, c" at commas outside double quotes (comments may hold commas). */
function splitItems(s: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    else if (c === ',' && !quoted) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out.filter((x) => x !== '');
}

export function hashText(canonicalText: string): string {
  return createHash('sha256').update(canonicalText, 'utf8').digest('hex');
}
