import assert from 'node:assert/strict';
import { countLabel, parseVmRss } from './conns-bench.js';

describe('conns bench', () => {
  it('reads VmRSS from /proc/<pid>/status in bytes', () => {
    const text = 'Name:\tnode\nVmPeak:\t 1200000 kB\nVmRSS:\t  204800 kB\nRssAnon:\t  150000 kB\n';
    assert.equal(parseVmRss(text), 204800 * 1024);
  });
  it('fails clearly when the status has no VmRSS line (a kernel thread, a gone process)', () => {
    assert.throws(() => parseVmRss('Name:\tkthreadd\nState:\tS\n'), /no VmRSS line/);
  });
  it('names the row by the count held', () => {
    assert.equal(countLabel(1_000_000), '1M');
    assert.equal(countLabel(100_000), '100k');
    assert.equal(countLabel(123_456), '123456');
  });
});
