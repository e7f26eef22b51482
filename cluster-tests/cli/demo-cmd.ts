import { runDemo } from '../demo.js';
import { parse, UsageError, type Command } from '../../node/cli/args.js';

const usage = `usage: hafw demo [--nodes 1|2]

Builds the lab, starts the firewall node(s), drives TCP and UDP (IPv4 and IPv6) through
them, prints what happened and tears everything down. Needs root.
  --nodes 1|2   one firewall, or a pair with VRRP and state sync (default 2)`;

export const demoCommand: Command = {
  name: 'demo',
  summary: 'build the lab, drive traffic through the nodes, print the report, tear down',
  usage,
  async run(args) {
    const { values } = parse(args, { nodes: { type: 'string' } }, usage);
    if (values.help) return void console.log(usage), 0;
    const nodes = Number(values.nodes ?? '2');
    if (nodes !== 1 && nodes !== 2) throw new UsageError(`--nodes must be 1 or 2\n\n${usage}`);
    return runDemo({ nodes });
  },
};
