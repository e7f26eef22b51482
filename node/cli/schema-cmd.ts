/**
 * `hafw schema [NAME] [--json]`: which matches, statements and value types the rule engine
 * knows, their parameters, families and help, straight from the module registry (the same
 * declarations the parser, printer, JSON codec, validation and compiler use).
 */
import { describeModules, formatSchema } from '../ruleset/schema.js';
import { parse, printJson, type Command } from './args.js';

const usage = `usage: hafw schema [NAME] [--json]

Lists the registered matches, statements and types with their help text; with NAME
(e.g. 'tcp dport', 'limit', 'ipv4_addr', or a prefix such as 'tcp'), describes those
in full: syntax, parameters, families, symbolic values. Works without a running node.
  --json   the machine-readable schema (what the API's GET /v1/schema returns)`;

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'describe the matches, statements and types of the rule language',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage), 0;
    const name = positionals.length > 0 ? positionals.join(' ') : undefined;
    const mods = describeModules(name);
    if (name !== undefined && mods.length === 0) {
      if (values.json) printJson([]);
      console.error(`hafw schema: no match, statement or type named '${name}' (run 'hafw schema' for the list)`);
      return 1;
    }
    if (values.json) printJson(mods);
    else process.stdout.write(formatSchema(mods));
    return 0;
  },
};
