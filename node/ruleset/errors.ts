/**
 * Positioned errors. Every error a user can cause (bad text, bad JSON, a reference to a
 * chain that does not exist, a loop) carries the place it was found so the operator can
 * jump to it: file:line:col for text, a JSON pointer folded into the message for JSON.
 */

export interface Pos {
  line: number;
  col: number;
}

export interface ErrorItem {
  /** The file the place is in, when it is not the error's own file (an included file). */
  file?: string;
  line: number;
  col: number;
  message: string;
}

/** Thrown by the parser, the JSON codec, validation and transactions. Holds one or more items. */
export class RulesetError extends Error {
  readonly file: string;
  readonly errors: ErrorItem[];

  constructor(file: string, errors: ErrorItem[]) {
    super(errors.map((e) => `${e.file ?? file}:${e.line}:${e.col}: ${e.message}`).join('\n'));
    this.name = 'RulesetError';
    this.file = file;
    this.errors = errors;
  }

  static at(file: string, pos: Pos | undefined, message: string): RulesetError {
    return new RulesetError(file, [{ line: pos?.line ?? 0, col: pos?.col ?? 0, message }]);
  }
}

/**
 * Source positions of AST nodes, under a symbol key so the AST stays exactly the JSON
 * form: JSON.stringify and Object.keys never see them. (A symbol property, not a
 * WeakMap: with 10,000s of rules, ephemeron tables made garbage collection dominate.)
 * The slot holds a packed number (see mark), not an object: a load keeps one position per
 * statement, and objects there (they were the tokens, with their text) were a fifth of
 * the memory a loaded ruleset holds and of what the garbage collector copied.
 */
export const POS: unique symbol = Symbol('pos');

/** Lines and columns that pack into a small integer (no heap object): line * 4096 + col. */
const COL_BITS = 4096;
const SMALL_LINES = 262144;
/** Beyond those, -(line * 2^24 + col): a number still, exact. */
const WIDE_COLS = 16777216;

/** A position as the number kept in an AST node's POS slot. */
export function mark(p: Pos): number {
  if (p.col < COL_BITS && p.line < SMALL_LINES) return p.line * COL_BITS + p.col;
  return -(p.line * WIDE_COLS + Math.min(p.col, WIDE_COLS - 1));
}

function unmark(v: number): Pos {
  if (v >= 0) return { line: Math.floor(v / COL_BITS), col: v % COL_BITS };
  return { line: Math.floor(-v / WIDE_COLS), col: -v % WIDE_COLS };
}

export function setPos<T>(node: T, pos: Pos | undefined): T {
  if (pos && node !== null && typeof node === 'object') (node as { [POS]?: number })[POS] = mark(pos);
  return node;
}

/** A node's position, for an error message (decoded on each call: keep it off hot paths). */
export function posOf(node: unknown): Pos | undefined {
  const v = markOf(node);
  return v === undefined ? undefined : unmark(v);
}

/** A node's packed position, to copy onto another node. */
export function markOf(node: unknown): number | undefined {
  return node !== null && typeof node === 'object' ? (node as { [POS]?: number })[POS] : undefined;
}

/** Collects errors of one pass so validation reports all of them, not just the first. */
export class ErrorList {
  readonly items: ErrorItem[] = [];
  constructor(readonly file: string) {}

  add(pos: Pos | undefined, message: string): void {
    this.items.push({ line: pos?.line ?? 0, col: pos?.col ?? 0, message });
  }

  get length(): number {
    return this.items.length;
  }

  throwIfAny(): void {
    if (this.items.length > 0) throw new RulesetError(this.file, this.items.slice());
  }
}
