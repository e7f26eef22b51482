/**
 * @lab conntrack expiry on an idle pair: connections whose timeout passed
 * leave both tables with no packet flowing (the datapath's expiry timer), on the active node
 * (its own entries, each Destroy replicated) and on the standby (the replicas).
 */
import assert from 'node:assert/strict';
import { Lab } from './lab.js';
import { addClientSources, clientSources, ctCount, makeFlows, pollUntil, syncStats } from './sync-load.js';

const SOURCES = clientSources(2);
/** Short timeouts, so the test waits seconds, not minutes. */
const CONFIG = 'conntrack:\n  timeouts:\n    udpUnreplied: 3\n    udpReplied: 3\n    icmp: 3\n';

describe('@lab conntrack expiry on an idle pair', function () {
  this.timeout(120_000);
  let lab: Lab;
  let labIsOurs = false;

  before(async function () {
    this.timeout(15 * 60_000);
    lab = await Lab.up({ nodes: 2, extraConfig: () => CONFIG });
    labIsOurs = true;
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    await addClientSources(SOURCES);
    assert.ok((await pollUntil(() => syncStats(lab, 'fwb'), (x) => x.inSync, 10_000)).ok, 'standby in sync');
  });
  after(async () => {
    if (labIsOurs) await Lab.down();
  });

  it('expired connections leave the active node and the standby without any packet', async () => {
    await makeFlows({ sources: SOURCES, portBase: 20_000, ports: 500, rate: 2000, maxSeconds: 10 });
    const a = await ctCount(lab, 'fwa');
    assert.ok(a.local >= 500, `fwa tracks ${a.local} connections`);
    const b = await pollUntil(() => ctCount(lab, 'fwb'), (c) => c.replicated >= a.local / 2, 5000, 100);
    assert.ok(b.ok, `fwb holds ${b.value.replicated} replicas`);
    // No more traffic: 3 s timeouts, a table walk every 5 s.
    const idle = await pollUntil(async () => [await ctCount(lab, 'fwa'), await ctCount(lab, 'fwb')], ([x, y]) => x!.total === 0 && y!.total === 0, 20_000, 250);
    assert.ok(idle.ok, `left after 20 s idle: fwa ${idle.value[0]!.total}, fwb ${idle.value[1]!.total}`);
    console.log(`      ${a.local} connections gone from both nodes ${idle.ms} ms after the load (timeout 3 s)`);
  });
});
