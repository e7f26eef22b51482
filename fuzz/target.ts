/**
 * What a fuzz target is. A target wraps one parser (or a parser and what consumes its output)
 * as a function of bytes. It may refuse an input only in the documented way (the codec's
 * typed result, or the error class its callers catch: RulesetError, ConfigError,
 * FrameError, a 4xx answer); anything else it throws is a crash. Invariants a target checks
 * (a round trip, two decoders agreeing, memory given back) are thrown as FuzzInvariantError
 * and are crashes too.
 */

/** A broken property of the code under test (not an input the code refused). */
export class FuzzInvariantError extends Error {
  override readonly name = 'FuzzInvariantError';
}

/** What a run of a target noticed; `hang` and `memory` are found by the supervisor. */
export type FindingKind = 'crash' | 'hang' | 'memory';

export interface Finding {
  kind: FindingKind;
  input: Uint8Array;
  /** The error of a crash (name, message, stack), when there is one. */
  error?: { name: string; message: string; stack?: string };
}

/**
 * A finding already being fixed elsewhere (another branch owns the code). Its first input
 * is kept in the corpus as `known-<slug>-<hash>`, replayed as a pending test, and it does
 * not fail a fuzzing run. Remove the entry (and rename the file) once the fix lands.
 */
export interface KnownIssue {
  slug: string;
  /** Why it is pending, and who fixes it: shown by the skipped corpus test. */
  reason: string;
  matches(f: Finding): boolean;
}

export interface FuzzRunner {
  /** Valid inputs, made with the real encoders or taken from docs/ and tests. */
  seeds: Uint8Array[];
  /**
   * Runs one input and names its outcome in a few words ("ok data 3 records", "refused
   * length"): an input with an outcome not seen before is kept for further mutation (the
   * cheap stand-in for coverage feedback). Throws only what `expected` accepts, or a crash.
   */
  run(input: Uint8Array): string | Promise<string>;
  /** The documented way this target refuses input (its label is the error's message, normalised). */
  expected(err: unknown): boolean;
  close?(): Promise<void>;
}

export interface FuzzTarget {
  readonly name: string;
  /** One line: what it covers. */
  readonly about: string;
  /** Text input: mutations also work on lines and words, and the seeds' words join the dictionary. */
  readonly text?: boolean;
  /** Largest input the mutator makes. */
  readonly maxBytes: number;
  /** Tokens for dictionary mutations (magic numbers, keywords). */
  readonly dictionary?: readonly string[];
  /** Builds what runs need (once per worker thread). */
  setup(): FuzzRunner | Promise<FuzzRunner>;
  /** Hangs to give up on (ms per input); default 2000. */
  readonly timeoutMs?: number;
  /** Findings that belong to work in progress elsewhere (see KnownIssue). */
  readonly known?: readonly KnownIssue[];
}
