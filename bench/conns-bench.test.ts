import assert from 'node:assert/strict';
import { breakdown, countLabel, describe as describeMemory, parseSmapsRollup, parseVmRss } from './conns-bench.js';

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
  it('splits a node\'s RSS into its table, JS heaps, other ArrayBuffers per thread and the rest', () => {
    const rollup = parseSmapsRollup('55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:              204800 kB\nPss:              190000 kB\nAnonymous:        153600 kB\n');
    assert.deepEqual(rollup, { Rss: 204800 * 1024, Pss: 190000 * 1024, Anonymous: 153600 * 1024 });
    const MiB = 2 ** 20;
    const t = (thread: string, heap: number, ab: number, table?: { alloc: number; touched: number }) => ({
      thread, threadId: 0, heapTotal: heap * MiB, heapUsed: heap * MiB, heapPhysical: heap * MiB, arrayBuffers: ab * MiB, malloced: 0,
      ...(table ? { tableBytes: table.alloc * MiB, tableTouched: table.touched * MiB } : {}),
    });
    const b = breakdown(rollup, [t('main', 20, 1), t('datapath', 10, 110, { alloc: 100, touched: 40 }), t('sync', 10, 30)]);
    assert.equal(b.table, 40 * MiB);
    assert.equal(b.heaps, 40 * MiB);
    assert.deepEqual(b.buffers, { main: MiB, datapath: 10 * MiB, sync: 30 * MiB });
    assert.equal(b.rest, (200 - 40 - 40 - 41) * MiB);
    assert.equal(b.file, 50 * MiB);
    assert.match(describeMemory(b), /^RSS 200 MiB = conntrack table 40 \(of 100 allocated\) \+ JS heaps 40 \+ ArrayBuffers \(main 1.0, datapath 10, sync 30\) \+ rest 79 \(file-backed 50\)$/);
  });
});
