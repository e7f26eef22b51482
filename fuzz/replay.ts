/**
 * `node dist/fuzz/replay.js FILE [--target NAME]`: runs one saved input through its target
 * (the folder it is in names the target) in this process, and prints the outcome and, for a
 * crash, the whole stack: the starting point for a fix.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { targetNamed } from './targets/index.js';
import { execute } from './execute.js';

const argv = process.argv.slice(2);
const file = argv.find((a) => !a.startsWith('--'));
const ti = argv.indexOf('--target');
if (!file) {
  console.error('usage: node dist/fuzz/replay.js FILE [--target NAME]');
  process.exit(2);
}
const target = targetNamed(ti >= 0 ? argv[ti + 1]! : path.basename(path.dirname(path.resolve(file))));
const runner = await target.setup();
const t0 = performance.now();
const out = await execute(runner, new Uint8Array(readFileSync(file)));
const ms = (performance.now() - t0).toFixed(1);
if (out.crash) {
  console.log(`${target.name}: CRASH after ${ms} ms: ${out.signature}\n${out.error.stack ?? `${out.error.name}: ${out.error.message}`}`);
  process.exitCode = 1;
} else console.log(`${target.name}: ${out.label} (${ms} ms)`);
await runner.close?.();
