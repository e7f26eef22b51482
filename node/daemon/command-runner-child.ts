/**
 * The command helper (command-runner.ts): runs each requested command and answers with its
 * exit code and output. It exits with its parent (the IPC channel closes).
 */
import { runDirect, runHookHere, type HelperRequest } from './command-runner.js';

process.on('message', (m: HelperRequest) => {
  if ('hook' in m) {
    void runHookHere(m.hook).then((r) => process.send?.({ id: m.id, ...r }));
    return;
  }
  void runDirect(m.file, m.args, m.input).then((r) => process.send?.({ id: m.id, ...r }));
});
process.on('disconnect', () => process.exit(0));
