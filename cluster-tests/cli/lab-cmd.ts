import { Lab } from '../lab.js';
import { isAlive } from '../exec.js';
import { parse, printJson, UsageError, type Command } from '../../node/cli/args.js';
import { formatStatus } from '../../node/cli/status.js';
import type { NodeStatus } from '../../node/api/index.js';

const usage = `usage: hafw lab up [--nodes 1|2|3] | status [--json] | down

The network-namespace lab (docs/lab.md): hafw-client and hafw-server with one, two or
three firewall nodes between them (hafw-fwa, hafw-fwb, hafw-fwc) and the bridges in hafw-sw.
  up      build the lab, start the nodes in the background, return once traffic flows
  status  show the lab's nodes and their counters
  down    stop the nodes (by PID) and delete every hafw- namespace
  --nodes N     up: 1, one firewall (default); 2, a pair with VRRP and state sync;
                3, three nodes in one VRRP group (fwa, then fwb, then fwc), all syncing
  --json        status: one JSON object
Needs root (network namespaces).`;

export const labCommand: Command = {
  name: 'lab',
  summary: 'build, inspect or remove the network-namespace lab',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { nodes: { type: 'string' }, json: { type: 'boolean' } }, usage);
    if (values.help || positionals.length === 0) return void console.log(usage), values.help ? 0 : 2;
    const sub = positionals[0];
    if (sub === 'up') {
      const nodes = Number(values.nodes ?? '1');
      if (nodes !== 1 && nodes !== 2 && nodes !== 3) throw new UsageError(`--nodes must be 1, 2 or 3, got ${values.nodes}\n\n${usage}`);
      const lab = await Lab.up({ nodes });
      console.log(`lab up: ${lab.state.nodes.map((n) => `${n.name} (ns ${n.ns}, pid ${n.pid})`).join(', ')}`);
      console.log(`try: ip netns exec hafw-client ping 198.51.100.100; ip netns exec hafw-fwa hafw status`);
      return 0;
    }
    if (sub === 'down') {
      await Lab.down();
      console.log('lab down');
      return 0;
    }
    if (sub === 'status') {
      const lab = await Lab.current();
      if (!lab) {
        if (values.json) printJson({ up: false });
        else console.log('no lab is up');
        return 1;
      }
      const nodes = [];
      for (const n of lab.state.nodes) {
        let status: NodeStatus | undefined;
        if (isAlive(n.pid)) status = (await lab.status(n.name).catch(() => undefined)) as NodeStatus | undefined;
        nodes.push({ ...n, alive: isAlive(n.pid), status });
      }
      if (values.json) printJson({ up: true, startedAt: lab.state.startedAt, nodes });
      else {
        console.log(`lab up since ${lab.state.startedAt}`);
        for (const n of nodes) {
          console.log(`\n${n.name}: ns ${n.ns} pid ${n.pid} ${n.alive ? 'running' : 'NOT RUNNING'}  log ${n.logFile}`);
          if (n.status) console.log(formatStatus(n.status).replace(/^/gm, '  '));
        }
      }
      return 0;
    }
    throw new UsageError(`unknown lab command ${sub}\n\n${usage}`);
  },
};
