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
  line: number;
  col: number;
  message: string;
}

/** Thrown by the parser, the JSON codec, validation and transactions. Holds one or more items. */
export class RulesetError extends Error {
  readonly file: string;
  readonly errors: ErrorItem[];

  constructor(file: string, errors: ErrorItem[]) {
    super(errors.map((e) => `${file}:${e.line}:${e.col}: ${e.message}`).join('\n'));
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
 */
export const POS: unique symbol = Symbol('pos');

export function setPos<T>(node: T, pos: Pos | undefined): T {
  if (pos && node !== null && typeof node === 'object') (node as { [POS]?: Pos })[POS] = pos;
  return node;
}

export function posOf(node: unknown): Pos | undefined {
  return node !== null && typeof node === 'object' ? (node as { [POS]?: Pos })[POS] : undefined;
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
