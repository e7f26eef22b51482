import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drops, roundTrips, verdict } from './modules/rule-test-kit.js';
import { Verdict } from './context.js';
import { RulesetEngine } from './engine.js';
import { RulesetError } from './errors.js';
import { parseServices, useServicesFile } from './services.js';
import { buildTcp, buildUdp } from '../packet/build.js';

const V4 = { src: '192.0.2.1', dst: '198.51.100.1' };
const V6 = { src: '2001:db8::1', dst: '2001:db8:1::1' };
const dport = (p: string) => ({ payload: { protocol: p, field: 'dport' } });

function loadError(rule: string): { line: number; col: number; message: string } {
  try {
    new RulesetEngine().load(`table inet t { chain c { type filter hook forward priority 0;\n${rule}\n} }`, 'x.nft');
  } catch (e) {
    if (e instanceof RulesetError) return e.errors[0]!;
    throw e;
  }
  return { line: 0, col: 0, message: 'accepted' };
}

/** A services(5) file for the test's names (not the machine's /etc/services). */
const SERVICES = `# comment line
ssh		22/tcp				# SSH Remote Login Protocol
domain		53/tcp				# Domain Name Server
domain		53/udp
http		80/tcp		www		# WorldWideWeb HTTP
https		443/tcp
ntp		123/udp
microsoft-ds	445/tcp
echo		7/tcp
echo		4/ddp
split		6000/udp
split		6001/tcp
late		7000/sctp
`;

describe('service names as nft resolves them (/etc/services)', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hafw-services-'));
    writeFileSync(join(dir, 'services'), SERVICES);
    useServicesFile(join(dir, 'services'));
  });
  after(() => {
    useServicesFile();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads services(5): aliases, comments; TCP before UDP before SCTP (getaddrinfo\'s order), other protocols ignored', () => {
    const m = parseServices(SERVICES);
    assert.equal(m.get('www'), 80);
    assert.equal(m.get('split'), 6001, 'the TCP entry wins, whatever the line order');
    assert.equal(m.get('echo'), 7, 'ddp is no protocol getaddrinfo asks for');
    assert.equal(m.get('ntp'), 123, 'a UDP-only name is a port');
    assert.equal(m.get('late'), 7000);
    assert.equal(m.get('comment'), undefined);
  });

  it('tcp dport { ssh, http, https, domain } matches those ports on IPv4 and IPv6; udp and UDP-only names too', () => {
    for (const ends of [V4, V6]) {
      const rule = 'tcp dport { ssh, http, https, domain }';
      for (const p of [22, 80, 443, 53]) assert.equal(drops(rule, buildTcp({ ...ends, sport: 1, dport: p })), true, `${p}`);
      assert.equal(drops(rule, buildTcp({ ...ends, sport: 1, dport: 23 })), false);
      assert.equal(drops(rule, buildUdp({ ...ends, sport: 1, dport: 53 })), false, 'still TCP only');
      assert.equal(drops('udp dport { domain, ntp }', buildUdp({ ...ends, sport: 1, dport: 123 })), true);
      assert.equal(drops('tcp dport ntp', buildTcp({ ...ends, sport: 1, dport: 123 })), true, 'nft: tcp dport ntp is 123');
      assert.equal(drops('tcp dport www', buildTcp({ ...ends, sport: 1, dport: 80 })), true, 'an alias');
      assert.equal(drops('tcp dport ssh-http', buildTcp({ ...ends, sport: 1, dport: 50 })), true, 'a range of names');
      assert.equal(drops('tcp dport 1-microsoft-ds', buildTcp({ ...ends, sport: 1, dport: 445 })), true, 'a name with a dash in a range');
      assert.equal(drops('tcp dport 1-microsoft-ds', buildTcp({ ...ends, sport: 1, dport: 446 })), false);
    }
  });

  it('a name is listed and written as its number, as nft 1.0.6 lists it', () => {
    assert.deepEqual(roundTrips('tcp dport { ssh, http, https, domain } drop', 'tcp dport { 22, 53, 80, 443 } drop')[0], {
      match: { op: '==', left: dport('tcp'), right: { set: [22, 53, 80, 443] } },
    });
    assert.deepEqual(roundTrips('udp dport microsoft-ds drop', 'udp dport 445 drop')[0], { match: { op: '==', left: dport('udp'), right: 445 } });
    assert.deepEqual(roundTrips('tcp dport 1-microsoft-ds drop', 'tcp dport 1-445 drop')[0], { match: { op: '==', left: dport('tcp'), right: { range: [1, 445] } } });
    // A name in JSON input (libnftables accepts it) loads too.
    const e = new RulesetEngine();
    e.load({
      nftables: [
        { table: { family: 'inet', name: 't' } },
        { chain: { family: 'inet', table: 't', name: 'c', type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } },
        { rule: { family: 'inet', table: 't', chain: 'c', expr: [{ match: { op: '==', left: dport('tcp'), right: 'https' } }, { drop: null }] } },
      ],
    } as never);
    assert.equal(verdict(e, buildTcp({ ...V4, sport: 1, dport: 443 })), Verdict.Drop);
    assert.match(e.list(), /\n\t\ttcp dport 443 drop\n/, 'listed as the number, so the listing reads back the same');
    const again = new RulesetEngine();
    again.load(e.list());
    assert.equal(again.list(), e.list());
  });

  it('NAT targets take names: dnat to 192.0.2.1:http, :http-1024', () => {
    const e = new RulesetEngine();
    e.load('table ip n {\n chain pre { type nat hook prerouting priority dstnat; tcp dport 8080 dnat to 192.0.2.1:http\n tcp dport 8443 dnat to 192.0.2.1:http-1024 }\n}');
    assert.match(e.list(), /dnat to 192\.0\.2\.1:80\n\t\ttcp dport 8443 dnat to 192\.0\.2\.1:80-1024\n/);
  });

  it('an unknown name is refused at its place, with the nearest known name', () => {
    const e = loadError('tcp dport { ssh, htps } drop');
    assert.deepEqual([e.line, e.col], [2, 18]);
    assert.match(e.message, /^'htps' is not a port number or a service name in .*services; did you mean 'https'\?$/);
    assert.match(loadError('udp dport domian drop').message, /did you mean 'domain'\?/);
    assert.doesNotMatch(loadError('tcp dport zzzzzzzz drop').message, /did you mean/);
    assert.match(loadError('tcp dport 65536 drop').message, /^65536 is out of range for inet_service/);
    const nat = new RulesetEngine();
    assert.throws(() => nat.load('table ip n {\n chain pre { type nat hook prerouting priority dstnat; dnat to 192.0.2.1:htp }\n}', 'n.nft'), /^RulesetError: n\.nft:2:\d+: invalid port in NAT target '192\.0\.2\.1:htp': 'htp' is not a port number or a service name/);
  });

  it('without the file: the built-in common names, and errors say so', () => {
    useServicesFile(join(dir, 'missing'));
    try {
      assert.equal(drops('tcp dport { ssh, https, postgresql }', buildTcp({ ...V4, sport: 1, dport: 5432 })), true);
      assert.match(loadError('tcp dport www drop').message, /'www' is not a port number or a service name in the built-in names \(.*missing is missing\)/);
    } finally {
      useServicesFile(join(dir, 'services'));
    }
  });
});
