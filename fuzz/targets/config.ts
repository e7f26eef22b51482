/**
 * The node's configuration reader (node/daemon/config.ts, config-reader.ts): YAML text to
 * a typed NodeConfig, as `hafw node --config` reads it. A refusal is a ConfigError naming
 * the file (and the line and setting's path when there is one); anything else is a crash,
 * and so is a reader that takes seconds or hundreds of MB over a small file (YAML aliases).
 */
import { ConfigError } from '../../node/daemon/config-reader.js';
import { parseConfigText } from '../../node/daemon/config.js';
import type { FuzzTarget } from '../target.js';
import { codeBlocks, repoFile, utf8 } from '../repo.js';

function seeds(): Uint8Array[] {
  const texts = [repoFile('deploy/fw-a.yaml'), repoFile('deploy/fw-b.yaml')];
  for (const doc of ['docs/configuration.md', 'docs/deploy-hosts.md', 'docs/failover.md', 'docs/sync.md']) texts.push(...codeBlocks(doc, ['yaml']));
  return texts.map(utf8);
}

export const config: FuzzTarget = {
  name: 'config',
  about: 'node configuration: YAML syntax, every section and setting, error placement',
  text: true,
  maxBytes: 16384,
  dictionary: ['&a', '*a', '<<: *a', '!!binary', '!!str', '!!int', '? ', '- ', ': ', '{', '}', '[', ']', '|', '>', '~', 'null', 'true', '0x10', '0o7', '.inf', '.nan',
    '---', '...', '%YAML 1.1', 'node:', 'datapath:', 'vrrp:', 'sync:', 'ruleset:', 'conntrack:', 'api:', 'sniff:', 'fragments:', 'vips:', 'timeouts:', 'peers:'],
  setup() {
    const dec = new TextDecoder();
    return {
      seeds: seeds(),
      expected: (e) => e instanceof ConfigError && e.file === 'fuzz.yaml',
      run(input) {
        const c = parseConfigText(dec.decode(input), 'fuzz.yaml');
        return `ok ${c.vrrp ? 'vrrp' : ''} ${c.sync ? 'sync' : ''} ${c.sniff ? 'sniff' : ''}`;
      },
    };
  },
};
