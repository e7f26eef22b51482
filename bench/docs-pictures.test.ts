/**
 * The pictures in docs/ (the hand-written diagrams and chart.ts's performance.svg): each is
 * well-formed XML with an <svg> root and a <title> (what screen readers and browsers'
 * tooltips show), and some page of docs/ shows it with alt text. A picture that does not
 * parse shows as a broken image on every renderer; one no page names is dead weight that
 * goes stale. Cheap, so it runs with the unit tests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs');

/**
 * Parses each file with expat (python3's xml.dom.minidom: a conforming XML parser; Node has
 * none) and reports its root element and <title> text, or the parser's error with line:col.
 */
const PARSE = `
import json, sys
from xml.dom import minidom
from xml.parsers.expat import ExpatError
out = {}
for f in sys.argv[1:]:
    try:
        d = minidom.parse(f)
        root = d.documentElement
        titles = [t for t in root.childNodes if t.nodeType == t.ELEMENT_NODE and t.localName == 'title']
        out[f] = {'root': root.localName, 'ns': root.namespaceURI, 'title': ''.join(n.data for n in titles[0].childNodes if n.nodeType == n.TEXT_NODE).strip() if titles else None}
    except ExpatError as e:
        out[f] = {'error': str(e)}
print(json.dumps(out))
`;

interface Parsed {
  root?: string;
  ns?: string;
  title?: string | null;
  error?: string;
}

describe('docs pictures (docs/*.svg)', () => {
  const svgs = readdirSync(DOCS).filter((f) => f.endsWith('.svg')).sort();
  const pages = readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => ({ f, text: readFileSync(path.join(DOCS, f), 'utf8') }));

  it('finds the pictures', () => {
    for (const f of ['architecture.svg', 'performance.svg', 'pair-cabling.svg', 'vrrp-states.svg', 'sync-resync.svg', 'ip-rule-ladder.svg']) assert.ok(svgs.includes(f), `docs/${f} is missing`);
  });

  it('each is well-formed XML: an <svg> root in the SVG namespace whose first-level <title> says what it shows', function () {
    const r = spawnSync('python3', ['-c', PARSE, ...svgs.map((f) => path.join(DOCS, f))], { encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') this.skip(); // no python3: nothing to parse with
    assert.equal(r.status, 0, r.stderr);
    const parsed = JSON.parse(r.stdout) as Record<string, Parsed>;
    const problems: string[] = [];
    for (const f of svgs) {
      const p = parsed[path.join(DOCS, f)]!;
      if (p.error) problems.push(`docs/${f}: not well-formed XML: ${p.error}`);
      else if (p.root !== 'svg' || p.ns !== 'http://www.w3.org/2000/svg') problems.push(`docs/${f}: root is <${p.root}> in ${p.ns}, not <svg> in the SVG namespace`);
      else if (!p.title) problems.push(`docs/${f}: no <title> (or an empty one) under <svg>`);
    }
    assert.deepEqual(problems, []);
  });

  it('each is shown by some docs/*.md page as an image with alt text', () => {
    const problems: string[] = [];
    for (const f of svgs) {
      const esc = f.replace(/[.]/g, '\\.');
      const image = new RegExp(`!\\[([^\\]]*)\\]\\((?:\\./)?${esc}\\)`, 'g');
      const uses = pages.flatMap((p) => [...p.text.matchAll(image)].map((m) => ({ page: p.f, alt: m[1]!.trim() })));
      if (uses.length === 0) problems.push(`docs/${f}: no page shows it (![alt](${f}))`);
      for (const u of uses) if (u.alt.length < 10) problems.push(`docs/${u.page}: the image ${f} has no real alt text ('${u.alt}')`);
    }
    assert.deepEqual(problems, []);
  });
});
