import { controlRequest } from '../api/index.js';
import { parse, printJson, n, UsageError, type Command } from './args.js';

const usage = `usage: hafw ct count [--json] [--socket PATH]

The connection table of the node in this network namespace:
  count   connections, split into local ones (this node forwards them) and replicated ones
          (copies of a peer's, received through state sync)`;

interface CtCount {
  total: number;
  local: number;
  replicated: number;
  capacity: number;
}

export const ctCommand: Command = {
  name: 'ct',
  summary: 'connection table: count (local and replicated)',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, socket: { type: 'string' } }, usage);
    if (values.help) return void console.log(usage), 0;
    if (positionals[0] !== 'count') throw new UsageError(`${positionals[0] ? `unknown ct command ${positionals[0]}` : 'a ct command is required'}\n\n${usage}`);
    const c = await controlRequest<CtCount>('GET', '/v1/ct/count', { socket: values.socket });
    if (values.json) printJson(c);
    else console.log(`connections ${n(c.total)}  (local ${n(c.local)}, replicated ${n(c.replicated)})  capacity ${n(c.capacity)}`);
    return 0;
  },
};
