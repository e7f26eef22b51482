/**
 * Ruleset `log` lines on their way from the datapath thread to the node log. The compiled
 * `log` statements write here (a LogSink); the lines are held in a bounded buffer and sent
 * to the control thread in one message per wake-up of the packet loop (setImmediate runs
 * after the poll callback that handled the batches), never one message per packet.
 *
 * A node-wide token bucket (log.rulesetRate lines/s, burst log.rulesetBurst) is asked
 * before a line is built, on top of each statement's own limit: a ruleset with many log
 * statements cannot flood the node log either. Every line held back is counted, by where
 * it was held: the statement's limit, the node's, or a full buffer.
 */
import type { ClassifyContext, LogLine, LogSink } from '../../ruleset/index.js';
import type { PcapWriter } from './pcap-writer.js';
import { TokenBucket } from '../../ruleset/modules/limit.js';
import { C } from '../shared/counters.js';

export interface RulesetLogSettings {
  /** Lines per second for the whole node; 0: ruleset log lines are all dropped (counted). */
  ratePerSec: number;
  /** Lines that may be written at once after a quiet spell. */
  burst: number;
  /** log.pcapFile: the logged packets also go to this pcap file (pcap-writer.ts), up to pcapMaxBytes. */
  pcapFile?: string;
  pcapMaxBytes?: number;
}

export const DEFAULT_RULESET_LOG: RulesetLogSettings = { ratePerSec: 100, burst: 200 };

/** Lines waiting for the next flush; beyond, they are dropped (counted as `buffer`). */
const MAX_PENDING_LINES = 1024;

export class LogCollector implements LogSink {
  private readonly bucket: TokenBucket | undefined;
  private pending: LogLine[] = [];
  private scheduled = false;
  /** log.pcapFile's writer (set once the datapath opened it). */
  pcap: PcapWriter | undefined;

  constructor(
    settings: RulesetLogSettings,
    private readonly counters: Float64Array,
    /** Hands a batch of lines to the control thread. */
    private readonly deliver: (lines: LogLine[]) => void,
    private readonly schedule: (flush: () => void) => void = (f) => void setImmediate(f),
    private readonly maxPending = MAX_PENDING_LINES,
  ) {
    this.bucket = settings.ratePerSec > 0 ? new TokenBucket(settings.ratePerSec / 1000, settings.burst) : undefined;
  }

  held(): void {
    this.counters[C.ruleset_log_dropped_statement] += 1;
  }

  admit(nowMs: number): boolean {
    if (this.bucket?.take(nowMs)) return true;
    this.counters[C.ruleset_log_dropped_rate] += 1;
    return false;
  }

  write(l: LogLine, ctx: ClassifyContext): void {
    if (this.pending.length >= this.maxPending) {
      this.counters[C.ruleset_log_dropped_buffer] += 1;
      return;
    }
    if (this.pcap) {
      const p = ctx.pkt;
      this.counters[this.pcap.add(p.buf, p.l3Off, p.end - p.l3Off) ? C.ruleset_log_pcap_packets : C.ruleset_log_pcap_dropped] += 1;
    }
    // A copy of plain values: the statement's record is not kept by it, but be safe.
    this.pending.push({ prefix: l.prefix, level: l.level, line: l.line, fields: l.fields });
    this.counters[C.ruleset_log_lines] += 1;
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Sends what is pending (one message). */
  flush(): void {
    this.scheduled = false;
    this.pcap?.flush();
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.deliver(lines);
  }

  /** At stop: what is pending goes out, the pcap file is closed. */
  close(): void {
    this.flush();
    this.pcap?.close();
    this.pcap = undefined;
  }
}

