/**
 * hafw's fuzzing harness: seeded, bounded fuzzing of every parser that meets untrusted
 * input (sync and ruleset-dist datagrams, VRRP adverts, packets and fragments, rulesets,
 * the config file, API requests), with the inputs that broke something kept as a corpus
 * the unit tests replay. `npm run fuzz` (run.ts); docs/security.md, "Fuzzing".
 */
export { TARGETS, targetNamed } from './targets/index.js';
export { superviseTarget, type TargetRun, type SupervisedFinding, type SuperviseOptions } from './supervisor.js';
export { fuzzFindings, type FuzzPassOptions, type FuzzPassResult } from './pass.js';
export { execute, signatureOf, type Outcome } from './execute.js';
export { corpusFiles, saveInput, knownSlug, CORPUS_DIR } from './corpus.js';
export type { FuzzTarget, FuzzRunner, KnownIssue, Finding } from './target.js';
