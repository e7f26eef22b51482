/**
 * @lab Switching without dropping connections: a kernel firewall (nftables + conntrack,
 * the same strict ruleset: established accept, new only from the LAN) forwards 21
 * long-lived TCP flows, each sending a byte every 100 ms. Its table is dumped with
 * `conntrack -L -o extended`, hafw starts in its place (the lab's node start: from then on
 * the traffic goes through hafw's datapath), the dump is imported with `hafw ct import`
 * and the kernel's tables are flushed. The 20 imported flows carry on (no reset, echoes
 * keep coming); the one flow left out of the dump is dropped by the same ruleset (hafw
 * tracks strictly: its mid-stream packets are invalid), which proves the import is what
 * kept the others. Then, on a pair, connections imported into the master reach the
 * standby through state sync as normal entries, a masqueraded one with its binding.
 * Needs root, nft and conntrack.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Lab, LAB_DIR, STRICT_RULESET, sh, sleep, strictRulesetConfig } from './lab.js';
import { FlowAgent, type FlowMark } from './client-agent.js';
import { NS, SERVER } from './topology.js';
import { startEchoServer } from './traffic.js';
import { hasTool } from './requirements.js';
import { ctCount, pollUntil, syncStats } from './sync-load.js';
import type { CtListedEntry } from '../node/conntrack/index.js';

const FLOWS = 21;
const PORT = 5001;

describe('@lab migration: a kernel firewall\'s live TCP flows move to hafw with ct import', function () {
  this.timeout(90000);
  let lab: Lab | undefined;
  /** Lab.down only once Lab.up returned: before that the lab may be another process's. */
  let labIsOurs = false;
  let stopEcho: (() => Promise<void>) | undefined;
  let agent: FlowAgent | undefined;

  before(async () => {
    for (const t of ['nft', 'conntrack']) {
      if (!(await hasTool(t))) throw new Error(`${t} is not installed: apt-get install nftables conntrack (scripts/install-system-deps.sh does)`);
    }
  });
  after(async () => {
    agent?.close();
    await stopEcho?.().catch(() => undefined);
    if (labIsOurs) await Lab.down();
  });

  it('keeps the imported flows (no reset, data continues) and drops the one left out, under a strict ruleset', async () => {
    // The network only: fwa forwards with the kernel, VIPs on it, no hafw yet.
    lab = await Lab.up({ nodes: 1, startNodes: false, vrrp: false, sync: false });
    labIsOurs = true;
    const fw = NS.fw('fwa');
    const kernelRules = path.join(LAB_DIR, 'kernel-strict.nft');
    await writeFile(kernelRules, STRICT_RULESET);
    await sh(['nft', '-f', kernelRules], { ns: fw });
    // The kernel tracks strictly too (no mid-stream pickup), like hafw's default.
    await sh(['sysctl', '-q', '-w', 'net.netfilter.nf_conntrack_tcp_loose=0'], { ns: fw });
    await lab.waitTraffic();
    stopEcho = await startEchoServer(PORT, NS.server);

    agent = new FlowAgent(SERVER.v4, PORT, FLOWS, { writeEveryMs: 100, lifetimeMs: 90000 });
    await agent.connected();
    await sleep(1000);
    const warm = await agent.mark();
    assert.ok(warm.every((f) => f.echoed >= 5 && f.error === null), `the kernel firewall forwards every flow: ${JSON.stringify(warm)}`);
    const left = warm[FLOWS - 1]!.port;

    // The operator's dump of the kernel's table, minus one flow: the control.
    const dump = await sh(['conntrack', '-L', '-o', 'extended'], { ns: fw });
    const lines = dump.split('\n').filter((l) => l.includes(`dport=${PORT}`) && l.includes('ESTABLISHED'));
    assert.equal(lines.length, FLOWS, `one ESTABLISHED entry per flow in the kernel:\n${dump}`);
    const dumpFile = path.join(LAB_DIR, 'conntrack-dump.txt');
    const kept = dump.split('\n').filter((l) => l.trim() !== '' && !l.includes(` sport=${left} `));
    assert.equal(kept.length, dump.split('\n').filter((l) => l.trim() !== '').length - 1, 'one flow left out');
    await writeFile(dumpFile, `${kept.join('\n')}\n`);

    // hafw in the kernel firewall's place: the node's start steers forwarded traffic
    // into its datapath at once; import the table right after and drop the kernel's rules.
    await lab.startNode('fwa', await strictRulesetConfig());
    await lab.waitReady('fwa');
    const out = await lab.hafw('fwa', ['ct', 'import', dumpFile]);
    // The flows' entries and whatever else the kernel tracked (the lab's ping).
    assert.match(out, new RegExp(`hafw ct: ${kept.length} flow entries have been imported`), out);
    await sh(['nft', 'flush', 'ruleset'], { ns: fw });
    // From here on only hafw forwards (its rules steer the traffic before it answers).
    const before = await agent.mark();

    // TCP retransmits what the short gap between the start and the import dropped (backing
    // off): every imported flow catches up within a few seconds (bounded wait), then keeps
    // moving at its pace.
    const others = (m: FlowMark[]) => m.filter((f) => f.port !== left);
    const deadline = Date.now() + 15000;
    let now = await agent.mark();
    while (Date.now() < deadline && !others(now).every((f, i) => f.echoed > others(before)[i]!.echoed + 5)) {
      await sleep(250);
      now = await agent.mark();
    }
    await sleep(1500);
    const later = await agent.mark();
    for (let i = 0; i < FLOWS - 1; i++) {
      const [b, n, l] = [others(before)[i]!, others(now)[i]!, others(later)[i]!];
      assert.equal(l.error, null, `flow from port ${l.port} was ended: ${l.error}`);
      assert.ok(n.echoed > b.echoed + 5, `flow from port ${l.port} carried on through hafw: ${b.echoed} -> ${n.echoed} bytes echoed`);
      assert.ok(l.echoed >= n.echoed + 10, `flow from port ${l.port} keeps moving (a byte every 100 ms): ${n.echoed} -> ${l.echoed}`);
    }
    // The flow not imported: the same ruleset drops its mid-stream packets as invalid.
    const control = (m: FlowMark[]) => m.find((f) => f.port === left)!;
    assert.equal(control(later).echoed, control(before).echoed, 'the flow left out of the import gets nothing through hafw');
    const counters = (await lab.status('fwa')).datapath.counters as Record<string, number>;
    assert.ok((counters.ct_invalid ?? 0) > 0, 'its packets are invalid for hafw (strict tracking)');
    const count = JSON.parse(await lab.hafw('fwa', ['ct', 'count', '--json'])) as { local: number };
    assert.ok(count.local >= FLOWS - 1, `the imported entries are the node's own: ${JSON.stringify(count)}`);
  });

  it('imported connections are replicated to the standby as normal entries, NAT bindings included', async () => {
    agent?.close();
    agent = undefined;
    await stopEcho?.();
    stopEcho = undefined;
    lab = await Lab.up({ nodes: 2 });
    labIsOurs = true;
    await lab.waitRole('fwa', 'master');
    await lab.waitRole('fwb', 'backup');
    assert.ok((await pollUntil(() => syncStats(lab!, 'fwb'), (x) => x.inSync, 10_000)).ok, 'the standby is in sync first');
    // What conntrack -L -o extended prints on a kernel firewall: 10 plain flows and one
    // masqueraded to the WAN address.
    const dump = [
      ...Array.from({ length: 10 }, (_, i) => `ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.100 dst=198.51.100.100 sport=${41000 + i} dport=443 src=198.51.100.100 dst=192.0.2.100 sport=443 dport=${41000 + i} [ASSURED] mark=0 use=1`),
      'ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.100 dst=198.51.100.100 sport=42000 dport=443 src=198.51.100.100 dst=198.51.100.1 sport=443 dport=62000 [ASSURED] mark=0 use=1',
    ].join('\n');
    const dumpFile = path.join(LAB_DIR, 'conntrack-dump-pair.txt');
    await writeFile(dumpFile, `${dump}\n`);
    const out = await lab.hafw('fwa', ['ct', 'import', dumpFile]);
    assert.match(out, /11 flow entries have been imported \(1 with NAT\)/, out);
    const r = await pollUntil(() => ctCount(lab!, 'fwb'), (c) => c.replicated >= 11, 10_000);
    assert.ok(r.ok, `the standby holds the imported connections: ${JSON.stringify(r.value)}`);
    const list = JSON.parse(await lab.hafw('fwb', ['ct', 'list', '--origin', 'replicated', '-p', 'tcp', '--dport', '443', '--json'])) as { entries: CtListedEntry[] };
    assert.equal(list.entries.length, 11);
    const nat = list.entries.find((e) => e.original.sport === 42000)!;
    assert.deepEqual(nat.reply, { src: '198.51.100.100', dst: '198.51.100.1', sport: 443, dport: 62000 });
    assert.ok(nat.status.includes('snat'), JSON.stringify(nat));
    assert.equal(nat.tcpState, 'ESTABLISHED');
  });
});
