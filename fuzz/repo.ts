/**
 * Where the fuzzers find their inputs: seeds read from the repository (docs/, deploy/,
 * tests' fixtures) and the corpus in fuzz/corpus/. Compiled code runs from dist/fuzz/, so
 * paths are resolved from this file up to the repository root.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (the folder holding package.json). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function repoFile(rel: string): string {
  return readFileSync(path.join(REPO_ROOT, rel), 'utf8');
}

/** The fenced code blocks of a markdown file whose info string is one of `langs`. */
export function codeBlocks(rel: string, langs: readonly string[]): string[] {
  const out: string[] = [];
  const text = repoFile(rel);
  for (const m of text.matchAll(/^```([A-Za-z0-9_-]*)[^\n]*\n([\s\S]*?)^```/gm)) {
    if (langs.includes(m[1]!)) out.push(m[2]!);
  }
  return out;
}

const enc = new TextEncoder();
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}
