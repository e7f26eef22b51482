/**
 * @lab poor man's failover: the standby learns connections by sniffing the shared LAN
 * and WAN segments (bridges in hub mode), so a strict stateful ruleset keeps the flows
 * when it takes over; without sniffing (and without state sync) the same flows die.
 */
import assert from 'node:assert/strict';
import { Lab, strictRulesetConfig } from './lab.js';
import { runDrill } from './drill.js';

describe("@lab sniff mode (poor man's failover)", function () {
  this.timeout(120000);
  after(async () => {
    await Lab.down();
  });

  async function pair(sniffOnStandby: boolean): Promise<Lab> {
    const rules = await strictRulesetConfig();
    const lab = await Lab.up({
      nodes: 2,
      hubMode: true,
      // Sniffing instead of state sync: the point is what the standby learns by itself.
      sync: false,
      extraConfig: (fw) => (fw.name === 'fwb' && sniffOnStandby ? `${rules}sniff:\n  interfaces: [lan, wan]\n` : rules),
    });
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    return lab;
  }

  it('a sniffing standby knows the flows and keeps them through a hard kill of the master', async () => {
    const lab = await pair(true);
    const { report, newMaster } = await runDrill(lab, { mode: 'kill', flows: 20, durationMs: 3000 });
    assert.equal(newMaster, 'fwb');
    const c = (await lab.status('fwb')).datapath.counters;
    assert.ok(c.sniffed_new >= 20, `the standby learned the connections (${c.sniffed_new})`);
    assert.equal(report.survived, 20, JSON.stringify(report.per_flow.filter((f) => !f.survived)));
  });

  it('without sniffing (and no state sync) the strict standby drops the same flows as invalid', async () => {
    const lab = await pair(false);
    const { report, newMaster } = await runDrill(lab, { mode: 'kill', flows: 20, durationMs: 3000 });
    assert.equal(newMaster, 'fwb');
    assert.equal(report.survived, 0, 'no flow survives a standby that never saw it');
    const c = (await lab.status('fwb')).datapath.counters;
    assert.ok(c.ct_invalid > 0, 'their mid-stream packets were invalid on the standby');
  });
});
