/** iproute2 (`ip`), run through the command helper (daemon/command-runner.ts), with clear errors. */
import { runCommand } from '../../daemon/command-runner.js';

/** Stdout of `ip ARGS`; throws naming the command and the kernel's message when it fails. */
export async function ipOutput(args: string[]): Promise<string> {
  const r = await runCommand('ip', args);
  if (r.error === 'ENOENT') throw new Error('the `ip` command (iproute2) is not installed: apt-get install iproute2');
  if (r.error !== undefined) throw new Error(`ip ${args.join(' ')}: ${r.error}`);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || `exit code ${r.code}`).trim()}`);
  return r.stdout;
}
