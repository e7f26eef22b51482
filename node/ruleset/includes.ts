/**
 * `include "file"` as nft(8) resolves it, done before parsing: the included texts are
 * spliced into one self-contained text, and a source map gives every line of it back its
 * file and line, so an error in an included file names that file's line:col.
 *
 * Why a flat text and not includes in the parser: the text that is checked is the text
 * that runs. The datapath thread's engine copy, the lock-out probe and the cluster's
 * source hash all get the flat text, so none of them reads a file again (a file edited
 * between two reads would make the copies disagree), and text that arrives over the API
 * never makes the node read a file (the parser refuses `include` there).
 *
 * Resolution (nft 1.0.6, checked against it): an absolute name is used as is; a name
 * starting with `./` or `../` is relative to the working directory; any other name is
 * looked up in the include path (`-I DIR`, default /etc) in order, the first directory
 * holding it wins. A name with `*`, `?` or `[` is a glob: its matches in every include
 * directory, each directory's sorted, files starting with '.' never matched; no match is
 * not an error. A plain name found nowhere is ("File not found", at the include).
 * Nesting is limited to 16 levels as in nft; an include cycle is refused at once (nft
 * only stops at the depth limit).
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { RulesetError } from './errors.js';
import type { ErrorItem, Pos } from './errors.js';
import { Lexer, Tok } from './lexer.js';
import type { Token } from './lexer.js';
import { formatBytes } from './limits.js';

/** nft's MAX_INCLUDE_DEPTH. */
export const MAX_INCLUDE_DEPTH = 16;
/** nft's compiled-in default include path (`nft --help`). */
export const DEFAULT_INCLUDE_PATH: readonly string[] = Object.freeze(['/etc']);

export interface IncludeOptions {
  /** Directories searched for names that are neither absolute nor ./ or ../ (default /etc). */
  includePath?: readonly string[];
  /** Cap on the flat text's size, included files counted (ruleset.maxBytes). */
  maxBytes?: number;
  /** Working directory for ./ and ../ names (default process.cwd()). */
  cwd?: string;
}

/** Where each line of a flat text came from (columns are kept: see splice). */
export class SourceMap {
  /** Per line of the flat text (index line - 1): index into files, and the line there. */
  private readonly fileOf: number[] = [];
  private readonly lineOf: number[] = [];
  readonly files: string[] = [];

  /** The next flat line is `line` of `file`. */
  push(file: string, line: number): void {
    let k = this.files.indexOf(file);
    if (k < 0) k = this.files.push(file) - 1;
    this.fileOf.push(k);
    this.lineOf.push(line);
  }

  /** The file and line of a place in the flat text (the column is the same). */
  locate(p: Pos): { file: string; line: number; col: number } | undefined {
    const i = p.line - 1;
    if (i < 0 || i >= this.fileOf.length) return undefined;
    return { file: this.files[this.fileOf[i]!]!, line: this.lineOf[i]!, col: p.col };
  }

  /** The same error with each item's place in its own file (items in the top file carry no `file`). */
  remap(err: RulesetError): RulesetError {
    const top = this.files[0];
    const items: ErrorItem[] = err.errors.map((e) => {
      if (e.line === 0 || e.file !== undefined) return e;
      const at = this.locate(e);
      if (!at) return e;
      return at.file === top ? { line: at.line, col: at.col, message: e.message } : { file: at.file, line: at.line, col: at.col, message: e.message };
    });
    return new RulesetError(err.file, items);
  }
}

export interface Expanded {
  /** The text with every include replaced by the included text. */
  text: string;
  /** Undefined when the text included nothing (positions are the text's own). */
  sources?: SourceMap;
  /** Every file read, the top one first. */
  files: string[];
}

/**
 * Splices the files `text` includes into it, recursively. Throws RulesetError at the
 * include for a missing file, a cycle, too deep a nesting, an unreadable file or a flat
 * text over maxBytes; syntax errors of the included texts are left to the parser (their
 * places map back through `sources`).
 */
