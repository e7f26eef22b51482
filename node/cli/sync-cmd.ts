import { controlRequest } from '../api/index.js';
import { parse, printJson, UsageError, type Command } from './args.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import { didYouMean } from './suggest.js';

const usage = `usage: hafw sync stats [--json] [--socket PATH | --url URL]

State sync of the node in this network namespace, like conntrackd -s: whether its table
is complete (in sync), messages and bytes, retransmissions, NACKs, gaps, rejected
messages, resyncs, replication lag, resend queue and ring depths. See docs/sync.md.
  --json          the report as one JSON object
${TARGET_HELP}`;

export const syncCommand: Command = {
  name: 'sync',
  summary: 'state sync statistics (in sync, lag, retransmits, ...)',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    if (positionals[0] !== 'stats') throw new UsageError(`${positionals[0] ? `unknown sync command ${positionals[0]}${didYouMean(positionals[0], ['stats'])}` : 'a sync command is required'}\n\n${usage}`);
    if (values.json) printJson(await controlRequest<unknown>('GET', '/v1/sync/stats', target));
    else process.stdout.write(await controlRequest<string>('GET', '/v1/sync/stats?format=text', target));
    return 0;
  },
};
