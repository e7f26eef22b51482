/**
 * Anti-replay window over 32-bit sequence numbers, in the manner of IPsec's (RFC 4303
 * §3.4.3): remember the highest sequence accepted and a bitmap of the `size` sequences up
 * to it; accept each sequence at most once, reject anything older than the window.
 * Comparisons use serial-number arithmetic (RFC 1982), so the window slides across the wrap.
 * The bitmap is circular (bit index = seq mod size): sliding forward clears one bit per
 * sequence skipped, so the cost is O(1) amortised and nothing is allocated after construction.
 */
import { bitClear, bitSet, bitTest } from './bitmap.js';
import { seqDiff } from './serial.js';

export const enum ReplayVerdict {
  Accept = 0,
  Duplicate = 1,
  TooOld = 2,
}

export class ReplayWindow {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  private top = 0;
  private isStarted = false;

  /** `size` must be a power of two (default 65536 sequences, 8 KiB). */
  constructor(readonly size = 65536) {
    if (size < 32 || (size & (size - 1)) !== 0) throw new RangeError('replay window size must be a power of two >= 32');
    this.bits = new Uint32Array(size >>> 5);
    this.mask = size - 1;
  }

  /** Highest sequence accepted so far (meaningless before the first accept). */
  get highest(): number {
    return this.top;
  }

  /** False until the first sequence is accepted (or the window is sealed). */
  get started(): boolean {
    return this.isStarted;
  }

  /**
   * Counts every sequence up to and including `top` as seen: from now on only later ones are
   * accepted. For a stream taken up again from what was remembered of it (its top), when the
   * bitmap itself was not kept.
   */
  sealAt(top: number): void {
    this.bits.fill(0xffffffff);
    this.top = top >>> 0;
    this.isStarted = true;
  }

  reset(): void {
    this.bits.fill(0);
    this.isStarted = false;
    this.top = 0;
  }

  /** Verdict for `seq` without recording it. */
  check(seq: number): ReplayVerdict {
    if (!this.isStarted) return ReplayVerdict.Accept;
    const d = seqDiff(this.top, seq);
    if (d > 0) return ReplayVerdict.Accept;
    if (-d >= this.size) return ReplayVerdict.TooOld;
    return this.test(seq) ? ReplayVerdict.Duplicate : ReplayVerdict.Accept;
  }

  /** Records `seq` if acceptable; returns the verdict. Call only for authenticated messages. */
  accept(seq: number): ReplayVerdict {
    seq >>>= 0;
    if (!this.isStarted) {
      this.isStarted = true;
      this.top = seq;
      this.set(seq);
      return ReplayVerdict.Accept;
    }
    const d = seqDiff(this.top, seq);
    if (d > 0) {
      if (d >= this.size) this.bits.fill(0);
      else for (let i = 1; i <= d; i++) this.clear((this.top + i) >>> 0);
      this.top = seq;
      this.set(seq);
      return ReplayVerdict.Accept;
    }
    if (-d >= this.size) return ReplayVerdict.TooOld;
    if (this.test(seq)) return ReplayVerdict.Duplicate;
    this.set(seq);
    return ReplayVerdict.Accept;
  }

  private test(seq: number): boolean {
    return bitTest(this.bits, seq & this.mask);
  }
  private set(seq: number): void {
    bitSet(this.bits, seq & this.mask);
  }
  private clear(seq: number): void {
    bitClear(this.bits, seq & this.mask);
  }
}
