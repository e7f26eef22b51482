/**
 * The compose test's report: one line per step with its verdict and what it measured,
 * then a closing `compose: N passed, N failed` line that CI logs can be searched for.
 * Pure formatting, unit-tested.
 */

export type StepVerdict = 'pass' | 'fail' | 'skip' | 'info';

export interface Step {
  name: string;
  verdict: StepVerdict;
  detail: string;
  /** Wall time of the step, when it is worth showing. */
  ms?: number;
}

const MARK: Record<StepVerdict, string> = { pass: 'ok  ', fail: 'FAIL', skip: 'skip', info: '    ' };

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function formatReport(title: string, steps: Step[]): string {
  const width = Math.max(8, ...steps.map((s) => s.name.length));
  const lines = [`== ${title} ==`];
  for (const s of steps) {
    const time = s.ms === undefined ? '' : ` (${seconds(s.ms)})`;
    lines.push(`${MARK[s.verdict]} ${s.name.padEnd(width)}  ${s.detail}${time}`);
  }
  const passed = steps.filter((s) => s.verdict === 'pass').length;
  const failed = steps.filter((s) => s.verdict === 'fail').length;
  const skipped = steps.filter((s) => s.verdict === 'skip').length;
  lines.push(`compose: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
  return lines.join('\n');
}

export function allPassed(steps: Step[]): boolean {
  return steps.some((s) => s.verdict === 'pass') && !steps.some((s) => s.verdict === 'fail');
}
