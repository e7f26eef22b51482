import { controlRequest } from '../api/index.js';
import { parse, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';

const usage = `usage: hafw metrics [--socket PATH | --url URL]

Prints the Prometheus metrics of the node in this network namespace (the same text its
/metrics endpoint serves). See docs/metrics.md.
${TARGET_HELP}`;

export const metricsCommand: Command = {
  name: 'metrics',
  summary: "print the node's Prometheus metrics",
  usage,
  async run(args) {
    const { values } = parse(args, { ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    process.stdout.write(await controlRequest<string>('GET', '/metrics', target));
    return 0;
  },
};
