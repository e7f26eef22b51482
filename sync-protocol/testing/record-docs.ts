/**
 * The generated parts of docs/sync-protocol.md: the record's wire tables (§6) and the ring
 * slot layout (§11), each between its markers, from the field tables (record-fields.ts).
 * record-fields.test.ts checks the document; `node dist/sync-protocol/testing/record-docs.js
 * --write` rewrites it after a change to the tables.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordFieldsMarkdown, slotLayoutMarkdown } from '../record-fields.js';

export const DOC_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/sync-protocol.md');

const SECTIONS: readonly { marker: string; text: () => string }[] = [
  { marker: 'record-fields', text: recordFieldsMarkdown },
  { marker: 'ring-slot', text: slotLayoutMarkdown },
];

/** `doc` with every generated section replaced by what the tables give now. */
export function withGeneratedSections(doc: string): string {
  let out = doc;
  for (const s of SECTIONS) {
    const begin = `<!-- ${s.marker}: generated from sync-protocol/record-fields.ts -->\n`;
    const end = `\n<!-- /${s.marker} -->`;
    const a = out.indexOf(begin);
    const b = out.indexOf(end, a);
    if (a < 0 || b < 0) throw new Error(`${DOC_PATH}: no ${s.marker} section`);
    out = out.slice(0, a + begin.length) + s.text() + out.slice(b);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--write')) {
  writeFileSync(DOC_PATH, withGeneratedSections(readFileSync(DOC_PATH, 'utf8')));
}
