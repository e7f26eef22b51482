/**
 * One input through one target, and what it means: a label (ok or a clean refusal, which
 * feeds the search for new behaviour) or a crash with the error that escaped. Shared by the
 * fuzzing loop and the corpus replay, so both judge alike.
 */
import type { FuzzRunner } from './target.js';
import { refusalKind } from './outcome.js';

export interface CrashError {
  name: string;
  message: string;
  stack?: string;
}

export type Outcome = { crash: false; label: string } | { crash: true; error: CrashError; signature: string };

function asCrash(err: unknown): Outcome {
  const e = err instanceof Error ? err : new Error(`non-Error thrown: ${String(err)}`);
  const error = { name: e.name, message: e.message, stack: e.stack };
  return { crash: true, error, signature: signatureOf(error) };
}

/**
 * Two crashes are the same bug when they have the same error type, the same message (with
 * numbers and quoted text taken out) and the same innermost frame of our own code.
 */
export function signatureOf(e: CrashError): string {
  const frames = (e.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l) && !l.includes('node_modules') && !l.includes('node:'));
  const own = frames.find((l) => !/[/\\]fuzz[/\\]/.test(l)) ?? frames[0] ?? '';
  const where = /\(?([^()\s]*?[/\\])?([^/\\()\s]+:\d+):\d+\)?$/.exec(own.trim())?.[2] ?? '?';
  return `${e.name}: ${refusalKind(new Error(e.message))} @ ${where}`;
}

export function execute(runner: FuzzRunner, input: Uint8Array): Outcome | Promise<Outcome> {
  let r: string | Promise<string>;
  try {
    r = runner.run(input);
  } catch (err) {
    return refusedOrCrash(runner, err);
  }
  if (typeof r === 'string') return { crash: false, label: r };
  return r.then((label): Outcome => ({ crash: false, label }), (err) => refusedOrCrash(runner, err));
}

function refusedOrCrash(runner: FuzzRunner, err: unknown): Outcome {
  let clean: boolean;
  try {
    clean = runner.expected(err);
  } catch (e) {
    return asCrash(e);
  }
  return clean ? { crash: false, label: `refused: ${refusalKind(err)}` } : asCrash(err);
}
