/**
 * The datapath thread's one extension seam: code preloaded into the thread (node's
 * `--import`, which runs in worker threads too, before their own code) may register a
 * function that is handed the thread's connection table and sync bridge once both exist.
 * The node itself registers nothing; the sync bench (bench/sync-inject-preload.ts) uses it
 * to create load in a real table. Nothing here reads the environment.
 */
import type { ConnTracker } from '../../conntrack/index.js';
import type { SyncBridge } from './sync-bridge.js';

interface DatapathContext {
  ct: ConnTracker;
  /** Absent when state sync is off. */
  bridge?: SyncBridge;
}

const starters: ((c: DatapathContext) => void)[] = [];

/** Called by a preloaded module; the function runs in the datapath thread once it has a table. */
export function onDatapathStart(fn: (c: DatapathContext) => void): void {
  starters.push(fn);
}

/** worker.ts: hands the context to whatever was registered (nothing, in a node). */
export function runDatapathExtensions(c: DatapathContext): void {
  for (const fn of starters) fn(c);
}
