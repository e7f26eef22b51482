/**
 * Caps on what one ruleset may cost to load. The control thread parses, validates and
 * compiles every ruleset that reaches the node (file, SIGHUP, API, cluster versions) on
 * the thread that also sends VRRP advertisements, so a ruleset's cost must be bounded
 * before it is paid: the text's size is checked before it is read, variable expansion
 * counts the tokens it produces, and the element count is checked after the batch is
 * applied to the draft and before any set is built (building is what a big set costs).
 */

export interface RulesetLimits {
  /** Size of a ruleset text (nft or JSON), in bytes (UTF-8). */
  maxBytes: number;
  /** Elements in all named sets and maps together, after a commit. */
  maxElements: number;
  /** Tokens that `$variable` expansion may produce in one text (a nested define's copies count each time). */
  maxExpandedTokens: number;
}

/**
 * Defaults sized so that the largest accepted ruleset loads within the default VRRP
 * advertisement interval (1 s) on a small machine: see docs/configuration.md, "ruleset".
 */
export const DEFAULT_LIMITS: Readonly<RulesetLimits> = Object.freeze({
  maxBytes: 1024 * 1024,
  maxElements: 65_536,
  maxExpandedTokens: 262_144,
});

/**
 * No caps: for an engine that only ever receives what another engine already accepted
 * under the node's caps (the datapath thread's copy), so both always agree.
 */
export const NO_LIMITS: Readonly<RulesetLimits> = Object.freeze({
  maxBytes: Number.POSITIVE_INFINITY,
  maxElements: Number.POSITIVE_INFINITY,
  maxExpandedTokens: Number.POSITIVE_INFINITY,
});

/** "2 MiB", "512 KiB", "300 bytes": sizes in error messages. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
