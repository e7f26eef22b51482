import assert from 'node:assert/strict';
import { parseConntrackDump } from './ct-import-text.js';

// Printed by conntrack v1.4.7 (Debian 12) for entries made with conntrack -I in a scratch
// namespace: -o extended (its last entry's reply tuple edited into a plain source NAT, as
// masquerade to 198.51.100.2 makes it), then part of the same table with -o xml.
const EXTENDED = `ipv4     2 icmp     1 29 src=192.0.2.100 dst=198.51.100.100 type=8 code=0 id=77 [UNREPLIED] src=198.51.100.100 dst=192.0.2.100 type=0 code=0 id=77 mark=0 use=1
ipv4     2 udp      17 29 src=192.0.2.100 dst=198.51.100.53 sport=5353 dport=53 [UNREPLIED] src=198.51.100.53 dst=192.0.2.100 sport=53 dport=5353 mark=0 use=1
ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.100 dst=198.51.100.100 sport=40000 dport=80 src=198.51.100.100 dst=192.0.2.100 sport=80 dport=40000 [ASSURED] mark=0 use=1
ipv6     10 tcp      6 99 TIME_WAIT src=2001:db8::1 dst=2001:db8:1::2 sport=40000 dport=443 src=2001:db8:1::2 dst=2001:db8::1 sport=443 dport=40000 mark=5 zone=3 use=1
ipv6     10 icmpv6   58 29 src=2001:db8::1 dst=2001:db8:1::2 type=128 code=0 id=9 [UNREPLIED] src=2001:db8:1::2 dst=2001:db8::1 type=129 code=0 id=9 mark=0 use=1 id=3103086714
ipv4     2 tcp      6 299 ESTABLISHED src=192.0.2.101 dst=198.51.100.100 sport=40001 dport=80 src=198.51.100.100 dst=198.51.100.2 sport=80 dport=61000 mark=0 use=1
conntrack v1.4.7 (conntrack-tools): 6 flow entries have been shown.
`;

const XML = `<?xml version="1.0" encoding="utf-8"?>
<conntrack>
<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>192.0.2.100</src><dst>198.51.100.53</dst></layer3><layer4 protonum="17" protoname="udp"><sport>5353</sport><dport>53</dport></layer4></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>198.51.100.53</src><dst>192.0.2.100</dst></layer3><layer4 protonum="17" protoname="udp"><sport>53</sport><dport>5353</dport></layer4></meta><meta direction="independent"><timeout>29</timeout><mark>0</mark><use>1</use><id>2143979406</id><unreplied/></meta></flow>
<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>192.0.2.100</src><dst>198.51.100.100</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>40000</sport><dport>80</dport></layer4></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>198.51.100.100</src><dst>192.0.2.100</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>80</sport><dport>40000</dport></layer4></meta><meta direction="independent"><state>ESTABLISHED</state><timeout>431999</timeout><mark>0</mark><use>1</use><id>3662166711</id><assured/></meta></flow>
<flow><meta direction="original"><layer3 protonum="10" protoname="ipv6"><src>2001:db8::1</src><dst>2001:db8:1::2</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>40000</sport><dport>443</dport></layer4></meta><meta direction="reply"><layer3 protonum="10" protoname="ipv6"><src>2001:db8:1::2</src><dst>2001:db8::1</dst></layer3><layer4 protonum="6" protoname="tcp"><sport>443</sport><dport>40000</dport></layer4></meta><meta direction="independent"><state>TIME_WAIT</state><timeout>99</timeout><mark>5</mark><zone>3</zone><use>1</use><id>3789993476</id></meta></flow>
<flow><meta direction="original"><layer3 protonum="2" protoname="ipv4"><src>192.0.2.100</src><dst>198.51.100.100</dst></layer3><layer4 protonum="1" protoname="icmp"></layer4></meta><meta direction="reply"><layer3 protonum="2" protoname="ipv4"><src>198.51.100.100</src><dst>192.0.2.100</dst></layer3><layer4 protonum="1" protoname="icmp"></layer4></meta><meta direction="independent"><timeout>29</timeout><mark>0</mark><use>1</use><id>2271108089</id><unreplied/></meta></flow>
</conntrack>
`;

