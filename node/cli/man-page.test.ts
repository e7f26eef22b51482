import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listedCommands, manPage, roffText, splitUsage } from './man-page.js';

const HELP = `usage: hafw node --config FILE [--check [--json]]
       hafw node --version

Runs a firewall node. A line that starts with a dot:
.hidden must stay text, and a backslash \\n too.
  --config FILE   the node's YAML configuration
  --check         only check FILE`;

describe('man pages from --help texts', () => {
  it('takes every usage form as SYNOPSIS and keeps indented blocks as they are', () => {
    assert.deepEqual(splitUsage(HELP).usage, ['hafw node --config FILE [--check [--json]]', 'hafw node --version']);
    const page = manPage({ name: 'hafw-node', section: 8, summary: 'run a firewall node', help: HELP, version: '1.2.3', date: '2026-12-07', seeAlso: ['hafw(8)'] });
    assert.match(page, /^\.TH "HAFW-NODE" 8 "2026-12-07" "hafw 1\.2\.3" "hafw manual"$/m);
    assert.match(page, /^\.SH NAME\nhafw\\-node \\- run a firewall node$/m);
    assert.match(page, /^\.SH SYNOPSIS\n\.nf\nhafw node \\-\\-config FILE \[\\-\\-check \[\\-\\-json\]\]\nhafw node \\-\\-version\n\.fi$/m);
    assert.match(page, /^\\&\.hidden must stay text, and a backslash \\en too\.$/m, 'no roff request from the text');
    assert.match(page, /^\.nf\n\\-\\-config FILE {3}the node's YAML configuration\n\\-\\-check {9}only check FILE\n\.fi$/m);
    assert.equal(roffText("'quote"), "\\&'quote");
  });

  it('reads the command rows of a commands: block', () => {
    assert.deepEqual(listedCommands('x\n\ncommands:\n  node    run a node\n  status  show it\n\nmore', 'commands:'), [{ name: 'node', summary: 'run a node' }, { name: 'status', summary: 'show it' }]);
  });

  it('renders with man -l without warnings', function () {
    if (spawnSync('man', ['--version']).status !== 0) this.skip();
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-man-'));
    try {
      const f = path.join(dir, 'hafw-node.8');
      writeFileSync(f, manPage({ name: 'hafw-node', section: 8, summary: 'run a firewall node', help: HELP, version: '1.2.3', date: '2026-12-07', subsections: [{ title: 'hafw node sub', help: 'usage: hafw node sub\n\nA sub.' }] }));
      const r = spawnSync('man', ['-l', f], { encoding: 'utf8', env: { ...process.env, MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '100', MAN_KEEP_FORMATTING: '0' } });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, '');
      const text = r.stdout.replace(/.\x08/g, '');
      assert.match(text, /hafw-node - run a firewall node/);
      assert.match(text, /--config FILE {3}the node's YAML configuration/);
      assert.match(text.replace(/\s+/g, ' '), /\.hidden must stay text, and a backslash \\n too\./);
      assert.match(text, /hafw node sub/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
