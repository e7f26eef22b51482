/**
 * The lab commands (`hafw lab`, `hafw demo`, `hafw drill` against the lab) live with the lab
 * in cluster-tests/, which a source checkout has and the container image does not. The
 * shipped code never imports it: this loads it by path when one of those commands runs,
 * and says so plainly where it is missing.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from './args.js';
import type { DrillMode } from '../../failover/index.js';

export interface LabDrillOptions {
  mode: DrillMode;
  flows: number;
  durationMs: number;
  json: boolean;
  /**
   * A drill across the lab's nodes (cluster-tests/drill-scenario.ts) instead of the pair's:
   * `kill` a named node, `kill-next` (the master, then the next), `partition` (one node cut
   * off and healed). Absent: the classic drill of `mode` on the master.
   */
  scenario?: { name: 'kill' | 'kill-next' | 'partition'; node?: string; nodes?: 2 | 3 };
}

/** What cluster-tests/cli/index.ts gives the CLI. */
export interface LabCommands {
  lab: Command;
  demo: Command;
  /** The drill against the lab; resolves with the exit code. */
  drill(opts: LabDrillOptions): Promise<number>;
}

/** Beside node/ in the compiled tree (dist/ or HAFW_DIST), as in the source tree. */
const LAB_MODULE = new URL('../../cluster-tests/cli/index.js', import.meta.url);

export async function loadLab(command: string, module: URL = LAB_MODULE, hint = ''): Promise<LabCommands> {
  if (!existsSync(fileURLToPath(module))) {
    throw new Error(`the lab is not part of this installation (${fileURLToPath(module)} is missing); \`hafw ${command}\` runs from a source checkout: see docs/lab.md${hint}`);
  }
  return ((await import(module.href)) as { labCommands: LabCommands }).labCommands;
}
