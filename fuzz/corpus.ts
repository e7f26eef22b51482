/**
 * The corpus: fuzz/corpus/<target>/<name>, one input a file, committed. Inputs that made a
 * target fail are kept under the hash of their bytes (`crash-`, `hang-`, `memory-`), or,
 * for a finding that belongs to work in progress elsewhere, `known-<slug>-<hash>`. The
 * unit tests replay every file (fuzz/corpus.test.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './repo.js';

export const CORPUS_DIR = path.join(REPO_ROOT, 'fuzz', 'corpus');

interface CorpusFile {
  target: string;
  name: string;
  file: string;
  bytes: Uint8Array;
}

function hashOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export function corpusFiles(target: string, dir = CORPUS_DIR): CorpusFile[] {
  const d = path.join(dir, target);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .map((name) => {
      const file = path.join(d, name);
      return { target, name, file, bytes: new Uint8Array(readFileSync(file)) };
    });
}

/** Saves an input as `<prefix>-<hash>` (unless that file is there) and returns its path. */
export function saveInput(target: string, prefix: string, bytes: Uint8Array, dir = CORPUS_DIR): string {
  const d = path.join(dir, target);
  mkdirSync(d, { recursive: true });
  const file = path.join(d, `${prefix}-${hashOf(bytes)}`);
  if (!existsSync(file)) writeFileSync(file, bytes);
  return file;
}

/** The slug of a `known-<slug>-<hash>` file, or undefined for other files. */
export function knownSlug(name: string): string | undefined {
  const m = /^known-(.+)-[0-9a-f]{16}$/.exec(name);
  return m?.[1];
}