export function expandIncludes(text: string, file: string, opts: IncludeOptions = {}): Expanded {
  // A cheap test first: most rulesets include nothing and skip the tokenizing pass.
  if (!text.includes('include')) return { text, files: [file] };
  const ctx: Ctx = {
    includePath: opts.includePath ?? DEFAULT_INCLUDE_PATH,
    maxBytes: opts.maxBytes ?? Number.POSITIVE_INFINITY,
    cwd: opts.cwd ?? process.cwd(),
    out: [],
    bytes: Buffer.byteLength(text, 'utf8'),
    map: new SourceMap(),
    files: [file],
    stack: [],
  };
  ctx.map.push(file, 1);
  try {
    splice(ctx, text, file, realKey(file), 0);
  } catch (e) {
    // An error thrown while reading an included file names that file on its items.
    if (e instanceof RulesetError && e.file !== file) throw new RulesetError(file, e.errors.map((x) => (x.file === undefined ? { file: e.file, ...x } : x)));
    throw e;
  }
  if (ctx.files.length === 1 && ctx.out.join('') === text) return { text, files: [file] };
  return { text: ctx.out.join(''), sources: ctx.map, files: ctx.files };
}

interface Ctx {
  includePath: readonly string[];
  maxBytes: number;
  cwd: string;
  out: string[];
  /** UTF-8 bytes of the flat text so far, top text and every included file. */
  bytes: number;
  map: SourceMap;
  files: string[];
  /** Real paths of the files being spliced, outermost first (cycle check). */
  stack: string[];
}

function realKey(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolvePath(file);
  }
}

/** Offsets of each line's first character. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

/** Appends a piece of `file` that continues the current flat line, which is `line` there. */
function copy(ctx: Ctx, piece: string, file: string, line: number): void {
  for (let i = piece.indexOf('\n'); i >= 0; i = piece.indexOf('\n', i + 1)) ctx.map.push(file, ++line);
  ctx.out.push(piece);
}

/** Ends the current flat line; the next one is `line` of `file`. */
function newline(ctx: Ctx, file: string, line: number): void {
  ctx.out.push('\n');
  ctx.map.push(file, line);
}

/** Offset just past the string literal starting at `start` (its opening quote), as the lexer reads it. */
function stringEnd(text: string, start: number): number {
  let j = start + 1;
  while (j < text.length && text.charCodeAt(j) !== 34) {
    if (text.charCodeAt(j) === 92 && j + 1 < text.length) j++;
    j++;
  }
  return j + 1;
}

/**
 * Copies `text` to the flat text, an include statement (`include` and a string, where a
 * command, table, chain or set item starts) replaced by the included texts, each on lines
 * of its own. What follows the include on its line is padded to its old column, so every
 * column stays what it was and the map needs lines only.
 */
function splice(ctx: Ctx, text: string, file: string, key: string, depth: number): void {
  ctx.stack.push(key);
  const starts = lineStarts(text);
  const off = (p: Pos): number => starts[p.line - 1]! + p.col - 1;
  const lx = new Lexer(text, file);
  let copied = 0;
  let copiedLine = 1;
  let prev: Token | undefined;
  for (;;) {
    const t = lx.peekAt(0);
    if (t.kind === Tok.Eof) break;
    const atStart = prev === undefined || prev.kind === Tok.Eol || (prev.kind === Tok.Punct && (prev.text === ';' || prev.text === '{' || prev.text === '}'));
    const s = lx.peekAt(1);
    if (atStart && t.kind === Tok.Word && t.text === 'include' && s.kind === Tok.String) {
      const from = off(t);
      const to = stringEnd(text, off(s));
      copy(ctx, text.slice(copied, from), file, copiedLine);
      if (depth + 1 > MAX_INCLUDE_DEPTH) throw RulesetError.at(file, t, `include nested too deeply: more than ${MAX_INCLUDE_DEPTH} levels (as nft)`);
      for (const inc of resolveInclude(ctx, s.text, t, file)) {
        const incKey = realKey(inc);
        if (ctx.stack.includes(incKey)) {
          throw RulesetError.at(file, t, `include cycle: '${inc}' is already being included (${[...ctx.stack, incKey].join(' -> ')})`);
        }
        const body = readInclude(ctx, inc, t, file);
        ctx.files.push(inc);
        newline(ctx, inc, 1);
        splice(ctx, body, inc, incKey, depth + 1);
      }
      newline(ctx, file, s.line);
      ctx.out.push(' '.repeat(to - starts[s.line - 1]!));
      copied = to;
      copiedLine = s.line;
      lx.advance();
      lx.advance();
      prev = s;
      continue;
    }
    prev = t;
    lx.advance();
  }
  copy(ctx, text.slice(copied), file, copiedLine);
  ctx.stack.pop();
}

