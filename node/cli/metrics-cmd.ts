import { controlRequest } from '../api/index.js';
import { parse, type Command } from './args.js';

const usage = `usage: hafw metrics [--socket PATH]

Prints the Prometheus metrics of the node in this network namespace (the same text its
/metrics endpoint serves). See docs/metrics.md.
  --socket PATH   control socket (default: the one of this network namespace)`;

export const metricsCommand: Command = {
  name: 'metrics',
  summary: "print the node's Prometheus metrics",
  usage,
  async run(args) {
    const { values } = parse(args, { socket: { type: 'string' } }, usage);
    if (values.help) return void console.log(usage), 0;
    process.stdout.write(await controlRequest<string>('GET', '/metrics', { socket: values.socket }));
    return 0;
  },
};
