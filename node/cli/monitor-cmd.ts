/**
 * `hafw monitor`: prints every committed ruleset change of the node in this namespace as
 * it happens, in nft syntax like `nft monitor`, each transaction ending with
 * `# new generation N`.
 */
import { builtinRegistry } from '../ruleset/modules/index.js';
import { formatEvent } from '../ruleset/monitor.js';
import type { ChangeEvent } from '../ruleset/engine.js';
import { parse, UsageError, type Command } from './args.js';
import { openEventStream } from './event-stream.js';

const usage = `usage: hafw monitor [--json] [--count N] [--socket PATH]

Follows the ruleset of the node in this network namespace and prints each committed
transaction as nft commands (like 'nft monitor'), ending with '# new generation N'.
Runs until interrupted (Ctrl-C) or the node stops.
  --json          one JSON object per transaction: {"generation", "changes": [...]}
  --count N       exit after N transactions
  --socket PATH   control socket (default: the one of this network namespace)`;

export const monitorCommand: Command = {
  name: 'monitor',
  summary: 'print ruleset changes as they are committed (like nft monitor)',
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, count: { type: 'string' }, socket: { type: 'string' } }, usage);
    if (values.help) return void console.log(usage), 0;
    const count = values.count === undefined ? Infinity : Number(values.count);
    if (values.count !== undefined && !(Number.isInteger(count) && count >= 1)) throw new UsageError(`--count must be a positive integer\n\n${usage}`);
    const registry = builtinRegistry();
    let seen = 0;
    const stream = openEventStream(
      (type, data) => {
        if (type !== 'ruleset') return;
        const ev = data as ChangeEvent;
        process.stdout.write(values.json ? `${JSON.stringify(ev)}\n` : `${formatEvent(ev, registry)}\n`);
        if (++seen >= count) stream.stop();
      },
      { socket: values.socket },
    );
    const onSig = (): void => stream.stop();
    process.once('SIGINT', onSig);
    process.once('SIGTERM', onSig);
    try {
      await stream.started;
      await stream.ended;
    } finally {
      process.off('SIGINT', onSig);
      process.off('SIGTERM', onSig);
    }
    return 0;
  },
};
