/**
 * The `hafw` command. Every subcommand has --help; exit codes: 0 ok, 1 failure,
 * 2 usage error. A command's module is loaded only when it runs, so `hafw ruleset check`
 * in a script does not pay for the node's HTTP server, logger and lab code.
 */
import { UsageError, type Command } from './args.js';
import { exitQuietlyOnClosedOutput } from './closed-output.js';
import { didYouMean } from './suggest.js';

export interface Entry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const commands: Entry[] = [
  { name: 'node', summary: 'run a firewall node (daemon) in the foreground', load: async () => (await import('./node-cmd.js')).nodeCommand },
  { name: 'status', summary: 'role, uptime and packet counters of the node in this namespace', load: async () => (await import('./status.js')).statusCommand },
  { name: 'metrics', summary: "print the node's Prometheus metrics", load: async () => (await import('./metrics-cmd.js')).metricsCommand },
  { name: 'ruleset', summary: 'check, convert, show and change rulesets', load: async () => (await import('./ruleset-cmd.js')).rulesetCommand },
  { name: 'schema', summary: 'describe the matches, statements and types of the rule language', load: async () => (await import('./schema-cmd.js')).schemaCommand },
  { name: 'monitor', summary: 'print node events: ruleset changes (like nft monitor), VRRP, sync alarms, drills', load: async () => (await import('./monitor-cmd.js')).monitorCommand },
  { name: 'ct', summary: 'connection table: list, get, delete, flush, count, events, import', load: async () => (await import('./ct-cmd.js')).ctCommand },
  { name: 'trace', summary: 'follow packet traces: each chain and rule a packet goes through and its verdict (like nft monitor trace)', load: async () => (await import('./trace-cmd.js')).traceCommand },
  { name: 'sync', summary: 'state sync statistics (in sync, lag, retransmits, ...)', load: async () => (await import('./sync-cmd.js')).syncCommand },
  { name: 'import', summary: 'write a node config from keepalived.conf or conntrackd.conf', load: async () => (await import('./import-cmd.js')).importCommand },
  { name: 'replay', summary: 'run a capture through a fresh filter and conntrack offline', load: async () => (await import('./replay-cmd.js')).replayCommand },
  { name: 'lab', summary: 'build, inspect or remove the network-namespace lab', load: async () => (await (await import('./lab-loader.js')).loadLab('lab')).lab },
  { name: 'drill', summary: 'fail the master on purpose and measure the takeover (lab)', load: async () => (await import('./drill-cmd.js')).drillCommand },
  { name: 'completion', summary: 'print the bash completion script (generated from these commands)', load: async () => (await import('./completion.js')).completionCommand },
  { name: 'version', summary: 'print the version, build commit and Node.js version', load: async () => (await import('./version-cmd.js')).versionCommand },
  { name: 'demo', summary: 'build the lab pair, drive traffic, run a failover drill, report, tear down', load: async () => (await (await import('./lab-loader.js')).loadLab('demo')).demo },
];

function topUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: hafw <command> [options]',
    '       hafw --version',
    '',
    'High-availability firewall node and tools.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'hafw <command> --help' for a command's options. Exit codes: 0 ok, 1 failure, 2 usage",
    'error. A command run with --json that fails prints {"ok": false, "error": MESSAGE}.',
  ].join('\n');
}

/** A command run with its first `skip` arguments (the subcommand words) removed. */
function withArgs(cmd: Command, skip: number): Command {
  return { ...cmd, run: (args) => cmd.run(args.slice(skip)) };
}

/**
 * A one-shot command that ends the process as soon as its answer is written, instead of
 * returning to let Node tear down a heap holding a whole compiled ruleset (about 5 ms
 * for 11,000 rules). Only when nothing is left to flush (stdout and stderr to files and
 * pipes are synchronous on Linux; otherwise it returns and Node exits normally).
 */
function exitWhenDone(cmd: Command): Command {
  return {
    ...cmd,
    run: async (args) => {
      const code = await cmd.run(args);
      if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit(code);
      return code;
    },
  };
}

/**
 * The timed `ruleset` subcommands load their own module alone, not the ruleset dispatcher
 * (ruleset-cmd.ts), whose other subcommands pull in the whole rule engine, the diff
 * library and the printers (about 0.4 s of a cold start here): `check` is compared with
 * `nft -f`, `apply` is the first step of every scripted change (ruleset-apply-10k,
 * ruleset-add-1 in docs/performance.md) and needs only the API client.
 */
const directRulesetSubcommands = new Map<string, () => Promise<Command>>([
  ['check', async () => (await import('./ruleset-check.js')).rulesetCheckCommand],
  ['apply', async () => (await import('./ruleset-apply.js')).rulesetApplyCommand],
]);

export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnClosedOutput();
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topUsage());
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    console.log((await import('../build-info.js')).versionLine());
    return 0;
  }
  const direct = name === 'ruleset' ? directRulesetSubcommands.get(rest[0] ?? '') : undefined;
  const entry: Entry | undefined = direct
    ? { name, summary: '', load: async () => exitWhenDone(withArgs(await direct(), 1)) }
    : commands.find((c) => c.name === name);
  if (!entry) {
    const hint = didYouMean(name, [...commands.map((c) => c.name), 'help']);
    console.error(`hafw: unknown command '${name}'${hint}\n\n${topUsage()}`);
    return 2;
  }
  try {
    return await (await entry.load()).run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`hafw ${name}: ${err.message}`);
      return 2;
    }
    // A script that asked for --json gets JSON for a failure too (a missing file, no node
    // running), on stdout where it reads the answer; the message also goes to stderr.
    if (rest.includes('--json')) process.stdout.write(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`);
    console.error(`hafw ${name}: ${(err as Error).message}`);
    return 1;
  }
}
