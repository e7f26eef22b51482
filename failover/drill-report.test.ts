import assert from 'node:assert/strict';
import { computeDrillReport, drillReportJson, DrillInput, formatDrillReport, longestProbeGap, percentile, summarizeDrills } from './drill-report.js';

/** Probes every 10 ms from 0 to end; those sent in [lossFrom, lossTo) are lost; 1 ms one-way. */
function probes(endMs: number, lossFrom: number, lossTo: number): { sent: number[]; recv: number[] } {
  const sent: number[] = [];
  const recv: number[] = [];
  for (let t = 0; t < endMs; t += 10) {
    sent.push(t);
    recv.push(t >= lossFrom && t < lossTo ? NaN : t + 1);
  }
  return { sent, recv };
}

/** A flow making progress every `every` ms, pausing in [from, to), failing optionally. */
function flow(id: string, endMs: number, every: number, from: number, to: number, failed = false) {
  const progressMs: number[] = [];
  for (let t = 0; t < endMs; t += every) if (t < from || t >= to) progressMs.push(t);
  return { id, progressMs, failed };
}

describe('drill-report', () => {
  it('nearest-rank percentiles', () => {
    assert.equal(percentile([5, 1, 3], 50), 3);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 100), 4);
    assert.ok(Number.isNaN(percentile([], 50)));
  });

  it('takeover time is the longest gap between received probes, even when they arrive out of order', () => {
    const g = longestProbeGap([11, 1, 21, 101, 111, 31], 0, 120);
    assert.deepEqual(g, { gapMs: 70, fromMs: 31, toMs: 101 });
    // silence to the end of the window is a gap too
    assert.equal(longestProbeGap([1, 11], 0, 500).gapMs, 489);
  });

  it('splits the failure\'s probe gap at the new master\'s takeover steps', () => {
    const p = probes(5_000, 2_000, 2_080); // answered up to 1991, again from 2081
    const takeover = { reason: 'masterDown' as const, lastAdvertAt: 1_995, dueAt: 2_031, firedAt: 2_032, advertAt: 2_032.25, announceAt: 2_032.5, vipsAt: 2_050, vipsFailed: 0 };
    // A later, longer stall (probes 3000..3190 lost) is the longest gap, not the failover's.
    for (let i = 300; i < 320; i++) p.recv[i] = NaN;
    const r = computeDrillReport({ mode: 'kill', triggerMs: 2_003, endMs: 5_000, probeSentMs: p.sent, probeRecvMs: p.recv, flows: [], takeover });
    assert.equal(r.takeover_gap_from_ms, 2_991);
    const ph = r.takeover_phases!;
    assert.equal(ph.before_trigger_ms, 12); // last answer at 1991
    assert.equal(ph.advert_before_trigger_ms, 8);
    assert.equal(ph.detect_ms, 36);
    assert.equal(ph.timer_late_ms, 1);
    assert.equal(ph.trigger_to_master_ms, 29);
    assert.equal(ph.announce_ms, 0.5);
    assert.equal(ph.vips_ms, 18);
    assert.equal(ph.first_probe_ms, 48.5); // 2081 - 2032.5
    assert.equal(ph.failover_gap_ms, 90); // 1991 -> 2081
    assert.match(formatDrillReport(r), /takeover phases .*failover gap 90\.0/);
    assert.equal(computeDrillReport({ mode: 'kill', triggerMs: 2_003, endMs: 5_000, probeSentMs: p.sent, probeRecvMs: p.recv, flows: [] }).takeover_phases, null);
  });

  it('computes takeover, survivors and stall percentiles for a kill drill', () => {
    const endMs = 5_000;
    const p = probes(endMs, 2_000, 2_080); // probes 2000..2070 lost: silence from 1991 to 2081
    const input: DrillInput = {
      mode: 'kill', triggerMs: 2_000, endMs, probeSentMs: p.sent, probeRecvMs: p.recv,
      flows: [
        flow('f1', endMs, 5, 2_000, 2_200), // stalls 205 ms
        flow('f2', endMs, 5, 2_000, 2_400), // stalls 405 ms
        flow('f3', endMs, 5, 2_000, 2_300), // stalls 305 ms
        flow('f4', 2_000, 5, 0, 0), // silent after the kill: died
        flow('f5', endMs, 5, 2_000, 2_100, true), // reset
      ],
      syncStateAtTakeover: 'inSync',
    };
    const r = computeDrillReport(input);
    assert.equal(r.takeover_ms, 90);
    assert.equal(r.probes_sent, 500);
    assert.equal(r.probes_lost, 8);
    assert.equal(r.flows, 5);
    assert.equal(r.survived, 3);
    assert.deepEqual(r.per_flow.map((f) => f.survived), [true, true, true, false, false]);
    assert.equal(r.stall_ms_p50, 305);
    assert.equal(r.stall_ms_max, 405);
    assert.equal(r.meets_targets, false); // two flows lost
    const json = JSON.parse(drillReportJson(r)) as Record<string, unknown>;
    for (const k of ['mode', 'takeover_ms', 'flows', 'survived', 'stall_ms_p50', 'stall_ms_max']) assert.ok(k in json, k);
    assert.equal(json.sync_state_at_takeover, 'inSync');
    const text = formatDrillReport(r);
    assert.match(text, /takeover \(longest probe gap\)\s+90\.0 ms/);
    assert.match(text, /flows survived\s+3\/5/);
    assert.match(text, /NOT met/);
  });

  it('a drill where traffic never comes back has no survivors and a takeover as long as the silence', () => {
    const p = probes(3_000, 1_000, 10_000);
    const r = computeDrillReport({ mode: 'link', triggerMs: 1_000, endMs: 3_000, probeSentMs: p.sent, probeRecvMs: p.recv, flows: [flow('f', 1_000, 5, 0, 0)] });
    assert.equal(r.takeover_ms, 3_000 - 991);
    assert.equal(r.survived, 0);
    assert.equal(r.meets_targets, false);
    assert.equal(JSON.parse(drillReportJson(r)).stall_ms_p50, null);
  });

  it('meets the targets when every flow survives with a short stall', () => {
    const p = probes(4_000, 1_000, 1_040);
    const r = computeDrillReport({ mode: 'resign', triggerMs: 1_000, endMs: 4_000, probeSentMs: p.sent, probeRecvMs: p.recv,
      flows: [flow('a', 4_000, 10, 1_000, 1_200), flow('b', 4_000, 10, 1_000, 1_100)] });
    assert.equal(r.takeover_ms, 50);
    assert.equal(r.survived, 2);
    assert.equal(r.meets_targets, true);
    assert.match(formatDrillReport(r), /targets .* met/);
  });

  it('summarizes repeated drills by their medians', () => {
    const mk = (loss: number) => {
      const p = probes(2_000, 1_000, 1_000 + loss);
      return computeDrillReport({ mode: 'kill', triggerMs: 1_000, endMs: 2_000, probeSentMs: p.sent, probeRecvMs: p.recv, flows: [flow('a', 2_000, 10, 1_000, 1_000 + loss * 2)] });
    };
    const s = summarizeDrills([mk(100), mk(20), mk(50), mk(300), mk(40)]);
    assert.equal(s.runs, 5);
    assert.equal(s.mode, 'kill');
    assert.equal(s.takeover_ms_median, 60); // gaps 110, 30, 60, 310, 50
    assert.equal(s.stall_ms_p50_median, 110); // stalls 210, 50, 110, 610, 90
    assert.equal(s.survived_min, 1);
  });
});