function isGlob(name: string): boolean {
  return /[*?[]/.test(name);
}

/** The files an include names, in the order nft loads them. */
function resolveInclude(ctx: Ctx, name: string, at: Pos, file: string): string[] {
  if (name === '') throw RulesetError.at(file, at, 'include of an empty file name');
  let candidates: string[];
  if (name.startsWith('/')) candidates = [name];
  else if (name.startsWith('./') || name.startsWith('../')) candidates = [resolvePath(ctx.cwd, name)];
  else candidates = ctx.includePath.map((d) => join(d, name));
  if (isGlob(name)) {
    // Every include directory's matches (nft keeps searching after a glob's matches).
    const out: string[] = [];
    for (const c of candidates) out.push(...globFiles(c));
    return out;
  }
  for (const c of candidates) {
    let st;
    try {
      st = statSync(c);
    } catch {
      continue;
    }
    if (st.isDirectory()) throw RulesetError.at(file, at, `include '${name}': '${c}' is a directory (include a glob such as "${join(name, '*.nft')}")`);
    return [c];
  }
  const where = name.startsWith('/') ? '' : name.startsWith('./') || name.startsWith('../') ? ` (relative to the working directory ${ctx.cwd})` : ` (searched the include path: ${ctx.includePath.join(', ') || 'empty'})`;
  throw RulesetError.at(file, at, `File not found: ${name}${where}`);
}

function readInclude(ctx: Ctx, inc: string, at: Pos, file: string): string {
  let body: string;
  try {
    body = readFileSync(inc, 'utf8');
  } catch (e) {
    throw RulesetError.at(file, at, `include '${inc}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  ctx.bytes += Buffer.byteLength(body, 'utf8');
  if (ctx.bytes > ctx.maxBytes) {
    throw RulesetError.at(file, at, `with '${inc}' the included files make the ruleset text more than ruleset.maxBytes (${formatBytes(ctx.maxBytes)}); nothing was read or changed`);
  }
  return body;
}

/** One glob component as a regular expression (glob(3): *, ?, [...] with ! or ^, \ escapes). */
function componentRegex(comp: string): RegExp {
  let re = '';
  for (let i = 0; i < comp.length; i++) {
    const c = comp[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < comp.length) re += escapeRe(comp[++i]!);
    else if (c === '[') {
      const close = comp.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = comp.slice(i + 1, close);
      const neg = body.startsWith('!') || body.startsWith('^');
      if (neg) body = body.slice(1);
      re += `[${neg ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`, 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, (m) => `\\${m}`);
}

/** Regular files matching an absolute glob, sorted in byte order; names starting with '.' only by a pattern starting with '.'. */
function globFiles(pattern: string): string[] {
  const parts = pattern.split('/').filter((p) => p !== '');
  let dirs = [pattern.startsWith('/') ? '/' : '.'];
  for (const part of parts) {
    const next: string[] = [];
    if (!isGlob(part)) {
      for (const d of dirs) next.push(join(d, part.replace(/\\(.)/g, '$1')));
    } else {
      const re = componentRegex(part);
      for (const d of dirs) {
        let names: string[];
        try {
          names = readdirSync(d);
        } catch {
          continue;
        }
        for (const n of names) if ((n[0] !== '.' || part[0] === '.') && re.test(n)) next.push(join(d, n));
      }
    }
    dirs = next;
  }
  const files = dirs.filter((f) => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  });
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
