/** `hafw drill` without --node: the failover drill against the lab (docs/failover.md). */
import { Lab, strictRulesetConfig } from '../lab.js';
import { runDrill } from '../drill.js';
import { drillReportJson, formatDrillReport, formatScenarioReport, scenarioReportJson } from '../../failover/index.js';
import { runScenario } from '../drill-scenario.js';
import type { LabDrillOptions } from '../../node/cli/lab-loader.js';

export async function labDrill({ mode, flows, durationMs, json, scenario }: LabDrillOptions): Promise<number> {
  // A lab left up by `hafw lab up` is used as it is; one that another process is using (a
  // test run) is never touched: we wait for it and build our own.
  const existing = (await Lab.inUseByOther()) ? undefined : await Lab.current();
  const nodes = scenario ? (scenario.nodes ?? 3) : 2;
  const own = !existing || (scenario?.nodes !== undefined ? existing.state.nodeCount !== nodes : existing.state.nodeCount < 2);
  const strict = own ? await strictRulesetConfig() : '';
  const rulesetLines = (): string => strict;
  const log = json ? undefined : (l: string) => console.log(l);
  // A lab of our own gets the strict stateful ruleset, so that flows survive only if the
  // standby really holds their state.
  const lab = own ? await Lab.up({ nodes, extraConfig: rulesetLines }) : existing;
  try {
    if (scenario) {
      if (own) {
        await lab.waitRole('fwa', 'master');
        for (const n of lab.state.nodes.filter((x) => x.name !== 'fwa')) await lab.waitRole(n.name, 'backup');
      }
      const { report } = await runScenario(lab, { scenario: scenario.name, node: scenario.node, flows, log });
      console.log(json ? scenarioReportJson(report) : formatScenarioReport(report));
      return report.meets_targets ? 0 : 1;
    }
    const { report, master, newMaster } = await runDrill(lab, { mode, flows, durationMs, log });
    if (json) console.log(JSON.stringify({ ...(JSON.parse(drillReportJson(report)) as object), old_master: master, new_master: newMaster ?? null }));
    else console.log(`${formatDrillReport(report)}\nnew master: ${newMaster ?? 'none'}`);
    return report.meets_targets ? 0 : 1;
  } finally {
    if (own) await Lab.down();
  }
}
