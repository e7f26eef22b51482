/**
 * `hafw ct import [FILE|-]`: loads a kernel conntrack dump (`conntrack -L -o extended`, or
 * `-o xml`) into the node, for moving a running firewall to hafw without dropping its
 * connections (docs/migrating.md).
 *
 * The whole file is checked here first, with the parser the node uses, so a bad line is
 * reported with FILE:LINE before anything is sent and nothing is imported (unless
 * --skip-bad). Then the text goes to the node in parts that fit one request
 * (POST /v1/ct/import, which checks each part again: the node trusts no client).
 */
import { open } from 'node:fs/promises';
import { controlRequest } from '../api/index.js';
import type { Target } from '../api/client.js';
import { parseConntrackDump, type CtImportProblem, type CtImportResult } from '../conntrack/index.js';
import { printJson, n } from './args.js';
import { fileError } from './file-errors.js';

/** Largest dump read (a full 1M-entry table prints about 250 MB). */
export const MAX_DUMP_BYTES = 512 * 1024 * 1024;
/** One request's part: well inside the node's caps (IMPORT_MAX_CHARS, IMPORT_MAX_ENTRIES). */
const PART_CHARS = 512 * 1024;
const PART_LINES = 2500;
/** Bad lines printed (the count is complete). */
const MAX_PRINTED = 20;

export interface ImportSummary extends CtImportResult {
  format: 'extended' | 'xml';
  skipped: number;
  errors: CtImportProblem[];
}

async function readBounded(file: string): Promise<{ text: string; name: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const tooBig = (name: string): Error => new Error(`${name}: larger than ${MAX_DUMP_BYTES / 1024 / 1024} MiB: split the dump (conntrack -L -p tcp, -p udp, ...) and import the parts`);
  if (file === '-') {
    for await (const c of process.stdin) {
      size += (c as Buffer).length;
      if (size > MAX_DUMP_BYTES) throw tooBig('<stdin>');
      chunks.push(c as Buffer);
    }
    return { text: Buffer.concat(chunks).toString('utf8'), name: '<stdin>' };
  }
  let fh;
  try {
    fh = await open(file, 'r');
    const st = await fh.stat();
    if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (st.size > MAX_DUMP_BYTES) throw tooBig(file);
    return { text: await fh.readFile('utf8'), name: file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw fileError(file, err);
    throw err;
  } finally {
    await fh?.close();
  }
}

/** The text cut at line ends into parts of at most PART_CHARS characters and PART_LINES lines, each with its first line's number. */
export function splitDump(text: string): { text: string; firstLine: number }[] {
  const lines = text.split('\n');
  const parts: { text: string; firstLine: number }[] = [];
  let start = 0;
  let chars = 0;
  for (let i = 0; i < lines.length; i++) {
    const len = lines[i]!.length + 1;
    if (i > start && (chars + len > PART_CHARS || i - start >= PART_LINES)) {
      parts.push({ text: lines.slice(start, i).join('\n'), firstLine: start + 1 });
      start = i;
      chars = 0;
    }
    chars += len;
  }
  if (start < lines.length) parts.push({ text: lines.slice(start).join('\n'), firstLine: start + 1 });
  return parts.filter((p) => p.text.trim() !== '');
}

export async function runCtImport(file: string, skipBad: boolean, json: boolean, node: Target): Promise<number> {
  const { text, name } = await readBounded(file);
  const checked = parseConntrackDump(text);
  if (checked.errors.length > 0 && !skipBad) {
    if (json) printJson({ ok: false, error: `${checked.errors.length} bad line(s), nothing imported`, errors: checked.errors.slice(0, 100) });
    for (const e of checked.errors.slice(0, MAX_PRINTED)) console.error(`${name}:${e.line}: ${e.message}`);
    if (checked.errors.length > MAX_PRINTED) console.error(`... and ${checked.errors.length - MAX_PRINTED} more`);
    console.error(`hafw ct import: ${checked.errors.length} bad line(s) in ${name}, nothing imported (--skip-bad imports the other ${checked.entries.length})`);
    return 1;
  }
  const sum: ImportSummary = { format: checked.format, imported: 0, existing: 0, refused: 0, nat: 0, skipped: 0, existingLines: [], refusedLines: [], errors: [] };
  // An XML dump's header and footer lines are not flows: each part is read as XML by its first '<'.
  for (const part of splitDump(text)) {
    const r = await controlRequest<ImportSummary>('POST', '/v1/ct/import', { ...node, body: { text: part.text, skipBad, firstLine: part.firstLine } });
    sum.imported += r.imported;
    sum.existing += r.existing;
    sum.refused += r.refused;
    sum.nat += r.nat;
    sum.skipped += r.skipped;
    sum.existingLines.push(...r.existingLines.slice(0, 100 - sum.existingLines.length));
    sum.refusedLines.push(...r.refusedLines.slice(0, 100 - sum.refusedLines.length));
    sum.errors.push(...r.errors.slice(0, 100 - sum.errors.length));
  }
  if (json) printJson(sum);
  else {
    for (const e of sum.errors.slice(0, MAX_PRINTED)) console.error(`${name}:${e.line}: ${e.message} (skipped)`);
    if (sum.refused > 0) console.error(`hafw ct import: ${n(sum.refused)} refused, the table is full (lines ${sum.refusedLines.slice(0, 10).join(', ')}${sum.refused > 10 ? ', ...' : ''}): raise conntrack.maxEntries`);
    console.log(`hafw ct: ${n(sum.imported)} flow entries have been imported (${n(sum.nat)} with NAT), ${n(sum.existing)} were there already, ${n(sum.skipped)} bad lines skipped, ${n(sum.refused)} refused.`);
  }
  return sum.refused > 0 ? 1 : 0;
}
