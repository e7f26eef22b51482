/**
 * `npm run demo` / `hafw demo`: the main job in one command. Builds the lab, starts the
 * firewall pair (stateful ruleset, state sync, VRRP), drives TCP and UDP over IPv4 and IPv6
 * through the master, runs a failover drill (the master is killed with long-lived flows
 * open), prints what happened, and tears everything down (also on failure or Ctrl-C).
 */
import { Lab, strictRulesetConfig, STRICT_RULESET } from './lab.js';
import { CLIENT, SERVER } from './topology.js';
import { startEchoServer, tcpRun, udpRun } from './traffic.js';
import { runDrill } from './drill.js';
import { bytes, n } from '../node/cli/args.js';
import { checkSystemTools } from './requirements.js';
import { formatDrillReport } from '../failover/index.js';

interface DemoOptions {
  nodes: 1 | 2;
  flows?: number;
  log?: (line: string) => void;
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  const say = opts.log ?? ((l: string) => console.log(l));
  await checkSystemTools(['ip', 'ping']);
  const pair = opts.nodes === 2;
  say(`== hafw demo: building the lab (${pair ? 'an active/standby pair with state sync and VRRP' : 'one firewall node'}) ==`);
  const onSignal = (): void => void Lab.down().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let failures = 0;
  try {
    const rules = await strictRulesetConfig();
    const lab = await Lab.up({ nodes: opts.nodes, extraConfig: () => rules });
    if (pair) {
      await lab.waitRole('fwa', 'master');
      await lab.waitRole('fwb', 'backup');
    }
    for (const node of lab.state.nodes) {
      const s = (await lab.status(node.name)) as { role: string };
      say(`node ${node.name} in ${node.ns} (pid ${node.pid}): ${s.role}`);
    }
    say(`ruleset on every node:\n${STRICT_RULESET.replace(/^/gm, '  ').trimEnd()}`);
    const stopEcho = await startEchoServer(5001);
    try {
      say(`\n== traffic: client ${CLIENT.v4} / ${CLIENT.v6} <-> server ${SERVER.v4} / ${SERVER.v6} through the VIPs ==`);
      const tcp4 = await tcpRun(SERVER.v4, { bytes: 20_000_000, flows: 4 });
      const tcp6 = await tcpRun(SERVER.v6, { bytes: 20_000_000, flows: 4 });
      const udp4 = await udpRun(SERVER.v4, { count: 2000, size: 200 });
      const udp6 = await udpRun(SERVER.v6, { count: 2000, size: 200 });
      const mbps = (b: number, ms: number): string => `${((b * 8) / 1e6 / (ms / 1000)).toFixed(0)} Mbit/s`;
      say(`TCP/IPv4  ${tcp4.ok}/${tcp4.flows} flows echoed ${bytes(tcp4.bytesEchoed)} in ${tcp4.ms} ms (${mbps(tcp4.bytesEchoed * 2, tcp4.ms)} both ways)`);
      say(`TCP/IPv6  ${tcp6.ok}/${tcp6.flows} flows echoed ${bytes(tcp6.bytesEchoed)} in ${tcp6.ms} ms (${mbps(tcp6.bytesEchoed * 2, tcp6.ms)} both ways)`);
      say(`UDP/IPv4  ${udp4.received}/${udp4.sent} datagrams echoed`);
      say(`UDP/IPv6  ${udp6.received}/${udp6.sent} datagrams echoed`);
      if (tcp4.ok !== tcp4.flows || tcp6.ok !== tcp6.flows) failures++;
      if (udp4.received < udp4.sent * 0.95 || udp6.received < udp6.sent * 0.95) failures++;
    } finally {
      await stopEcho();
    }
    say('\n== what the nodes saw ==');
    for (const node of lab.state.nodes) {
      const s = await lab.status(node.name);
      const c = s.datapath.counters;
      say(`${node.name}: ${n(c.rx_packets)} packets in (${n(c.rx_segments)} wire segments, ${bytes(c.rx_bytes)}), ${n(c.tx_packets)} forwarded`);
      say(`     verdicts: accept ${n(c.verdict_accept)}, drop ${n(c.verdict_drop)}, malformed ${n(c.malformed)}; TCP super-packets ${n(c.gso_packets)}, largest ${n(c.max_packet_bytes)} B (MTU 1500)`);
      if (pair) say(`     connections: ${(await lab.hafw(node.name, ['ct', 'count'])).trim()}`);
    }
    if (pair) {
      const flows = opts.flows ?? 50;
      say(`\n== failover drill: SIGKILL the master with ${flows} long-lived TCP flows open ==`);
      const { report, newMaster } = await runDrill(lab, { mode: 'kill', flows, log: say });
      say(formatDrillReport(report));
      say(`new master: ${newMaster ?? 'none'}`);
      if (!newMaster || report.survived !== report.flows) failures++;
    }
  } finally {
    say('\n== tearing down the lab ==');
    await Lab.down();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  say(failures === 0 ? '\ndemo OK' : `\ndemo FAILED: ${failures} check(s) failed`);
  return failures === 0 ? 0 : 1;
}
