/**
 * nft(8) conformance: every expression and statement of nft(8) 1.0.6
 * (testdata/nft-1.0.6/nft8-constructs.tsv, from the man page's EXPRESSIONS and STATEMENTS
 * sections) has a row in docs/ruleset.md's "nft(8), construct by construct" table saying
 * supported or refused, and its sample rule does what the row says: loads, or is refused
 * with a reason (not a bare "unknown ..."). Prints the count.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RulesetEngine } from './engine.js';
import { RulesetError } from './errors.js';

// Tests run from dist/node/ruleset; the data and the docs stay in the source tree.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DATA = path.join(ROOT, 'node/ruleset/testdata/nft-1.0.6/nft8-constructs.tsv');
const DOCS = path.join(ROOT, 'docs/ruleset.md');
const HEADING = '### nft(8), construct by construct';

interface Construct {
  name: string;
  family: string;
  chain: string;
  rule: string;
  section: string;
}
interface Section {
  name: string;
  synopsis: string;
}

function readConstructs(): { constructs: Construct[]; sections: Section[] } {
  const constructs: Construct[] = [];
  const sections: Section[] = [];
  for (const line of readFileSync(DATA, 'utf8').split('\n')) {
    if (line.startsWith('## ')) {
      const [name, synopsis] = line.slice(3).split('\t');
      sections.push({ name: name!, synopsis: synopsis ?? '' });
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const [name, family, chain, rule] = line.split('\t');
    assert.ok(name && family && chain && rule, `malformed line: ${line}`);
    constructs.push({ name, family, chain, rule, section: sections.at(-1)?.name ?? '' });
  }
  return { constructs, sections };
}

type State = 'supported' | 'refused' | 'not yet';

/**
 * The table's rows: each code span of the first cell names constructs, `a\|b` words
 * standing for alternatives (`ct original\|reply ip\|ip6 saddr` is four).
 */
function readTable(): Map<string, { state: State; notes: string }> {
  const text = readFileSync(DOCS, 'utf8');
  const at = text.indexOf(`\n${HEADING}\n`);
  assert.ok(at >= 0, `docs/ruleset.md has no "${HEADING}" section`);
  const body = text.slice(at + HEADING.length + 2);
  const end = body.search(/\n#{2,3} /);
  const rows = (end < 0 ? body : body.slice(0, end)).split('\n').filter((l) => l.startsWith('| `'));
  const out = new Map<string, { state: State; notes: string }>();
  for (const row of rows) {
    // Cells are split on | not preceded by a backslash.
    const cells = row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const [first, state, notes] = cells as [string, string, string];
    assert.ok(state === 'supported' || state === 'refused' || state === 'not yet', `row state must be supported, refused or not yet: ${row}`);
    for (const span of first.match(/`[^`]+`/g) ?? []) {
      let phrases: string[][] = [[]];
      for (const word of span.slice(1, -1).split(' ')) {
        const alts = word.split('\\|');
        phrases = phrases.flatMap((p) => alts.map((a) => [...p, a]));
      }
      for (const p of phrases) {
        const name = p.join(' ');
        assert.ok(!out.has(name), `two rows name '${name}'`);
        out.set(name, { state, notes });
      }
    }
  }
  return out;
}

function sampleRuleset(c: Construct): string {
  const [type, hook] = c.chain.startsWith('nat:') ? ['nat', c.chain.slice(4)] : ['filter', c.chain];
  return [
    `table ${c.family} t {`,
    ' set dyn { type ipv4_addr; flags dynamic,timeout; }',
    ' map dmap { type ipv4_addr : mark; flags dynamic; }',
    ' counter c { }',
    ' limit l { rate 10/second; }',
    ' ct helper ftph { type "ftp" protocol tcp; }',
    ' flowtable f { hook ingress priority 0; devices = { lan, wan }; }',
    ' chain other { }',
    ` chain c { type ${type} hook ${hook} priority 0;`,
    c.rule,
    ' }',
    '}',
    '',
  ].join('\n');
}

/** The error a bare "don't know" gives: a refusal must say more than this. */
const GENERIC = /unknown (match or statement|field|selector|statement)|expected |syntax error/;

describe('nft(8) conformance: every expression and statement supported or refused with a reason', () => {
  const { constructs, sections } = readConstructs();
  const table = readTable();
  let supported = 0;
  let refused = 0;
  const unknown: string[] = [];

  after(() => console.log(`      nft(8) conformance: ${supported} supported, ${refused} refused with reason, ${unknown.length} unknown${unknown.length ? ` (${unknown.join(', ')})` : ''}`));

  it('the list covers every keyword of the man page\'s synopses', () => {
    assert.ok(constructs.length > 200 && sections.length > 40, `${constructs.length} constructs in ${sections.length} sections`);
    const missing: string[] = [];
    for (const s of sections) {
      const mine = constructs.filter((c) => c.section === s.name);
      // A header refused whole (ether, igmp, ah, ...) is one construct, its bare keyword.
      if (mine.some((c) => !c.name.includes(' ') && s.synopsis.startsWith(`${c.name} `))) continue;
      const words = new Set(mine.flatMap((c) => `${c.name} ${c.rule}`.split(/[^A-Za-z0-9-]+/)));
      for (const group of s.synopsis.match(/\{[^}]*\}/g) ?? []) {
        for (const alt of group.slice(1, -1).split('|')) {
          const w = alt.trim().split(/\s+/)[0]!;
          if (!/^[a-z][a-z0-9-]*$/.test(w)) continue;
          if (!words.has(w)) missing.push(`${s.name}: '${w}' (from ${group})`);
        }
      }
    }
    assert.deepEqual(missing, [], 'keywords of the synopses with no construct');
  });

  for (const c of constructs) {
    it(`${c.name}: ${c.rule}`, () => {
      const row = table.get(c.name);
      if (!row) {
        unknown.push(c.name);
        assert.fail(`docs/ruleset.md's "${HEADING}" table has no row for '${c.name}'`);
      }
      let error: string | undefined;
      try {
        new RulesetEngine().load(sampleRuleset(c), 'x.nft');
      } catch (e) {
        if (!(e instanceof RulesetError)) throw e;
        error = e.message;
      }
      if (row.state === 'supported') {
        if (error !== undefined) unknown.push(c.name);
        assert.equal(error, undefined, `documented as supported, but refused: ${error}`);
        supported++;
        // Supported with per-interface input devices only: a node whose datapath infers the
        // input interface (datapath.inputDevices: shared) refuses it with the reason.
        if (row.notes.includes('datapath.inputDevices: shared')) {
          let shared: string | undefined;
          try {
            new RulesetEngine({ inputInterfaces: 'inferred' }).load(sampleRuleset(c), 'x.nft');
          } catch (e) {
            shared = (e as Error).message;
          }
          assert.match(shared ?? 'accepted', /^x\.nft:10:\d+: .*inputDevices: shared/, 'refused in shared mode, with the reason');
        }
        return;
      }
      if (error === undefined || GENERIC.test(error) || row.notes === '') unknown.push(c.name);
      assert.ok(error !== undefined, `documented as ${row.state}, but it loads`);
      // The place, then a reason (not a bare "unknown"), and the table says why too.
      assert.match(error, /^x\.nft:10:\d+: /);
      assert.doesNotMatch(error, GENERIC);
      assert.notEqual(row.notes, '', `the row for '${c.name}' gives no reason`);
      refused++;
    });
  }
});
