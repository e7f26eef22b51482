import { runNode } from '../daemon/index.js';
import { parse, UsageError, type Command } from './args.js';

const usage = `usage: hafw node --config FILE

Runs a firewall node in the foreground (one per network namespace). Logs are JSON lines
on stdout. SIGTERM/SIGINT stop it cleanly; SIGHUP reloads what can be reloaded.
See docs/configuration.md for every setting.
  --config FILE   the node's YAML configuration`;

export const nodeCommand: Command = {
  name: 'node',
  summary: 'run a firewall node (daemon) in the foreground',
  usage,
  async run(args) {
    const { values } = parse(args, { config: { type: 'string', short: 'c' } }, usage);
    if (values.help) return void console.log(usage), 0;
    if (!values.config) throw new UsageError(`--config FILE is required\n\n${usage}`);
    return runNode(values.config);
  },
};
