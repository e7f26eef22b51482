import assert from 'node:assert/strict';
import { createCounterBuffer, C } from '../shared/counters.js';
import { LogCollector } from './log-collector.js';
import { ClassifyContext, type LogLine } from '../../ruleset/index.js';

const CTX = new ClassifyContext();
const LINE: LogLine = { prefix: 'p: ', level: 'warn', line: 'IN=lan OUT=wan', fields: { IN: 'lan', OUT: 'wan' } };

function collector(rate: number, burst: number, maxPending = 1024) {
  const counters = new Float64Array(createCounterBuffer());
  const delivered: LogLine[][] = [];
  const flushes: (() => void)[] = [];
  const c = new LogCollector({ ratePerSec: rate, burst }, counters, (l) => delivered.push(l), (f) => flushes.push(f), maxPending);
  return { c, counters, delivered, flushes };
}

describe('LogCollector: ruleset log lines, rate limited and batched (virtual clock)', () => {
  it('admits the burst, then one line per 1/rate; every refusal counted', () => {
    const { c, counters } = collector(2, 3);
    assert.deepEqual([c.admit(0), c.admit(0), c.admit(0), c.admit(0)], [true, true, true, false]);
    assert.equal(c.admit(499), false, 'not a whole token back before 500 ms at 2/s');
    assert.equal(c.admit(500), true, 'one token back after 500 ms');
    assert.equal(c.admit(500), false);
    assert.equal(counters[C.ruleset_log_dropped_rate], 3);
  });

  it('rate 0: no ruleset line at all, each counted', () => {
    const { c, counters } = collector(0, 10);
    assert.equal(c.admit(0), false);
    assert.equal(counters[C.ruleset_log_dropped_rate], 1);
  });

  it('lines go out in one batch per flush; a full buffer drops and counts; statement holds counted', () => {
    const { c, counters, delivered, flushes } = collector(100, 100, 2);
    c.write(LINE, CTX);
    c.write(LINE, CTX);
    c.write(LINE, CTX);
    c.held();
    assert.equal(flushes.length, 1, 'one flush scheduled for the batch');
    assert.equal(delivered.length, 0);
    flushes[0]!();
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]!.length, 2);
    assert.equal(counters[C.ruleset_log_lines], 2);
    assert.equal(counters[C.ruleset_log_dropped_buffer], 1);
    assert.equal(counters[C.ruleset_log_dropped_statement], 1);
    c.write(LINE, CTX);
    assert.equal(flushes.length, 2, 'the next line schedules the next flush');
  });
});
