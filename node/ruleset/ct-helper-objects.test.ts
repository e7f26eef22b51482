import assert from 'node:assert/strict';
import { RulesetEngine } from './engine.js';
import { formatChange } from './monitor.js';
import { refusal } from './test-refusal.js';

/** As nft 1.0.6 lists it (`nft list ruleset` after loading it with nft -f). */
const LISTING = `table inet t {
	ct helper ftp-std {
		type "ftp" protocol tcp
		l3proto inet
	}

	chain pre {
		type filter hook prerouting priority filter; policy accept;
		tcp dport 21 ct helper set "ftp-std"
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct helper "ftp" accept
		ct state related ct helper "ftp" accept
	}
}
`;

/** `nft -j list ruleset` of the same (nft 1.0.6), handles taken out. */
const NFT_JSON_TEXT = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
    { table: { family: 'inet', name: 't' } },
    { 'ct helper': { family: 'inet', name: 'ftp-std', table: 't', type: 'ftp', protocol: 'tcp', l3proto: 'inet' } },
    { chain: { family: 'inet', table: 't', name: 'pre', type: 'filter', hook: 'prerouting', prio: 0, policy: 'accept' } },
    { chain: { family: 'inet', table: 't', name: 'forward', type: 'filter', hook: 'forward', prio: 0, policy: 'drop' } },
    { rule: { family: 'inet', table: 't', chain: 'pre', expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 21 } }, { 'ct helper': 'ftp-std' }] } },
    { rule: { family: 'inet', table: 't', chain: 'forward', expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, { accept: null }] } },
    { rule: { family: 'inet', table: 't', chain: 'forward', expr: [{ match: { op: '==', left: { ct: { key: 'helper' } }, right: 'ftp' } }, { accept: null }] } },
    { rule: { family: 'inet', table: 't', chain: 'forward', expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: 'related' } }, { match: { op: '==', left: { ct: { key: 'helper' } }, right: 'ftp' } }, { accept: null }] } },
  ],
});
/** A fresh copy (loading tags the objects it reads with their places). */
const nftJson = () => JSON.parse(NFT_JSON_TEXT) as { nftables: object[] };

function load(text: string | object): RulesetEngine {
  const e = new RulesetEngine();
  e.load(text as string, 'x.nft');
  return e;
}

describe('ct helper objects and the ct helper match', () => {
  it('parse and list as nft 1.0.6 lists them, from its text and from its JSON', () => {
    const written = 'table inet t {\n  ct helper ftp-std { type "ftp" protocol tcp; l3proto inet; }\n' + LISTING.slice(LISTING.indexOf('\tchain pre'));
    assert.equal(load(written).list(), LISTING);
    assert.equal(load(LISTING).list(), LISTING);
    assert.equal(load(nftJson()).list(), LISTING);
  });

  it('write JSON as nft -j does, which loads back the same', () => {
    const json = load(LISTING).toJSON();
    const strip = (o: object): object => JSON.parse(JSON.stringify(o, (k, v) => (k === 'handle' ? undefined : v)));
    const helper = json.nftables.find((x) => 'ct helper' in x);
    assert.deepEqual(strip(helper!), nftJson().nftables[2]);
    const rules = json.nftables.filter((x) => 'rule' in x).map(strip);
    assert.deepEqual(rules, nftJson().nftables.slice(5));
    assert.equal(load(JSON.stringify(json)).list(), LISTING);
  });

  it("defaults l3proto to the table's family and lists it, as nft does", () => {
    const e = load('table ip t4 {\n  ct helper h { type "ftp" protocol tcp; }\n}\ntable ip6 t6 {\n  ct helper h { type "ftp" protocol tcp; }\n}\n');
    assert.match(e.list(), /table ip t4 \{\n\tct helper h \{\n\t\ttype "ftp" protocol tcp\n\t\tl3proto ip\n\t\}/);
    assert.match(e.list(), /table ip6 t6 \{\n\tct helper h \{\n\t\ttype "ftp" protocol tcp\n\t\tl3proto ip6\n\t\}/);
  });

  it('adds and deletes by command, and the monitor shows it', () => {
    const e = load('table inet t {\n}\n');
    const r = e.transaction('add ct helper inet t h { type "ftp" protocol tcp; }');
    assert.equal(formatChange(r.changes[0]!, e.registry), 'add ct helper inet t h { type "ftp" protocol tcp; l3proto inet; }');
    assert.match(e.list(), /ct helper h \{/);
    assert.equal(formatChange(e.transaction('delete ct helper inet t h').changes[0]!, e.registry), 'delete ct helper inet t h');
    assert.doesNotMatch(e.list(), /ct helper/);
  });

  it('refuses helpers other than ftp, and misfits, with the reason and place', () => {
    assert.match(refusal(() => load('table ip t {\n  ct helper s { type "sip" protocol udp; }\n}\n')), /^x\.nft:2:3: ct helper 's': conntrack helper "sip" is not supported: hafw has the "ftp" helper only/);
    assert.match(refusal(() => load('table ip t {\n  ct helper f { type "ftp" protocol udp; }\n}\n')), /ct helper 'f': the ftp helper runs on tcp, not udp/);
    assert.match(refusal(() => load('table ip t {\n  ct helper f { type "ftp" protocol tcp; l3proto ip6; }\n}\n')), /l3proto ip6 does not fit a table of family ip/);
    assert.match(refusal(() => load('table ip t {\n  ct helper f { protocol tcp; }\n}\n')), /^x\.nft:2:17: expected type, l3proto or comment in ct helper 'f', got 'protocol'/);
    assert.match(refusal(() => load('table ip t {\n  chain c {\n    ct helper "sip" accept\n  }\n}\n')), /conntrack helper "sip" is not supported/);
    assert.match(refusal(() => load('table ip t {\n  chain c {\n    tcp dport 21 ct helper set "f"\n  }\n}\n')), /^x\.nft:3:18: unknown ct helper 'f' \(declare it in the table/);
    assert.match(refusal(() => load({ nftables: [{ table: { family: 'ip', name: 'f' } }, { 'ct helper': { family: 'ip', table: 'f', name: 'h', type: 'irc', protocol: 'tcp' } }] })), /ct helper 'h': conntrack helper "irc" is not supported/);
  });
});
