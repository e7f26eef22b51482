/**
 * The fuzzing loop of one target in one thread: every seed once, then mutations of inputs
 * from a pool that starts with the seeds and keeps each input whose outcome label was not
 * seen before (a cheap stand-in for coverage feedback). A crash is minimised (chunks cut out
 * while the same crash remains) and reported once per signature. Before each input runs it
 * is written into the shared slot, so the supervisor can name the input of a hang or of a
 * memory blowup after it has stopped this thread.
 */
import { Mutator, wordsOf } from './mutate.js';
import { execute, type CrashError, type Outcome } from './execute.js';
import type { FuzzRunner, FuzzTarget } from './target.js';
import { rng } from '../inet/index.js';

/** Largest input the slot holds (a longer one is reported without its bytes). */
const SLOT_BYTES = 1 << 20;
const HEADER = 16;

/** The input running now, in shared memory: [state, length] int32, start time float64, bytes. */
export class CurrentSlot {
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly bytes: Uint8Array;
  constructor(readonly sab: SharedArrayBuffer) {
    this.i32 = new Int32Array(sab, 0, 2);
    this.f64 = new Float64Array(sab, 8, 1);
    this.bytes = new Uint8Array(sab, HEADER);
  }
  static create(): CurrentSlot {
    return new CurrentSlot(new SharedArrayBuffer(HEADER + SLOT_BYTES));
  }
  begin(input: Uint8Array): void {
    const fits = input.length <= SLOT_BYTES;
    if (fits) this.bytes.set(input);
    this.i32[1] = fits ? input.length : -1;
    this.f64[0] = Date.now();
    Atomics.store(this.i32, 0, 1);
  }
  end(): void {
    Atomics.store(this.i32, 0, 0);
  }
  /** Since when the current input runs (undefined when none runs). */
  runningSince(): number | undefined {
    return Atomics.load(this.i32, 0) === 1 ? this.f64[0] : undefined;
  }
  input(): Uint8Array | undefined {
    const n = this.i32[1]!;
    return n < 0 ? undefined : this.bytes.slice(0, n);
  }
}

interface LoopFinding {
  input: Uint8Array;
  error: CrashError;
  signature: string;
}

interface LoopStats {
  execs: number;
  pool: number;
  outcomes: number;
  crashes: number;
}

interface LoopOptions {
  seed: number;
  /** Stop at this Date.now() value. */
  until: number;
  /** Stop after this many inputs (for a run that repeats exactly). */
  maxRuns?: number;
  /** Override of the target's largest input. */
  maxBytes?: number;
  slot?: CurrentSlot;
  onFinding(f: LoopFinding): void;
  onStats?(s: LoopStats): void;
  /** Novel inputs (not seeds) and their labels, at the end: candidates for the corpus. */
  onNovel?(inputs: { label: string; input: Uint8Array }[]): void;
}

const MAX_POOL = 4096;

export async function fuzzLoop(target: FuzzTarget, runner: FuzzRunner, o: LoopOptions): Promise<LoopStats> {
  const r = rng(o.seed);
  const maxBytes = o.maxBytes ?? target.maxBytes;
  const dict = [...(target.dictionary ?? []), ...(target.text ? wordsOf(runner.seeds) : [])];
  const m = new Mutator(r, maxBytes, target.text ?? false, dict);
  const pool: Uint8Array[] = [];
  const novel: { label: string; input: Uint8Array }[] = [];
  const outcomes = new Set<string>();
  const signatures = new Set<string>();
  const stats: LoopStats = { execs: 0, pool: 0, outcomes: 0, crashes: 0 };
  let lastStats = Date.now();

  const once = async (input: Uint8Array): Promise<Outcome> => {
    o.slot?.begin(input);
    let out = execute(runner, input);
    if (out instanceof Promise) out = await out;
    o.slot?.end();
    stats.execs++;
    return out;
  };
  const judge = async (input: Uint8Array, isSeed: boolean): Promise<void> => {
    const out = await once(input);
    if (out.crash) {
      if (signatures.has(out.signature)) return;
      signatures.add(out.signature);
      stats.crashes++;
      const small = await minimise(input, out.signature, once);
      o.onFinding({ input: small, error: out.error, signature: out.signature });
      return;
    }
    if (!outcomes.has(out.label)) {
      outcomes.add(out.label);
      if (pool.length < MAX_POOL) pool.push(input);
      if (!isSeed) novel.push({ label: out.label, input });
    } else if (isSeed) pool.push(input);
  };

  const done = () => Date.now() >= o.until || (o.maxRuns !== undefined && stats.execs >= o.maxRuns);
  for (const s of runner.seeds) {
    if (done()) break;
    await judge(s, true);
  }
  if (pool.length === 0) pool.push(new Uint8Array(0));
  while (!done()) {
    const parent = pool[Math.floor(r() * pool.length)]!;
    await judge(m.mutate(parent, pool), false);
    if (o.onStats && Date.now() - lastStats >= 1000) {
      lastStats = Date.now();
      o.onStats({ ...stats, pool: pool.length, outcomes: outcomes.size });
    }
  }
  const final = { ...stats, pool: pool.length, outcomes: outcomes.size };
  o.onStats?.(final);
  o.onNovel?.(novel);
  return final;
}

/** Cuts chunks out of a crashing input while it still crashes the same way (at most 400 runs). */
async function minimise(input: Uint8Array, signature: string, once: (i: Uint8Array) => Promise<Outcome>): Promise<Uint8Array> {
  let best = input;
  let budget = 400;
  for (let chunk = Math.max(1, best.length >> 1); chunk >= 1 && budget > 0; chunk >>= 1) {
    for (let at = 0; at < best.length && budget > 0; ) {
      const cand = new Uint8Array(best.length - Math.min(chunk, best.length - at));
      cand.set(best.subarray(0, at));
      cand.set(best.subarray(at + chunk), at);
      budget--;
      const out = await once(cand);
      if (out.crash && out.signature === signature) best = cand;
      else at += chunk;
    }
  }
  return best;
}