describe('reading a kernel conntrack dump (hafw ct import)', () => {
  it('reads every entry of conntrack -L -o extended with its line, tuples, state, flags, mark, zone and timeout', () => {
    const r = parseConntrackDump(EXTENDED);
    assert.equal(r.format, 'extended');
    assert.deepEqual(r.errors, []);
    assert.equal(r.entries.length, 6);
    const [icmp, udp, tcp, tcp6, icmp6, nat] = r.entries;
    assert.deepEqual(icmp, {
      line: 1, family: 4, proto: 1, zone: 0, seenReply: false, assured: false, mark: 0, timeoutSeconds: 29,
      original: { src: '192.0.2.100', dst: '198.51.100.100', sport: 77, dport: 8 << 8 },
      reply: { src: '198.51.100.100', dst: '192.0.2.100', sport: 77, dport: 0 },
    });
    assert.equal(udp!.proto, 17);
    assert.deepEqual(udp!.reply, { src: '198.51.100.53', dst: '192.0.2.100', sport: 53, dport: 5353 });
    assert.deepEqual([tcp!.line, tcp!.tcpState, tcp!.seenReply, tcp!.assured, tcp!.timeoutSeconds], [3, 3, true, true, 431999]);
    assert.deepEqual([tcp6!.family, tcp6!.tcpState, tcp6!.mark, tcp6!.zone, tcp6!.assured, tcp6!.seenReply], [6, 7, 5, 3, false, true]);
    // The trailing id= of -o extended,id is the conntrack id, not the ICMP id.
    assert.deepEqual(icmp6!.original, { src: '2001:db8::1', dst: '2001:db8:1::2', sport: 9, dport: 128 << 8 });
    assert.deepEqual(icmp6!.reply.dport, 129 << 8);
    // Source NAT: replies go to the translated address and port.
    assert.deepEqual(nat!.reply, { src: '198.51.100.100', dst: '198.51.100.2', sport: 80, dport: 61000 });
  });

  it('reads plain conntrack -L (no layer-3 columns) and /proc/net/nf_conntrack lines alike', () => {
    const r = parseConntrackDump([
      'tcp      6 431999 ESTABLISHED src=192.0.2.100 dst=198.51.100.100 sport=40000 dport=80 src=198.51.100.100 dst=192.0.2.100 sport=80 dport=40000 [ASSURED] mark=0 use=1',
      'ipv4     2 tcp      6 117 SYN_SENT src=192.0.2.100 dst=198.51.100.100 sport=40002 dport=80 packets=1 bytes=60 [UNREPLIED] src=198.51.100.100 dst=192.0.2.100 sport=80 dport=40002 packets=0 bytes=0 mark=0 zone=0 use=2',
    ].join('\n'));
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.entries.map((e) => [e.tcpState, e.seenReply]), [[3, true], [1, false]]);
  });

  it('reads conntrack -L -o xml; an ICMP flow there lacks type/code/id and is an error naming its line', () => {
    const r = parseConntrackDump(XML);
    assert.equal(r.format, 'xml');
    assert.deepEqual(r.entries.map((e) => [e.line, e.proto, e.family, e.tcpState, e.seenReply, e.assured, e.zone, e.mark]), [
      [3, 17, 4, undefined, false, false, 0, 0],
      [4, 6, 4, 3, true, true, 0, 0],
      [5, 6, 6, 7, true, false, 3, 5],
    ]);
    assert.deepEqual(r.entries[1]!.reply, { src: '198.51.100.100', dst: '192.0.2.100', sport: 80, dport: 40000 });
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0]!.line, 6);
    assert.match(r.errors[0]!.message, /ICMP type\/code\/id are missing.*-o extended/);
  });

  it('names the line and the problem of every bad line, and keeps reading the good ones', () => {
    const good = 'ipv4 2 udp 17 29 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1 mark=0 use=1';
    const text = [
      good,
      'ipv4 2 udp 17 29 src=192.0.2.300 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1 mark=0 use=1',
      'ipv4 2 tcp 6 29 BOGUS src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1 mark=0 use=1',
      'ipv4 2 udp 17 29 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=70000 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1',
      'ipv4 2 udp 17 29 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 mark=0 use=1',
      'ipv4 2 udp 17 29 src=192.0.2.1 dst=2001:db8::1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1',
      'ipv6 10 udp 17 29 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1',
      'ipv4 2 udp 17 9999999999 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1',
      'ipv4 2 udp 17 29 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1 frobnicate=1',
      'ipv4 2 udp 6 29 src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1',
      'hello world',
      'ipv4 2 udp 17 29 src=192.0.2.1 dst=198.51.100.1 sport=1 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1',
      'ipv4 2 tcp 6 29 ESTABLISHED src=192.0.2.1 dst=198.51.100.1 sport=1 dport=2 src=198.51.100.1 dst=192.0.2.1 sport=2 dport=1 zone-orig=1 zone-reply=2',
      '',
      good.replace('sport=1 dport=2 src', 'sport=3 dport=2 src').replace('sport=2 dport=1', 'sport=2 dport=3'),
    ].join('\n');
    const r = parseConntrackDump(text, 41);
    assert.deepEqual(r.entries.map((e) => e.line), [41, 55]);
    const byLine = Object.fromEntries(r.errors.map((e) => [e.line, e.message]));
    assert.deepEqual(Object.keys(byLine).map(Number), [42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53]);
    assert.match(byLine[42]!, /original src '192\.0\.2\.300' is not an IPv4 or IPv6 address/);
    assert.match(byLine[43]!, /unknown TCP state 'BOGUS'/);
    assert.match(byLine[44]!, /original dport 70000 is above 65535/);
    assert.match(byLine[45]!, /reply tuple is missing/);
    assert.match(byLine[46]!, /different families/);
    assert.match(byLine[47]!, /ipv6 entry with IPv4 addresses/);
    assert.match(byLine[48]!, /timeout 9999999999 is above/);
    assert.match(byLine[49]!, /unknown field 'frobnicate='/);
    assert.match(byLine[50]!, /protocol udp with number 6/);
    assert.match(byLine[51]!, /too few fields|expected a protocol name|unexpected/);
    assert.match(byLine[52]!, /original tuple lacks dport=/);
    assert.match(byLine[53]!, /directional zones/);
  });
});
