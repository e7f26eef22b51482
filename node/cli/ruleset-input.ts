/**
 * Reads a ruleset file for the ruleset commands: a path, or `-` for standard input. Its
 * `include`s are expanded here, as nft expands them (includes.ts): the commands work on
 * the flat text, and `sources` maps an error's place back to the included file.
 */
import { readFile } from 'node:fs/promises';
import { expandIncludes, type SourceMap } from '../ruleset/includes.js';
import { DEFAULT_LIMITS } from '../ruleset/limits.js';
import { fileError } from './file-errors.js';

export interface RulesetInput {
  /** The text, includes expanded. */
  text: string;
  name: string;
  /** Where the lines of an expanded text came from (undefined: nothing was included). */
  sources?: SourceMap;
}

/** Throws RulesetError (positioned at the include) for an include that cannot be read. */
export async function readRulesetInput(file: string, includePath?: readonly string[]): Promise<RulesetInput> {
  let text: string;
  let name = file;
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    text = Buffer.concat(chunks).toString('utf8');
    name = '<stdin>';
  } else {
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw fileError(file, err);
    }
  }
  // JSON has no include (libnftables-json(5)); the engine's own size check covers the rest.
  if (text.trimStart().startsWith('{')) return { text, name };
  const x = expandIncludes(text, name, { includePath, maxBytes: DEFAULT_LIMITS.maxBytes });
  return { text: x.text, name, sources: x.sources };
}

/** The `-I DIR` option the file-reading commands share (nft's --includepath). */
export const INCLUDE_OPTION = { includepath: { type: 'string', short: 'I', multiple: true } } as const;
export const INCLUDE_USAGE = `  -I, --includepath DIR  a directory searched for included files (repeatable; default /etc, as nft)`;
