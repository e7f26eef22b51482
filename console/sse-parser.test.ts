import assert from 'node:assert/strict';
import { SseParser } from './sse-parser.js';
import { ratesBetween, SeriesWindow } from './rates.js';

describe('console event stream parser', () => {
  it('splits events across chunk borders, keeps comments, joins data lines', () => {
    const p = new SseParser();
    assert.deepEqual(p.push(': generation 4\n\nevent: vrrp\nid: 7\nda'), []);
    assert.deepEqual(p.push('ta: {"state":"master"}\r\n\r\nevent: x\ndata: a\ndata: b\n\n: keepalive\n\n'), [
      { type: 'vrrp', id: '7', data: '{"state":"master"}' },
      { type: 'x', data: 'a\nb' },
    ]);
    assert.deepEqual(p.comments, ['generation 4', 'keepalive']);
  });
});

describe('console rates', () => {
  it('turns counters into per-second rates; a counter that went down restarts from its value', () => {
    assert.deepEqual(ratesBetween({ a: 100, b: 50 }, { a: 300, b: 10, c: 5 }, 2), { a: 100, b: 5 });
    assert.deepEqual(ratesBetween({ a: 1 }, { a: 2 }, 0), {});
  });
  it('keeps a bounded window of samples in uPlot column order', () => {
    const w = new SeriesWindow(['x', 'y'], 2);
    w.push(1, { x: 1 });
    w.push(2, { x: 2, y: 3 });
    w.push(3, { y: 4 });
    assert.deepEqual(w.columns(), [[2, 3], [2, null], [3, 4]]);
  });
});
