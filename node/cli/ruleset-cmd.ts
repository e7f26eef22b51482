/**
 * `hafw ruleset <check|convert|show|apply|diff|history|rollback>`: offline tools for
 * ruleset files, the running node's ruleset and the cluster's versions. Each subcommand
 * lives in its own file.
 */
import { UsageError, type Command } from './args.js';
import { didYouMean } from './suggest.js';
import { rulesetCheckCommand } from './ruleset-check.js';
import { rulesetConvertCommand } from './ruleset-convert.js';
import { rulesetShowCommand } from './ruleset-show.js';
import { rulesetApplyCommand } from './ruleset-apply.js';
import { rulesetDiffCommand } from './ruleset-diff.js';
import { rulesetHistoryCommand } from './ruleset-history.js';
import { rulesetRollbackCommand } from './ruleset-rollback.js';

export const subcommands: Command[] = [rulesetCheckCommand, rulesetConvertCommand, rulesetShowCommand, rulesetApplyCommand, rulesetDiffCommand, rulesetHistoryCommand, rulesetRollbackCommand];

const usage = [
  'usage: hafw ruleset <subcommand> [options]',
  '',
  'Ruleset files (offline) and the running ruleset of the node in this namespace.',
  '',
  'subcommands:',
  ...subcommands.map((c) => `  ${c.name.padEnd(8)}  ${c.summary}`),
  '',
  "Run 'hafw ruleset <subcommand> --help' for its options. See also 'hafw schema' and",
  "'hafw monitor'.",
].join('\n');

export const rulesetCommand: Command = {
  name: 'ruleset',
  summary: 'check, convert, show and change rulesets',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      console.log(usage);
      return sub === undefined ? 2 : 0;
    }
    const cmd = subcommands.find((c) => c.name === sub);
    if (!cmd) throw new UsageError(`unknown subcommand '${sub}'${didYouMean(sub, subcommands.map((c) => c.name))}\n\n${usage}`);
    return cmd.run(rest);
  },
};
