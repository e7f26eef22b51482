import assert from 'node:assert/strict';
import { computeScenarioReport, formatScenarioReport, longestGapIn, scenarioReportJson, type ProbeStream } from './drill-scenario.js';

/** Probes every 10 ms from 0 to end; those sent in any [from, to) of `losses` are lost; 1 ms one-way. */
function stream(family: string, endMs: number, losses: [number, number][] = []): ProbeStream {
  const sentMs: number[] = [];
  const recvMs: number[] = [];
  for (let t = 0; t < endMs; t += 10) {
    sentMs.push(t);
    recvMs.push(losses.some(([a, b]) => t >= a && t < b) ? NaN : t + 1);
  }
  return { family, sentMs, recvMs };
}

/** A flow making progress every 20 ms, pausing in [from, to). */
function flow(id: string, endMs: number, from = Infinity, to = Infinity, failed = false) {
  const progressMs: number[] = [];
  for (let t = 0; t < endMs; t += 20) if (t < from || t >= to) progressMs.push(t);
  return { id, progressMs, failed };
}

describe('drill-scenario', () => {
  it('a gap counts for the step whose window it ends in, and silence to the end is a gap', () => {
    const s = stream('ipv4', 1000, [[300, 400]]); // replies up to 291, again from 401
    assert.equal(longestGapIn(s, 295, 600, 1000), 110);
    assert.equal(longestGapIn(s, 500, 600, 1000), 10, 'a window after the gap sees only the probe interval');
    assert.equal(longestGapIn(stream('ipv4', 1000, [[700, 1000]]), 650, 1000, 1000), 1000 - 691);
    // The next step's outage (it began just before that step, at 600) is not this step's.
    const two = stream('ipv4', 1000, [[300, 400], [600, 800]]);
    assert.equal(longestGapIn(two, 295, 600, 1000), 110);
    assert.equal(longestGapIn(two, 600, 1000, 1000), 210);
  });

  it('reports each step per group: who was master before and after, and the outage of the worst family', () => {
    // Kill fwa at 1000 (IPv4 out 60 ms, IPv6 out 90 ms), then fwb at 3000 (both out 40 ms).
    const v4 = stream('ipv4', 5000, [[1000, 1060], [3000, 3040]]);
    const v6 = stream('ipv6', 5000, [[1000, 1090], [3000, 3040]]);
    const r = computeScenarioReport({
      scenario: 'kill-next', nodes: ['fwa', 'fwb', 'fwc'], endMs: 5000,
      steps: [{ action: 'kill', node: 'fwa', atMs: 1000 }, { action: 'kill', node: 'fwb', atMs: 3000 }],
      groups: [{ group: '51', vrid: 51, masters: ['fwa', 'fwb', 'fwc'], probes: [v4, v6], flows: [flow('a', 5000, 1000, 1100), flow('b', 5000)] }],
    });
    const g = r.groups['51']!;
    assert.deepEqual(g.steps.map((s) => [s.node, s.master_before, s.master_after, s.takeover, s.outage_ms, s.outage_family, s.at_ms]), [
      ['fwa', 'fwa', 'fwb', true, 100, 'ipv6', 0],
      ['fwb', 'fwb', 'fwc', true, 50, 'ipv4', 2000],
    ]);
    assert.equal(g.steps[0]!.probes_lost, 6 + 9);
    assert.equal(g.survived, 2);
    assert.equal(g.stall_ms_max, 120);
    assert.equal(r.meets_targets, false, 'the first outage (100 ms) misses the < 100 ms target');
    assert.match(formatScenarioReport(r), /kill fwa: master fwa -> fwb; outage 100\.0 ms \(ipv6\)/);
  });

  it('a backup killed is no takeover; a reset flow did not survive; a flow silent to the end stalled that long', () => {
    const r = computeScenarioReport({
      scenario: 'kill', nodes: ['fwa', 'fwb', 'fwc'], endMs: 3000,
      steps: [{ action: 'kill', node: 'fwc', atMs: 1000 }],
      groups: [{ group: '51', vrid: 51, masters: ['fwa', 'fwa'], probes: [stream('ipv4', 3000)], flows: [flow('ok', 3000), flow('reset', 3000, 0, 0, true), flow('stuck', 3000, 1500, 3000)] }],
    });
    const g = r.groups['51']!;
    assert.equal(g.steps[0]!.takeover, false);
    assert.equal(g.steps[0]!.outage_ms, 10);
    assert.deepEqual(g.per_flow.map((f) => [f.survived, f.stall_ms]), [[true, 20], [false, null], [true, 3000 - 1480]]);
    assert.equal(r.meets_targets, false);
    assert.match(formatScenarioReport(r), /kill fwc: master stays fwa/);
  });

  it('traffic that never came back fails every flow, and a failed check fails the drill', () => {
    const r = computeScenarioReport({
      scenario: 'partition', nodes: ['fwa', 'fwb', 'fwc'], endMs: 3000,
      steps: [{ action: 'partition', node: 'fwa', atMs: 1000 }, { action: 'heal', node: 'fwa', atMs: 2000 }],
      groups: [{ group: '51', vrid: 51, masters: ['fwa', 'fwb', null], probes: [stream('ipv4', 3000, [[1990, 3000]])], flows: [flow('a', 3000)] }],
      checks: [{ name: 'one master', ok: false, detail: 'none' }],
    });
    assert.equal(r.groups['51']!.survived, 0);
    assert.equal(r.groups['51']!.steps[1]!.outage_ms, 3000 - 1981);
    assert.equal(r.groups['51']!.steps[1]!.takeover, false, 'no master after the step is not a takeover');
    const json = JSON.parse(scenarioReportJson(r)) as { groups: Record<string, { stall_ms_p50: unknown }>; meets_targets: boolean };
    assert.equal(json.groups['51']!.stall_ms_p50, null);
    assert.equal(json.meets_targets, false);
    // The same run with the check passing still fails on the flows.
    const ok = computeScenarioReport({
      scenario: 'partition', nodes: ['fwa'], endMs: 3000, steps: [{ action: 'partition', node: 'fwa', atMs: 1000 }],
      groups: [{ group: '51', vrid: 51, masters: ['fwa', 'fwa'], probes: [stream('ipv4', 3000)], flows: [flow('a', 3000)] }],
      checks: [{ name: 'one master', ok: true, detail: 'fwa' }],
    });
    assert.equal(ok.meets_targets, true);
  });

  it('refuses a group whose masters do not match the steps, and a group given twice', () => {
    const base = { scenario: 'kill', nodes: ['fwa'], endMs: 100, steps: [{ action: 'kill' as const, node: 'fwa', atMs: 10 }] };
    const g = { group: '51', vrid: 51, probes: [], flows: [] };
    assert.throws(() => computeScenarioReport({ ...base, groups: [{ ...g, masters: ['fwa'] }] }), /group 51: 1 masters for 1 steps/);
    assert.throws(() => computeScenarioReport({ ...base, groups: [{ ...g, masters: ['fwa', 'fwb'] }, { ...g, masters: ['fwa', 'fwb'] }] }), /group 51 given twice/);
  });
});
