/**
 * `hafw ruleset convert FILE --to json|nft`: the generic structure and the text are two
 * spellings of one ruleset; converting offline lets an operator (or a GUI) keep either.
 */
import { convertRuleset } from '../ruleset/check.js';
import { RulesetError } from '../ruleset/errors.js';
import { parse, UsageError, type Command } from './args.js';
import { INCLUDE_OPTION, INCLUDE_USAGE, readRulesetInput } from './ruleset-input.js';

const usage = `usage: hafw ruleset convert FILE [-I DIR]... --to json|nft

Converts a ruleset between nft syntax and libnftables JSON ('nft -j' style) without a
running node. The input may be either form ('-' reads standard input); the output
round-trips: converting it back gives the same ruleset. Errors print as
FILE:LINE:COL: message and exit 1.
  --to json|nft   output form
Included files are expanded into the output (nft's JSON has no include).
${INCLUDE_USAGE}`;

export const rulesetConvertCommand: Command = {
  name: 'convert',
  summary: 'convert a ruleset between nft text and libnftables JSON',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { to: { type: 'string' }, ...INCLUDE_OPTION }, usage);
    if (values.help) return void console.log(usage), 0;
    if (positionals.length !== 1) throw new UsageError(`expected one FILE\n\n${usage}`);
    if (values.to !== 'json' && values.to !== 'nft') throw new UsageError(`--to must be json or nft\n\n${usage}`);
    try {
      const { text, name, sources } = await readRulesetInput(positionals[0]!, values.includepath);
      process.stdout.write(convertRuleset(text, values.to, name, sources));
      return 0;
    } catch (err) {
      if (!(err instanceof RulesetError)) throw err;
      console.error(err.message);
      return 1;
    }
  },
};
