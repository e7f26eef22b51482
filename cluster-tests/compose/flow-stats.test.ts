import assert from 'node:assert/strict';
import { summarizeFlows } from './flow-stats.js';

describe('flow stats', () => {
  it('counts a flow echoed until the end as survived and reports its longest silence', () => {
    const s = summarizeFlows([{ connectedAt: 0, echoes: [50, 100, 550, 600] }], 620, 200);
    assert.equal(s.connected, 1);
    assert.equal(s.survived, 1);
    assert.equal(s.maxGapMs, 450);
    assert.equal(s.echoes, 4);
  });

  it('counts a flow that went silent before the end as dead, and keeps its gap out of the maximum', () => {
    const s = summarizeFlows(
      [
        { connectedAt: 0, echoes: [50, 100] },
        { connectedAt: 0, echoes: [50, 900, 950] },
      ],
      1000,
      200,
    );
    assert.equal(s.survived, 1);
    assert.equal(s.maxGapMs, 850);
  });

  it('counts a reset flow as dead even if it was echoed recently, and lists the error once', () => {
    const s = summarizeFlows(
      [
        { connectedAt: 0, echoes: [990], error: 'ECONNRESET' },
        { connectedAt: 0, echoes: [995], error: 'ECONNRESET' },
      ],
      1000,
      200,
    );
    assert.equal(s.survived, 0);
    assert.deepEqual(s.errors, ['ECONNRESET']);
  });

  it('reports flows that never connected', () => {
    const s = summarizeFlows([{ echoes: [], error: 'ETIMEDOUT' }, { echoes: [] }], 1000, 200);
    assert.equal(s.flows, 2);
    assert.equal(s.connected, 0);
    assert.deepEqual(s.errors, ['ETIMEDOUT', 'never connected']);
  });
});
