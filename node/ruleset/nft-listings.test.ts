/**
 * docs/migrating.md's claim, held: what Debian's nft 1.0.6 lists (`nft list ruleset` and
 * `nft -j list ruleset`, stored unchanged under testdata/nft-1.0.6/) loads into hafw, and
 * hafw lists back the same ruleset.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RulesetEngine } from './engine.js';

// Tests run from dist/node/ruleset; the listings stay in the source tree.
const DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node/ruleset/testdata/nft-1.0.6');
const NAMES = readdirSync(DIR).filter((f) => f.endsWith('.list.nft')).map((f) => f.slice(0, -'.list.nft'.length));

/**
 * The layout differences hafw's printer does not (yet) share with nft: nft wraps long
 * element lists and ends the listing without a blank line. Meaning is untouched.
 */
function layout(text: string): string {
  return text.replace(/,\n\t+ +/g, ', ').trimEnd();
}

/** The set and map declarations of a text listing, in order. */
function setBlocks(text: string): string[] {
  return layout(text).match(/^\t(?:set|map) \S+ \{\n[\s\S]*?\n\t\}$/gm) ?? [];
}

/** The set and map objects of a JSON listing, without the handles nft and hafw number apart. */
function jsonSets(json: unknown): unknown[] {
  const items = (json as { nftables: Record<string, Record<string, unknown>>[] }).nftables;
  return items
    .filter((o) => 'set' in o || 'map' in o)
    .map((o) => {
      const [kind, body] = Object.entries(o)[0]!;
      const { handle: _h, ...rest } = body;
      return { [kind]: rest };
    });
}

const ruleCount = (text: string) => text.split('\n').filter((l) => /^\t\t(?!type |typeof |l3proto |policy |size |flags |auto-merge|timeout |comment |elements |\s)/.test(l)).length;

describe('nft 1.0.6 listings load unchanged', () => {
  it('has listings to load', () => assert.ok(NAMES.length >= 3, NAMES.join(',')));

  for (const name of NAMES) {
    it(`${name}: nft list ruleset loads, with every rule, and its sets list back as nft listed them`, () => {
      const file = path.join(DIR, `${name}.list.nft`);
      const text = readFileSync(file, 'utf8');
      const e = new RulesetEngine();
      e.load(text, file);
      const listed = e.list();
      assert.ok(setBlocks(text).length > 0);
      assert.deepEqual(setBlocks(listed), setBlocks(text));
      assert.equal(e.counts().rules, ruleCount(text));
    });

    it(`${name}: nft -j list ruleset loads, with every rule, and its sets list back as nft listed them`, () => {
      const file = path.join(DIR, `${name}.list.json`);
      const json = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      const e = new RulesetEngine();
      e.load(readFileSync(file, 'utf8'), file);
      assert.deepEqual(jsonSets(e.toJSON()), jsonSets(json));
      assert.equal(e.counts().rules, ruleCount(readFileSync(path.join(DIR, `${name}.list.nft`), 'utf8')));
    });
  }
});
