/** `hafw ruleset show`: the running ruleset of the node in this namespace (`nft list ruleset`). */
import { controlRequest } from '../api/client.js';
import { parse, printJson, type Command } from './args.js';

const usage = `usage: hafw ruleset show [--json] [--handles] [--socket PATH]

Prints the ruleset the node in this network namespace is running, in nft syntax (like
'nft list ruleset'), with counters. The generation is in 'hafw status --json'.
  --handles       show each rule's '# handle N' (what replace/delete need)
  --json          libnftables JSON, like 'nft -j list ruleset'
  --socket PATH   control socket (default: the one of this network namespace)`;

export const rulesetShowCommand: Command = {
  name: 'show',
  summary: "print the node's running ruleset",
  usage,
  async run(args) {
    const { values } = parse(args, { json: { type: 'boolean' }, handles: { type: 'boolean' }, socket: { type: 'string' } }, usage);
    if (values.help) return void console.log(usage), 0;
    if (values.json) printJson(await controlRequest<unknown>('GET', '/v1/ruleset?format=json', { socket: values.socket }));
    else process.stdout.write(await controlRequest<string>('GET', `/v1/ruleset?format=nft${values.handles ? '&handles=1' : ''}`, { socket: values.socket }));
    return 0;
  },
};
