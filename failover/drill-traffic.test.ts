import assert from 'node:assert/strict';
import { summarizeDrillTraffic, LISTED_FLOWS, type CounterSample, type DrillFlowObservation } from './drill-traffic.js';

/** Samples every 50 ms from t=0 to `until`, at `pps(t)` packets per second in the interval ending at t. */
function samples(until: number, pps: (t: number) => number): CounterSample[] {
  const out: CounterSample[] = [{ t: 0, value: 0 }];
  let v = 0;
  for (let t = 50; t <= until; t += 50) {
    v += (pps(t) * 50) / 1000;
    out.push({ t, value: v });
  }
  return out;
}

const flows = { candidates: 3, capped: false, flows: [] as DrillFlowObservation[] };

describe('summarizeDrillTraffic: a drill as the drilling node\'s traffic saw it', () => {
  it('finds when the traffic left after the resign and when it came back after the resume', () => {
    // 1000 pps until 1300 (resign at 1000: traffic goes on 300 ms, until the peer's
    // announcement moves it), a few stray packets during the hold, back 150 ms after the resume at 6000.
    const s = samples(8000, (t) => (t <= 1300 ? 1000 : t <= 6000 ? (t === 3000 ? 40 : 0) : t <= 6150 ? 0 : 1000));
    const r = summarizeDrillTraffic({ samples: s, resignAt: 1000, resumeAt: 6000, reclaimAt: 6020, flows });
    assert.equal(r.beforePps, 1000);
    assert.equal(r.leftMs, 300, 'the last interval at a tenth of the rate before ended 300 ms after the resign (stray packets below it)');
    assert.equal(r.backMs, 200, 'the first interval with traffic again ends 200 ms after the resume (50 ms resolution)');
    assert.equal(r.resumeMs, 5000);
    assert.equal(r.reclaimMs, 5020);
    assert.equal(r.timeline.t.length, 160);
    assert.equal(r.timeline.t[0], -950);
    assert.equal(r.timeline.pps[0], 1000);
    assert.equal(r.timeline.pps[59], 40, 'the stray packets are in the timeline');
    assert.equal(r.afterPps, 1000, 'the last second runs at the rate before');
  });

  it('says 0 when nothing came after the resign, null when the traffic never left or there was none', () => {
    const gone = summarizeDrillTraffic({ samples: samples(3000, (t) => (t <= 1000 ? 500 : 0)), resignAt: 1000, resumeAt: 2500, reclaimAt: null, flows });
    assert.equal(gone.leftMs, 0);
    assert.equal(gone.backMs, null, 'it did not come back in the window');
    assert.equal(gone.afterPps, 0);
    const stayed = summarizeDrillTraffic({ samples: samples(3000, () => 500), resignAt: 1000, resumeAt: 2500, reclaimAt: null, flows });
    assert.equal(stayed.leftMs, null, 'still here at the resume: it never moved to the peer');
    const none = summarizeDrillTraffic({ samples: samples(3000, () => 0), resignAt: 1000, resumeAt: 2500, reclaimAt: null, flows });
    assert.deepEqual([none.beforePps, none.leftMs, none.backMs], [0, null, null]);
  });

  it('tells a return whose traffic stalls after a burst from one that runs as before', () => {
    // Back 100 ms after the resume at 3000, then only a retransmission now and then.
    const r = summarizeDrillTraffic({ samples: samples(6000, (t) => (t <= 1000 ? 600 : t <= 3000 ? 0 : t <= 3300 ? 600 : t % 500 === 0 ? 120 : 0)), resignAt: 1000, resumeAt: 3000, reclaimAt: 3040, flows });
    assert.equal(r.backMs, 50);
    assert.equal(r.afterPps, 12, 'two 50 ms intervals of 120 pps in the last second');
    assert.equal(summarizeDrillTraffic({ samples: samples(2000, () => 600), resignAt: 1000, resumeAt: null, reclaimAt: null, flows }).afterPps, null);
  });

  it('uses the time between samples as taken (a late timer makes a longer interval, not more packets per second)', () => {
    const r = summarizeDrillTraffic({ samples: [{ t: 0, value: 0 }, { t: 100, value: 100 }, { t: 300, value: 200 }], resignAt: 100, resumeAt: null, reclaimAt: null, flows });
    assert.deepEqual(r.timeline, { t: [0, 200], pps: [1000, 500] });
  });

  it('counts the flows and lists the ones that did not survive first; passes on why there is no watch', () => {
    const f = (i: number, outcome: DrillFlowObservation['outcome']): DrillFlowObservation => ({ flow: `tcp 192.0.2.100:${40000 + i} -> 198.51.100.100:80`, outcome, peerRecords: outcome === 'survived' ? 3 : 1, survivedAfterMs: outcome === 'survived' ? 5100 : null });
    const list = [...Array.from({ length: 60 }, (_, i) => f(i, 'survived')), f(100, 'not-seen'), f(101, 'ended')];
    const r = summarizeDrillTraffic({ samples: samples(100, () => 0), resignAt: 50, resumeAt: null, reclaimAt: null, flows: { candidates: 70, capped: false, flows: list } });
    assert.deepEqual([r.flows.watched, r.flows.survived, r.flows.ended, r.flows.notSeen, r.flows.candidates], [62, 60, 1, 1, 70]);
    assert.equal(r.flows.list.length, LISTED_FLOWS);
    assert.deepEqual(r.flows.list.slice(0, 2).map((x) => x.outcome), ['not-seen', 'ended']);
    const e = summarizeDrillTraffic({ samples: samples(100, () => 0), resignAt: 50, resumeAt: null, reclaimAt: null, flows: { error: 'no flows to watch: conntrack and state sync are needed' } });
    assert.equal(e.flows.error, 'no flows to watch: conntrack and state sync are needed');
    assert.equal(e.flows.watched, 0);
  });
});
