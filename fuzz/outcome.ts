/** Small helpers the targets share to name outcomes and refusals. */

/** An error message with its numbers, quoted text and places taken out: the kind of refusal. */
export function refusalKind(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m
    .split('\n')[0]!
    .replace(/"[^"]*"|'[^']*'|`[^`]*`/g, 'S')
    .replace(/^[^:\s]*(:\d+)+:\s*/, '')
    .replace(/[0-9]+/g, 'N')
    .slice(0, 60);
}

/** A count as a coarse bucket (0, 1, 2-3, 4-7, ...), so a new count is not a new outcome each time. */
export function bucket(n: number): string {
  if (n <= 1) return String(n);
  return `<${2 ** Math.ceil(Math.log2(n + 1))}`;
}
