import assert from 'node:assert/strict';
import { allPassed, formatReport } from './report.js';

describe('compose report', () => {
  it('marks each step and closes with the pass/fail count line', () => {
    const text = formatReport('t', [
      { name: 'stack up', verdict: 'pass', detail: 'four containers', ms: 3200 },
      { name: 'traffic', verdict: 'fail', detail: 'rx_packets +0' },
      { name: 'drill', verdict: 'skip', detail: 'TODO' },
      { name: 'engine', verdict: 'info', detail: 'docker 20.10' },
    ]);
    const lines = text.split('\n');
    assert.equal(lines[0], '== t ==');
    assert.match(lines[1]!, /^ok {3}stack up +four containers \(3\.2 s\)$/);
    assert.match(lines[2]!, /^FAIL traffic +rx_packets \+0$/);
    assert.equal(lines.at(-1), 'compose: 1 passed, 1 failed, 1 skipped');
  });

  it('passes only when something passed and nothing failed', () => {
    assert.equal(allPassed([{ name: 'a', verdict: 'pass', detail: '' }, { name: 'b', verdict: 'skip', detail: '' }]), true);
    assert.equal(allPassed([{ name: 'a', verdict: 'pass', detail: '' }, { name: 'b', verdict: 'fail', detail: '' }]), false);
    assert.equal(allPassed([{ name: 'a', verdict: 'skip', detail: '' }]), false);
  });
});
