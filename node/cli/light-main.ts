/**
 * Fast entry of the `hafw` launcher. The ruleset tools are often run in scripts and CI
 * (`hafw ruleset check` on every commit), so they must not pay for loading the node's
 * HTTP server, logger and lab code that main.ts pulls in (about 200 ms): those commands
 * are dispatched here with only the rule engine loaded; everything else goes to main.ts.
 * Usage errors and exit codes are the same as main.ts's (0 ok, 1 failure, 2 usage).
 */
import { UsageError, type Command } from './args.js';
import { rulesetCommand } from './ruleset-cmd.js';
import { schemaCommand } from './schema-cmd.js';
import { monitorCommand } from './monitor-cmd.js';

const light: Command[] = [rulesetCommand, schemaCommand, monitorCommand];

export async function main(argv: string[]): Promise<number> {
  const cmd = light.find((c) => c.name === argv[0]);
  if (!cmd) return (await import('./main.js')).main(argv);
  try {
    return await cmd.run(argv.slice(1));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`hafw ${cmd.name}: ${err.message}`);
      return 2;
    }
    console.error(`hafw ${cmd.name}: ${(err as Error).message}`);
    return 1;
  }
}
