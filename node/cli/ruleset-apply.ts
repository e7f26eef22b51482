/**
 * `hafw ruleset apply`: one transaction on the running node, all or nothing, optionally
 * based on a generation (refused if the ruleset changed since, so two operators cannot
 * overwrite each other's work unknowingly).
 */
import { controlRequest, ControlError } from '../api/client.js';
import { parse, printJson, UsageError, type Command } from './args.js';
import type { Target } from '../api/client.js';
import { TARGET_HELP, TARGET_OPTIONS, targetFrom } from './node-target.js';
import { RulesetError } from '../ruleset/errors.js';
import { isObjectCommandLine } from '../ruleset/object-commands.js';
import { INCLUDE_OPTION, INCLUDE_USAGE, readRulesetInput } from './ruleset-input.js';

const usage = `usage: hafw ruleset apply [--base-generation N] [--json] [--socket PATH | --url URL] (-f FILE | COMMAND...)
       hafw ruleset apply --replace [--json] [--socket PATH | --url URL] -f FILE

Applies one transaction to the node in this network namespace: nft commands (one a line,
e.g. 'add rule inet filter forward tcp dport 22 accept', 'delete rule inet filter forward
handle 7', 'add element inet filter blocked { 192.0.2.9 }') or libnftables JSON commands.
Either every command takes effect or none does; errors print as <api>:LINE:COL: message
and exit 1. Prints the new generation (and the cluster version it became). In a cluster
only the writer (the VRRP master) accepts changes: elsewhere exit 1, naming the master.

nft's commands on named objects' values run on the node's live values and print what nft
prints; they are not ruleset changes (no generation, nothing sent to the cluster) and go
alone, without ruleset changes in the same text:
  list counters|quotas|limits [FAMILY | table [FAMILY] TABLE]
  list counter|quota|limit [FAMILY] TABLE NAME
  reset counters|quotas [FAMILY | table [FAMILY] TABLE]   (prints the values, then zeroes them)
  reset counter|quota [FAMILY] TABLE NAME
  list meters [FAMILY], list meter [FAMILY] TABLE NAME
  -f FILE                 read the commands from FILE ('-' for standard input)
  --replace               FILE is a whole ruleset: replace the running one atomically
  --base-generation N     refuse (exit 1, HTTP 409) if the ruleset is no longer at generation N
  --json                  print the result object {generation, changes, ms}
${TARGET_HELP}
${INCLUDE_USAGE}
The includes of FILE are expanded here, and the node gets the whole text (it never reads
the files itself); errors in it are then reported at the expanded text's lines.`;

interface TxResult {
  generation: number;
  changes: unknown[];
  ms: number;
  version?: number;
  warnings?: string[];
}

/** The node's warnings about the ruleset it now runs (effect, lock-out), on stderr. */
function printWarnings(w: string[] | undefined): void {
  for (const line of w ?? []) console.error(`warning: ${line}`);
}

export const rulesetApplyCommand: Command = {
  name: 'apply',
  summary: 'apply a transaction to the running ruleset',
  usage,
  async run(args) {
    const { values, positionals } = parse(
      args,
      { file: { type: 'string', short: 'f' }, 'base-generation': { type: 'string' }, replace: { type: 'boolean' }, json: { type: 'boolean' }, ...TARGET_OPTIONS, ...INCLUDE_OPTION },
      usage,
    );
    if (values.help) return void console.log(usage), 0;
    const target = await targetFrom(values, usage);
    if ((values.file === undefined) === (positionals.length === 0)) throw new UsageError(`give either -f FILE or the commands\n\n${usage}`);
    let base: number | undefined;
    if (values['base-generation'] !== undefined) {
      base = Number(values['base-generation']);
      if (!Number.isInteger(base) || base < 0) throw new UsageError(`--base-generation must be a generation number\n\n${usage}`);
    }
    if (values.replace && (values.file === undefined || base !== undefined)) throw new UsageError(`--replace takes -f FILE (and no --base-generation)\n\n${usage}`);
    let text: string;
    try {
      text = values.file !== undefined ? (await readRulesetInput(values.file, values.includepath)).text : positionals.join(' ');
    } catch (err) {
      if (!(err instanceof RulesetError)) throw err;
      console.error(err.message);
      return 1;
    }
    if (values.replace) return replaceAll(text, target, values.json === true);
    const trimmed = text.trimStart();
    if (!trimmed.startsWith('[') && !trimmed.startsWith('{')) {
      const lines = text.split('\n').map((l, i) => ({ l: l.replace(/#.*$/, '').trim(), n: i + 1 })).filter((x) => x.l !== '');
      const objs = lines.filter((x) => isObjectCommandLine(x.l));
      if (objs.length > 0) {
        if (objs.length < lines.length) {
          console.error(`<command>:${objs[0]!.n}:1: '${objs[0]!.l}' goes alone: list/reset commands are not ruleset changes; apply the changes and the ${objs[0]!.l.split(/\s+/)[0]} separately`);
          return 1;
        }
        if (base !== undefined) throw new UsageError(`--base-generation is for ruleset changes, not list/reset commands\n\n${usage}`);
        return objectCommand(text, target);
      }
    }
    let ops: unknown = text;
    if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
      try {
        ops = JSON.parse(text);
      } catch (err) {
        throw new Error(`commands look like JSON but do not parse: ${(err as Error).message}`);
      }
    }
    try {
      const r = await controlRequest<TxResult>('POST', '/v1/ruleset/transactions', { ...target, body: { ops, ...(base !== undefined ? { baseGeneration: base } : {}) } });
      if (values.json) printJson(r);
      else console.log(`ok: ${r.changes.length} change${r.changes.length === 1 ? '' : 's'}, generation ${r.generation}${r.version !== undefined ? `, version ${r.version}` : ''} (${Math.round(r.ms * 100) / 100} ms)`);
      if (!values.json) printWarnings(r.warnings);
      return 0;
    } catch (err) {
      if (err instanceof ControlError && (err.status === 400 || err.status === 409)) {
        // The server's message is the positioned error list; drop the "POST /path: 400" prefix.
        console.error(err.message.replace(/^POST \S+: \d+ /, ''));
        return 1;
      }
      throw err;
    }
  },
};

/** POST /v1/ruleset/objects: nft's list/reset counters output, on stdout. */
export async function objectCommand(text: string, target: Target, json = false): Promise<number> {
  try {
    if (json) printJson(await controlRequest<unknown>('POST', '/v1/ruleset/objects', { ...target, body: { command: text, json: true } }));
    else process.stdout.write(await controlRequest<string>('POST', '/v1/ruleset/objects', { ...target, body: { command: text } }));
    return 0;
  } catch (err) {
    if (err instanceof ControlError && err.status === 400) {
      console.error(err.message.replace(/^POST \S+: \d+ /, ''));
      return 1;
    }
    throw err;
  }
}

/** PUT /v1/ruleset: the whole text, all or nothing. */
async function replaceAll(text: string, target: Target, json: boolean): Promise<number> {
  try {
    const r = await controlRequest<{ generation: number; version?: number; warnings?: string[] }>('PUT', '/v1/ruleset', { ...target, body: { text } });
    if (json) printJson(r);
    else {
      console.log(`ok: ruleset replaced, generation ${r.generation}${r.version !== undefined ? `, version ${r.version}` : ''}`);
      printWarnings(r.warnings);
    }
    return 0;
  } catch (err) {
    if (err instanceof ControlError && (err.status === 400 || err.status === 409)) {
      console.error(err.message.replace(/^PUT \S+: \d+ /, ''));
      return 1;
    }
    throw err;
  }
}
