/**
 * The newest samples of a figure, kept for readers that must not take them from each other.
 *
 * The metrics shell drains the endpoint's lag samples into its histogram on every report, and
 * several readers ask for reports (the alone guard every 200 ms, the alarm watcher, scrapes,
 * the console, `hafw sync stats`): quantiles over "the samples since the last report" then
 * cover whatever sliver of time another reader left, and bursty traffic showed no lag at
 * all. This window is read, never drained: every reader sees the samples of the last
 * `windowMs` (at most the newest `capacity` of them).
 */
export class RecentSamples {
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  /** Next slot to write; the ring holds min(count, capacity) samples ending before it. */
  private next = 0;
  private count = 0;

  constructor(
    readonly windowMs: number,
    readonly capacity: number,
  ) {
    if (!(windowMs > 0) || !Number.isInteger(capacity) || capacity < 1) throw new RangeError(`RecentSamples: windowMs ${windowMs}, capacity ${capacity}`);
    this.times = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
  }

  add(now: number, value: number): void {
    this.times[this.next] = now;
    this.values[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** The values taken within `windowMs` before `now` (and not after it), sorted ascending. */
  sortedWithin(now: number): number[] {
    const out: number[] = [];
    const from = now - this.windowMs;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.next - 1 - i + this.capacity) % this.capacity;
      const t = this.times[slot]!;
      // Newest first: once one is older than the window, the rest are too.
      if (t < from) break;
      if (t <= now) out.push(this.values[slot]!);
    }
    return out.sort((a, b) => a - b);
  }
}
