/**
 * The command helper (command-runner.ts): runs each requested command and answers with its
 * exit code and output. It exits with its parent (the IPC channel closes).
 */
import { runDirect } from './command-runner.js';

process.on('message', (m: { id: number; file: string; args: string[]; input?: string }) => {
  void runDirect(m.file, m.args, m.input).then((r) => process.send?.({ id: m.id, ...r }));
});
process.on('disconnect', () => process.exit(0));
