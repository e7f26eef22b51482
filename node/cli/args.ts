/** Small helpers shared by the CLI commands: parsing with clear errors, help, output. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from './suggest.js';

export class UsageError extends Error {}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export function parse<O extends Options>(args: string[], options: O, usage: string) {
  const all = { ...options, help: { type: 'boolean', short: 'h' } } as const;
  try {
    return parseArgs({ args, options: all, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    // node:util says "Unknown option '--jsno'. To specify a positional argument ...": keep
    // the first sentence and name the option meant.
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(-{1,2}[^']+)'/.exec(e.message)?.[1] : undefined;
    if (unknown) {
      const known = Object.entries(all).flatMap(([name, o]) => [`--${name}`, ...('short' in o && o.short ? [`-${o.short}`] : [])]);
      const hint = didYouMean(unknown.split('=')[0]!, unknown.startsWith('--') ? known.filter((k) => k.startsWith('--')) : known);
      throw new UsageError(`unknown option '${unknown}'${hint}\n\n${usage}`);
    }
    throw new UsageError(`${e.message}\n\n${usage}`);
  }
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/** Formats a count with thin grouping so big counters stay readable. */
export function n(v: number | undefined): string {
  return (v ?? 0).toLocaleString('en-US');
}

export function bytes(v: number | undefined): string {
  const x = v ?? 0;
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} GB`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} MB`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} kB`;
  return `${x} B`;
}
