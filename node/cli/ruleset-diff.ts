/**
 * `hafw ruleset diff`: a unified diff between the running ruleset and a file, or between
 * two cluster versions. Both sides are compared in canonical form (parsed and printed
 * again, without handles, counters or element expiry, set elements sorted), so layout,
 * comments and counter values make no difference; only rules do.
 */
import { createTwoFilesPatch } from 'diff';
import { controlRequest, ControlError } from '../api/client.js';
import { RulesetEngine } from '../ruleset/index.js';
import { Printer } from '../ruleset/printer.js';
import { canonicalize } from '../../ruleset-dist/index.js';
import { parse, printJson, UsageError, type Command } from './args.js';
import type { Target } from '../api/client.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import { readRulesetInput } from './ruleset-input.js';

const usage = `usage: hafw ruleset diff [--json] [--socket PATH | --url URL] (FILE | --from V [--to W])

Shows what differs, as a unified diff (like 'diff -u'), between
  FILE                 the running ruleset (old) and FILE (new): what applying FILE would change
  --from V             cluster version V (old) and the running ruleset (new)
  --from V --to W      cluster versions V and W ('hafw ruleset history' lists them)
Rules are compared in canonical form: formatting, comments, handles and counters do not count.
Exit status: 0 no difference, 1 differences, 2 trouble (bad file, unknown version, no node).
  --json          print {equal, old, new, patch}
${TARGET_HELP}`;

/** Parses `text` offline and prints it the way the cluster hashes it. */
function canonicalRuleset(text: string, name: string): string {
  const engine = new RulesetEngine();
  // Counter values printed by a running node would otherwise count as differences.
  engine.load(text.replace(/\bcounter packets \d+ bytes \d+/g, 'counter'), name);
  return canonicalize(new Printer(engine.registry).ruleset(engine.ruleset, {}));
}

async function versionText(v: number, target: Target): Promise<string> {
  try {
    return (await controlRequest<{ text: string }>('GET', `/v1/ruleset/versions/${v}`, target)).text;
  } catch (err) {
    if (err instanceof ControlError && err.status === 404) throw new Error(`version ${v}: ${err.message.replace(/^GET \S+: \d+ /, '')}`);
    throw err;
  }
}

function versionArg(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < 0) throw new UsageError(`${flag} must be a version number\n\n${usage}`);
  return v;
}

export const rulesetDiffCommand: Command = {
  name: 'diff',
  summary: 'unified diff: running ruleset vs a file, or two versions',
  usage,
  async run(args) {
    const { values, positionals } = parse(args, { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean' }, ...TARGET_OPTIONS }, usage);
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    const from = versionArg(values.from, '--from');
    const to = versionArg(values.to, '--to');
    if (to !== undefined && from === undefined) throw new UsageError(`--to needs --from\n\n${usage}`);
    if ((from === undefined) === (positionals.length === 0) || positionals.length > 1) throw new UsageError(`give either one FILE or --from V\n\n${usage}`);
    const running = async (): Promise<string> => canonicalRuleset(await controlRequest<string>('GET', '/v1/ruleset?format=nft', target), '<running>');
    let oldName: string;
    let newName: string;
    let oldText: string;
    let newText: string;
    try {
      if (from === undefined) {
        const file = await readRulesetInput(positionals[0]!);
        oldName = 'running';
        oldText = await running();
        newName = file.name;
        newText = canonicalRuleset(file.text, file.name);
      } else {
        oldName = `version ${from}`;
        oldText = canonicalRuleset(await versionText(from, target), oldName);
        newName = to === undefined ? 'running' : `version ${to}`;
        newText = to === undefined ? await running() : canonicalRuleset(await versionText(to, target), newName);
      }
    } catch (err) {
      if (err instanceof ControlError) throw err;
      console.error((err as Error).message);
      return 2;
    }
    const equal = oldText === newText;
    // jsdiff starts with a line of '=' that 'diff -u' does not print.
    const patch = equal ? '' : createTwoFilesPatch(oldName, newName, oldText, newText, undefined, undefined, { context: 3 }).replace(/^=+\n/, '');
    if (values.json) printJson({ equal, old: oldName, new: newName, patch });
    else if (!equal) process.stdout.write(patch);
    return equal ? 0 : 1;
  },
};
