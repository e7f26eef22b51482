/**
 * What this installation is: the package version and the commit it was built from, as
 * recorded by scripts/write-build-info.mjs at build time (dist/build-info.json). Nothing
 * here runs git: an installed package has no checkout. A tree compiled by a bare `tsc`
 * has no record yet and falls back to package.json's version with no commit.
 */
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  /** package.json "version". */
  version: string;
  /** Full git commit hash ("-dirty" when built from a modified checkout); null when unknown. */
  commit: string | null;
  /** The Node.js version running this process (process.version without the "v"). */
  node: string;
}

let cached: BuildInfo | undefined;

function readJson(url: URL): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(url, 'utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** dist/node/build-info.js sits two levels below the package root (dist/ and node/). */
export function buildInfo(): BuildInfo {
  if (cached) return cached;
  const recorded = readJson(new URL('../build-info.json', import.meta.url));
  const pkg = recorded ? undefined : readJson(new URL('../../package.json', import.meta.url));
  const version = recorded?.version ?? pkg?.version;
  const commit = recorded?.commit;
  cached = {
    version: typeof version === 'string' ? version : 'unknown',
    commit: typeof commit === 'string' ? commit : null,
    node: process.versions.node,
  };
  return cached;
}

/** "hafw 0.1.0 (commit 4b51ff4a1c2d, Node.js 20.19.0)" */
export function versionLine(b: BuildInfo = buildInfo()): string {
  return `hafw ${b.version} (${b.commit ? `commit ${b.commit.slice(0, 12)}${b.commit.endsWith('-dirty') ? '-dirty' : ''}` : 'commit unknown'}, Node.js ${b.node})`;
}
