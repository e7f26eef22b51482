/** Reads a ruleset file for the offline commands: a path, or `-` for standard input. */
import { readFile } from 'node:fs/promises';

export async function readRulesetInput(file: string): Promise<{ text: string; name: string }> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return { text: Buffer.concat(chunks).toString('utf8'), name: '<stdin>' };
  }
  try {
    return { text: await readFile(file, 'utf8'), name: file };
  } catch (err) {
    throw new Error(`${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}
