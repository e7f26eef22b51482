/**
 * The rule engine's front door (node/ruleset/): nft text (lexer, parser, defines) and
 * libnftables JSON, then validation and compilation, as `hafw ruleset check`, the API and
 * SIGHUP reload call it. A refusal is a RulesetError whose every item has a place
 * (line >= 1, col >= 1). A ruleset that loads must print to text that loads to the same
 * ruleset, and (JSON target) its JSON form must load to the same ruleset too.
 */
import { RulesetEngine, RulesetError } from '../../node/ruleset/index.js';
import { FULL_RULESET } from '../../node/ruleset/test-rulesets.js';
import { FuzzInvariantError, type FuzzRunner, type FuzzTarget } from '../target.js';
import { codeBlocks, repoFile, utf8 } from '../repo.js';
import { DATAPATH_RULES } from './packet.js';

/** Valid nft texts: the tests' full ruleset, the compose pair's, the docs' examples. */
function rulesetTexts(): string[] {
  const texts = [FULL_RULESET, DATAPATH_RULES, repoFile('deploy/ruleset.nft')];
  for (const doc of ['docs/ruleset.md', 'docs/nat.md', 'docs/deploy-hosts.md']) {
    for (const b of codeBlocks(doc, ['', 'nft'])) if (/\btable\b/.test(b) && !/^\s*(\$|#!|nft |hafw )/m.test(b)) texts.push(b);
  }
  const ok: string[] = [];
  for (const t of texts) {
    try {
      new RulesetEngine().load(t);
      ok.push(t);
    } catch {
      // a fragment of a doc, not a whole ruleset: not a seed
    }
  }
  return ok;
}

/** Every item has a line and column, or (JSON) a JSON pointer in its message (errors.ts). */
function positioned(e: unknown): boolean {
  return e instanceof RulesetError && e.errors.length > 0 && e.errors.every((x) => (x.line >= 1 && x.col >= 1) || /^\/nftables\b/.test(x.message));
}

/** Why an error is not the clean refusal: so the finding's message says it. */
function unclean(e: unknown): unknown {
  if (e instanceof RulesetError && !positioned(e)) {
    return new FuzzInvariantError(`RulesetError without a place (line/col 0): ${e.message.slice(0, 300)}`);
  }
  return e;
}

function runner(seeds: Uint8Array[], json: boolean): FuzzRunner {
  const dec = new TextDecoder();
  return {
    seeds,
    expected: positioned,
    run(input) {
      const text = dec.decode(input);
      const engine = new RulesetEngine();
      try {
        engine.load(text, 'fuzz.nft');
      } catch (e) {
        throw unclean(e);
      }
      const printed = engine.list();
      const again = new RulesetEngine();
      try {
        again.load(printed, 'printed.nft');
      } catch (e) {
        throw new FuzzInvariantError(`a loaded ruleset prints to text that does not load: ${(e as Error).message.slice(0, 300)}`);
      }
      if (again.list() !== printed) throw new FuzzInvariantError('a loaded ruleset, printed and loaded again, prints differently');
      if (json) {
        const viaJson = new RulesetEngine();
        try {
          viaJson.load(JSON.stringify(engine.toJSON()), 'printed.json');
        } catch (e) {
          throw new FuzzInvariantError(`a loaded ruleset's JSON form does not load: ${(e as Error).message.slice(0, 300)}`);
        }
        if (viaJson.list() !== printed) throw new FuzzInvariantError('a loaded ruleset\'s JSON form loads to a different ruleset');
      }
      const c = engine.counts();
      return `ok ${c.tables} tables ${c.chains > 4 ? 'many' : c.chains} chains`;
    },
  };
}

const NFT_WORDS = [
  'table', 'chain', 'set', 'map', 'define', 'include', 'flags', 'interval', 'timeout', 'elements', 'type', 'hook', 'priority', 'policy',
  'ip', 'ip6', 'inet', 'tcp', 'udp', 'icmp', 'icmpv6', 'th', 'meta', 'ct', 'saddr', 'daddr', 'dport', 'sport', 'accept', 'drop', 'reject',
  'jump', 'goto', 'return', 'continue', 'vmap', 'counter', 'limit', 'rate', 'burst', 'quota', 'log', 'prefix', 'snat', 'dnat', 'masquerade',
  'redirect', 'to', 'mark', '@', '$', '{', '}', '.', ':', ';', ',', '-', '/', '!=', '==', '<', '>=', '0x', '"', '\\', '#', '\n',
  '$x', 'define x = { 1, 2 }', 'define x = $x', '::/0', '0.0.0.0/0', '255.255.255.255', '65535', '65536', 'ffff::ffff', '2001:db8::/129',
  '1s', '1d', '99999999d', '1/second', 'bytes', 'mbytes', 'over', 'until',
  'length', 'pkttype', 'host', 'broadcast', 'multicast',
  'id', 'frag-off', 'sequence', '&', '0x1fff',
  'sctp', 'option', 'sack-perm', 'timestamp', 'window', 'maxseg', 'exists', 'missing', 'count', 'tsval', 'tsecr', 'kind',
  'name', 'used', 'counter c1 { packets 1 bytes 2 }', 'quota q1 { over 1 mbytes used 10 bytes }', 'limit l1 { rate 1/second }',
  'counter name "c1"', 'quota name "q1"', 'limit name "l1"', 'delete counter', 'add quota', 'create limit',
  '0.0.0.255', '::ffff', '0xff', 'ip saddr & ', 'ip6 daddr & ::ffff ',
  'ssh', 'http', 'domain', 'microsoft-ds', '1-microsoft-ds', 'ntp', ':http',
  'zone', 'label', 'original', 'reply', 'meta mark set ct mark', 'ct mark set meta mark',
  'ct original ip saddr ', 'ct reply ip6 daddr ', 'proto-src', 'proto-dst', 'expiration', '30s', '60s-7200s',
  'fib daddr type ', 'fib', 'local', 'iif', 'oif',
  'meta hour ', 'meta day ', 'meta time ', '"08:00"-"17:00"', '"22:00"-"06:00"', '"Monday"', '"2026-01-01 00:00:00"', '"2026-02-30"',
  'group', 'snaplen', 'skuid', 'skgid',
  'numgen inc mod 2 ', 'numgen random mod 10 ', 'jhash ip saddr . tcp dport mod 4 ', 'symhash mod 2 ', 'offset', 'seed 0x0',
  'dnat to numgen inc mod 2 map { 0 : 192.0.2.1, 1 : 192.0.2.2 }', 'meta mark set jhash ip6 saddr mod 3',
  'flowtable f { hook ingress priority filter; devices = { lan, wan }; }', 'flow add @f', 'flow offload @f', 'devices', 'ingress', 'delete flowtable',
  'addr . port', 'dnat ip to ip daddr . tcp dport map { 198.51.100.1 . 80 : 192.0.2.10 . 8080 }', ' . 8080', 'snat ip6 to ip6 saddr . tcp sport map { 2001:db8::1 . 1 : 2001:db8::2 . 2 }',
  'dynamic', 'size', 'add @s { ip saddr }', 'update @s { ip6 saddr timeout 1m limit rate over 10/second }', 'meter m { ip saddr counter }',
  'meter m size 10 { ip saddr . tcp dport timeout 1s ct count over 2 }', 'ct count over 20 ', 'ct count 5 ', '192.0.2.1 counter packets 3 bytes 180',
  'rt mtu', 'exthdr', 'hbh', 'frag', 'mh', 'seg-left', 'more-fragments', 'chunk', 'vtag', 'sack0', 'eol', 'mptcp', 'ecn', 'flowlabel', 'hdrlength',
  'map m { type ipv4_addr . inet_service : ipv4_addr . inet_service; }', 'map @m',
];

export const rulesetText: FuzzTarget = {
  name: 'ruleset-text',
  about: 'nft text rulesets: lexer, parser, defines, validation, compiler; printed form loads back the same',
  text: true,
  maxBytes: 16384,
  timeoutMs: 3000,
  dictionary: NFT_WORDS,
  setup: () => runner(rulesetTexts().map(utf8), false),
};

export const rulesetJson: FuzzTarget = {
  name: 'ruleset-json',
  about: 'libnftables JSON rulesets: JSON with positions, the generic structure, validation; JSON and text forms load back the same',
  text: true,
  maxBytes: 32768,
  timeoutMs: 3000,
  dictionary: ['{"nftables": []}', '"add"', '"rule"', '"table"', '"chain"', '"set"', '"map"', '"element"', '"expr"', '"match"', '"left"', '"right"',
    '"payload"', '"protocol"', '"field"', '"op"', '"=="', '"in"', '"prefix"', '"range"', '"concat"', '"set"', '"elem"', '"accept"', '"jump"',
    '"target"', '"family"', '"inet"', '"ip6"', '"handle"', 'null', 'true', '[]', '{}', '-1', '1e400', '"\\ud800"', '4294967296',
    '"tcp option"', '"name"', '"sack-perm"', '"timestamp"', '"window"', 'false', '"meta"', '"key"', '"pkttype"', '"length"', '"frag-off"', '"sctp"', '"&"',
    '"flowtable"', '"flow"', '"dev"', '"ingress"', '"@f"', '{"flow": {"op": "add", "flowtable": "@f"}}',
    '"counter"', '"quota"', '"limit"', '"packets"', '"bytes"', '"used"', '"inv"', '"rate"', '"per"', '"burst"', '{"counter": "c1"}',
    '"0.0.0.255"', '"::ffff"', '"<"',
    '"ssh"', '"microsoft-ds"',
    '"numgen"', '"mode"', '"inc"', '"random"', '"mod"', '"offset"', '"jhash"', '"seed"', '"expr"', '"symhash"', '{"numgen": {"mode": "inc", "mod": 2, "offset": 0}}',
    '{"concat": ["192.0.2.10", 8080]}', '"dnat"', '"snat"', '"addr"', '"port"',
    '"rt"', '"exthdr"', '"sctp chunk"', '"@m"', '"ipv4_addr . inet_service"',
    '"mangle"', '"zone"', '"dir"', '"original"', '"ct"',
    '"ip saddr"', '"ip6 daddr"', '"proto-src"', '"expiration"',
    '"fib"', '"result"', '"flags"', '"daddr"', '"local"',
    '"hour"', '"day"', '"08:00"', '"Monday"', '"2026-01-01 00:00:00"',
    '"group"', '"skuid"',
    '"update"', '"@s"', '"stmt"', '"ct count"', '"val"', '"meter"', '"size"', '"timeout"',
    '{"set": {"op": "add", "elem": {"payload": {"protocol": "ip", "field": "saddr"}}, "set": "@s"}}'],
  setup() {
    const seeds = rulesetTexts().map((t) => {
      const e = new RulesetEngine();
      e.load(t);
      return utf8(JSON.stringify(e.toJSON(), null, 1));
    });
    for (const b of codeBlocks('docs/ruleset.md', ['json', ''])) if (b.trimStart().startsWith('{"nftables"')) seeds.push(utf8(b));
    return runner(seeds, true);
  },
};

