/**
 * The `hafw` command. Every subcommand has --help; exit codes: 0 ok, 1 failure,
 * 2 usage error.
 */
import { UsageError, type Command } from './args.js';
import { statusCommand } from './status.js';
import { nodeCommand } from './node-cmd.js';
import { labCommand } from './lab-cmd.js';
import { demoCommand } from './demo-cmd.js';
import { metricsCommand } from './metrics-cmd.js';
import { drillCommand } from './drill-cmd.js';
import { rulesetCommand } from './ruleset-cmd.js';
import { schemaCommand } from './schema-cmd.js';
import { monitorCommand } from './monitor-cmd.js';
import { ctCommand } from './ct-cmd.js';
import { syncCommand } from './sync-cmd.js';
import { replayCommand } from './replay-cmd.js';

const commands: Command[] = [nodeCommand, statusCommand, metricsCommand, rulesetCommand, schemaCommand, monitorCommand, ctCommand, syncCommand, replayCommand, labCommand, drillCommand, demoCommand];

function topUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: hafw <command> [options]',
    '',
    'High-availability firewall node and tools.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'hafw <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(topUsage());
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`hafw: unknown command '${name}'\n\n${topUsage()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`hafw ${name}: ${err.message}`);
      return 2;
    }
    console.error(`hafw ${name}: ${(err as Error).message}`);
    return 1;
  }
}
