/**
 * A fuzzing pass over several targets, one after the other (never in parallel: the pass
 * shares its machine), with what it found saved: a new finding as `<kind>-<hash>` where
 * the caller says (the corpus, or a scratch folder in CI), a known one once per issue as
 * `known-<slug>-<hash>` in the corpus.
 */
import { corpusFiles, saveInput, CORPUS_DIR } from './corpus.js';
import { superviseTarget, type SupervisedFinding, type TargetRun } from './supervisor.js';
import type { FuzzTarget } from './target.js';

export interface FuzzPassOptions {
  targets: readonly FuzzTarget[];
  secondsEach: number;
  seed: number;
  maxRuns?: number;
  maxBytes?: number;
  /** Where new findings go (default: the corpus). */
  saveDir?: string;
  /** Save known findings (first of each issue) in the corpus. */
  saveKnown?: boolean;
  /** Novel inputs per target to add to the corpus. */
  keep?: number;
  onTarget?(run: TargetRun, saved: Map<SupervisedFinding, string>): void;
}

export interface FuzzPassResult {
  runs: TargetRun[];
  /** Findings that are not known issues, with the file each was saved to. */
  fresh: { target: string; finding: SupervisedFinding; file: string }[];
}

export async function fuzzFindings(o: FuzzPassOptions): Promise<FuzzPassResult> {
  const result: FuzzPassResult = { runs: [], fresh: [] };
  for (const [i, target] of o.targets.entries()) {
    // Each target gets its own seed from the pass's, so --target X repeats X of a full run.
    const run = await superviseTarget(target, { seconds: o.secondsEach, seed: (o.seed + i * 0x1000193) >>> 0, maxRuns: o.maxRuns, maxBytes: o.maxBytes, keep: o.keep });
    const saved = new Map<SupervisedFinding, string>();
    for (const f of run.findings) {
      if (f.known) {
        const have = corpusFiles(target.name).some((c) => c.name.startsWith(`known-${f.known}-`));
        if (o.saveKnown && !have) saved.set(f, saveInput(target.name, `known-${f.known}`, f.input));
        continue;
      }
      // A failure of the harness itself (a target's setup threw) has no input worth keeping.
      const file = f.signature.startsWith('harness:') ? '' : saveInput(target.name, f.kind, f.input, o.saveDir ?? CORPUS_DIR);
      saved.set(f, file);
      result.fresh.push({ target: target.name, finding: f, file });
    }
    if (o.keep) for (const n of run.novel) saveInput(target.name, 'cov', n.input);
    result.runs.push(run);
    o.onTarget?.(run, saved);
  }
  return result;
}
