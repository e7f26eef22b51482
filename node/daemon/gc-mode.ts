/**
 * How the node's threads collect garbage. V8 normally runs parts of each collection on
 * helper threads (parallel scavenge, concurrent marking). On a host with two CPUs the
 * datapath, sync and control threads already want both: the helpers then compete with
 * them and add cross-thread work. Measured in the sync bench on such a host, collecting
 * on the thread itself replicated ~10% more entries per second (about 102k/s against
 * 92k/s over five runs each) with no worse lag. V8 reads the flag when a thread's heap is
 * made, so it is set before the datapath and sync workers start.
 */
import { availableParallelism } from 'node:os';
import v8 from 'node:v8';

export type GcMode = 'auto' | 'single-threaded' | 'parallel';

/** Whether `mode` means collecting on the thread itself on a host with `cpus` CPUs. */
export function singleThreadedGc(mode: GcMode, cpus: number): boolean {
  return mode === 'single-threaded' || (mode === 'auto' && cpus <= 2);
}

/** Applies `mode` to the threads started from now on; returns whether it is single-threaded. */
export function applyGcMode(mode: GcMode, cpus: number = availableParallelism()): boolean {
  const single = singleThreadedGc(mode, cpus);
  if (single) v8.setFlagsFromString('--single-threaded-gc');
  return single;
}
