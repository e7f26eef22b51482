/**
 * `hafw ruleset check FILE [--json]`: parse, validate and compile a ruleset offline, the
 * same pipeline the node runs before a ruleset goes live, and report counts and time (or
 * every error with its file:line:col). Nothing running is touched.
 */
import { checkRuleset } from '../ruleset/check.js';
import { parse, UsageError, type Command } from './args.js';
import { readRulesetInput } from './ruleset-input.js';

const usage = `usage: hafw ruleset check FILE [--json]

Parses, validates and compiles FILE (nft syntax or libnftables JSON; '-' reads standard
input) exactly as a node would before loading it. Prints the counts and the time taken,
or every error as FILE:LINE:COL: message. Exit code 0 when the ruleset is valid, 1 when
it is not.
  --json   one object: {"ok","tables","chains","rules","sets","ms","errors":[{"line","col","message"}]}`;

export const rulesetCheckCommand: Command = {
  name: 'check',
  summary: 'parse, validate and compile a ruleset file offline',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { json: { type: 'boolean' } }, usage);
    if (values.help) return void console.log(usage), 0;
    if (positionals.length !== 1) throw new UsageError(`expected one FILE\n\n${usage}`);
    const { text, name } = await readRulesetInput(positionals[0]!);
    const r = checkRuleset(text, name);
    const ms = Math.round(r.ms * 10) / 10;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ok: r.ok, tables: r.tables, chains: r.chains, rules: r.rules, sets: r.sets, ms, errors: r.errors })}\n`);
    } else if (r.ok) {
      console.log(`${name}: ok: ${r.tables} tables, ${r.chains} chains, ${r.rules} rules, ${r.sets} sets (${ms} ms)`);
    } else {
      for (const e of r.errors) console.error(`${name}:${e.line}:${e.col}: ${e.message}`);
      console.error(`${name}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}; the ruleset would not load`);
    }
    return r.ok ? 0 : 1;
  },
};
