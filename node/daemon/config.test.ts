import assert from 'node:assert/strict';
import { checkConfigText, parseConfigText } from './config.js';
import { ConfigError } from './config-reader.js';

describe('node config', () => {
  it('collects every bad setting with its line, once per mistake (no echo of a section that is not a mapping)', () => {
    const r = checkConfigText('node:\n  name: fwa\nvrrp: 3\napi:\n  listen: nope\n  tokenFile: /t\nconntrack:\n  maxEntries: 1\n  tcpLoose: maybe\n', 'c.yaml');
    assert.deepEqual(r.errors.map((e) => e.message), [
      'c.yaml:3: vrrp: expected a mapping, got 3',
      'c.yaml:5: api.listen: expected host:port, e.g. 127.0.0.1:8470 or [::1]:8470, got "nope"',
      'c.yaml:8: conntrack.maxEntries: expected an integer from 1024 to 16777216, got 1',
      'c.yaml:9: conntrack.tcpLoose: expected true or false, got "maybe"',
    ]);
    // parseConfigText still stops at the first.
    assert.throws(() => parseConfigText('node:\n  name: fwa\nvrrp: 3\nlog: {level: x}\n', 'c.yaml'), /^Error: c\.yaml:3: vrrp: expected a mapping, got 3$/);
  });

  it('fills defaults for everything but the node name', () => {
    const c = parseConfigText('node:\n  name: fwa\n');
    assert.equal(c.node.name, 'fwa');
    assert.equal(c.datapath.tun, 'hafw0');
    assert.deepEqual(c.datapath.interfaces, ['lan', 'wan']);
    assert.equal(c.datapath.offloads, true);
    assert.equal(c.datapath.failClosed, true);
  });

  it('conntrack.checksum: verified by default (nf_conntrack_checksum=1), off by choice, checked', () => {
    assert.equal(parseConfigText('node:\n  name: fwa\n').conntrack.checksum, true);
    assert.equal(parseConfigText('node:\n  name: fwa\nconntrack:\n  checksum: false\n').conntrack.checksum, false);
    assert.deepEqual(checkConfigText('node:\n  name: fwa\nconntrack:\n  checksum: 0\n', 'c.yaml').errors.map((e) => e.message),
      ['c.yaml:4: conntrack.checksum: expected true or false, got 0']);
  });

  it('conntrack.prefaultIndex: on by default (index mapped at start), off on request, checked', () => {
    assert.equal(parseConfigText('node:\n  name: fwa\n').conntrack.prefaultIndex, true);
    assert.equal(parseConfigText('node:\n  name: fwa\nconntrack:\n  prefaultIndex: false\n').conntrack.prefaultIndex, false);
    assert.throws(() => parseConfigText('node:\n  name: fwa\nconntrack:\n  prefaultIndex: lazy\n', 'x.yaml'), /^Error: x\.yaml:4: conntrack\.prefaultIndex: expected true or false, got "lazy"$/);
  });

  it('datapath.nice: unset by default (the thread keeps its inherited value), any nice value on request, checked', () => {
    assert.equal(parseConfigText('node:\n  name: fwa\n').datapath.nice, undefined);
    assert.equal(parseConfigText('node:\n  name: fwa\ndatapath:\n  nice: -10\n').datapath.nice, -10);
    assert.deepEqual(checkConfigText('node:\n  name: fwa\ndatapath:\n  nice: -21\n', 'c.yaml').errors.map((e) => e.message),
      ['c.yaml:4: datapath.nice: expected an integer from -20 to 19, got -21']);
  });

  it('names the path and line of a bad value', () => {
    const text = 'node:\n  name: fwa\ndatapath:\n  batchSize: 0\n';
    assert.throws(() => parseConfigText(text, 'x.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.path, 'datapath.batchSize');
      assert.equal(err.line, 4);
      assert.match(err.message, /^x\.yaml:4: datapath\.batchSize: expected an integer from 1 to 1024, got 0$/);
      return true;
    });
  });

  it('log.rulesetRate / rulesetBurst: 100 lines/s, burst 200 by default; checked', () => {
    assert.deepEqual(parseConfigText('node:\n  name: fwa\n').log, { level: 'info', rulesetRate: 100, rulesetBurst: 200, pcapFile: undefined, pcapMaxBytes: 67108864 });
    assert.equal(parseConfigText('node:\n  name: fwa\nlog:\n  pcapFile: /var/log/hafw/ruleset.pcap\n').log.pcapFile, '/var/log/hafw/ruleset.pcap');
    assert.throws(() => parseConfigText('node:\n  name: fwa\nlog:\n  pcapFile: ruleset.pcap\n', 'x.yaml'), /^Error: x\.yaml:4: log\.pcapFile: expected an absolute file path/);
    const c = parseConfigText('node:\n  name: fwa\nlog:\n  rulesetRate: 0\n  rulesetBurst: 5\n');
    assert.deepEqual([c.log.rulesetRate, c.log.rulesetBurst], [0, 5]);
    assert.throws(() => parseConfigText('node:\n  name: fwa\nlog:\n  rulesetBurst: 0\n', 'x.yaml'), /^Error: x\.yaml:4: log\.rulesetBurst: expected an integer from 1/);
  });

  it('datapath.inputDevices: per-interface by default (one TUN device and table per interface), shared on request; tables and names checked', () => {
    assert.equal(parseConfigText('node:\n  name: fwa\n').datapath.inputDevices, 'per-interface');
    assert.equal(parseConfigText('node:\n  name: fwa\ndatapath:\n  inputDevices: shared\n').datapath.inputDevices, 'shared');
    assert.throws(() => parseConfigText('node:\n  name: fwa\ndatapath:\n  inputDevices: one\n', 'x.yaml'), /^Error: x\.yaml:4: datapath\.inputDevices: expected one of per-interface, shared/);
    // Two interfaces take tables 252 and 253 after routeTable 250 (and its output table 251): 253 is the kernel's.
    assert.deepEqual(checkConfigText('node:\n  name: fwa\ndatapath:\n  routeTable: 250\n', 'c.yaml').errors.map((e) => e.message),
      ['c.yaml:4: datapath.routeTable: inputDevices per-interface takes tables routeTable+2..routeTable+3 (one per interface; 253-255 are the kernel\'s): routeTable must be at most 249, got 250']);
    assert.equal(parseConfigText('node:\n  name: fwa\ndatapath:\n  routeTable: 250\n  inputDevices: shared\n').datapath.routeTable, 250);
    assert.equal(parseConfigText('node:\n  name: fwa\ndatapath:\n  routeTable: 249\n').datapath.routeTable, 249);
    assert.throws(() => parseConfigText('node:\n  name: fwa\ndatapath:\n  tun: t\n  interfaces: [enp0s31f6xxxxx, "0"]\n', 'x.yaml'), /datapath\.inputDevices: .*input device name t-0 \(for 0\) is taken/);
  });

  it('has Linux\'s fragment reassembly limits by default, and checks the ones given', () => {
    assert.deepEqual(parseConfigText('node:\n  name: fwa\n').datapath.fragments, { timeoutIpv4: 30, timeoutIpv6: 60, maxBytes: 4194304, maxPerDatagram: 256 });
    const c = parseConfigText('node:\n  name: fwa\ndatapath:\n  fragments:\n    timeoutIpv4: 10\n    maxBytes: 16777216\n');
    assert.equal(c.datapath.fragments.timeoutIpv4, 10);
    assert.equal(c.datapath.fragments.maxBytes, 16777216);
    assert.throws(() => parseConfigText('node:\n  name: fwa\ndatapath:\n  fragments:\n    maxBytes: 100\n', 'x.yaml'), /^Error: x\.yaml:5: datapath\.fragments\.maxBytes: expected an integer from 65536/);
    assert.throws(() => parseConfigText('node:\n  name: fwa\ndatapath:\n  fragments:\n    timeout: 10\n'), /datapath\.fragments\.timeout: unknown setting/);
  });

  it('vrrp.groups: several groups, each with its own vrid, priority and VIPs; the single-group form is one group', () => {
    const one = parseConfigText('node:\n  name: fwa\nvrrp:\n  interface: lan\n  vrid: 51\n  priority: 200\n  vips:\n    - {interface: lan, address: 192.0.2.1/24}\n');
    assert.deepEqual(one.vrrp?.groups, [{ name: 'vrid51', vrid: 51, priority: 200, vips: [{ interface: 'lan', address: '192.0.2.1/24' }] }]);
    const text = [
      'node:', '  name: fwa', 'vrrp:', '  interface: lan', '  priority: 150', '  groups:',
      '    - name: a', '      vrid: 51', '      priority: 200', '      vips:', '        - {interface: lan, address: 192.0.2.1/24}', '        - {interface: wan, address: "2001:db8:2::1/64"}',
      '    - vrid: 52', '      vips:', '        - {interface: lan, address: 192.0.2.254/24}', '',
    ].join('\n');
    const c = parseConfigText(text);
    assert.deepEqual(c.vrrp?.groups.map((g) => [g.name, g.vrid, g.priority, g.vips.length]), [['a', 51, 200, 2], ['vrid52', 52, 150, 1]]);
    assert.equal(c.vrrp?.vrid, 51);
    assert.deepEqual(c.vrrp?.vips.map((v) => v.address), ['192.0.2.1/24', '2001:db8:2::1/64', '192.0.2.254/24']);
  });

  it('vrrp.groups: refuses a vrid, a name or a VIP used twice, an empty list, and groups beside vrrp.vrid/vips, each with its place', () => {
    const head = 'node:\n  name: fwa\nvrrp:\n  interface: lan\n';
    const r = checkConfigText(head + [
      '  vrid: 9', '  groups:',
      '    - {name: a, vrid: 51, vips: [{interface: lan, address: 192.0.2.1/24}]}',
      '    - {name: a, vrid: 51, vips: [{interface: lan, address: 192.0.2.1/25}]}',
      '    - {vrid: 53, vips: []}', '',
    ].join('\n'), 'g.yaml');
    assert.deepEqual(r.errors.map((e) => e.message), [
      'g.yaml:5: vrrp.vrid: set per group with vrrp.groups (vrrp.vrid describes the one group of a single-group config)',
      'g.yaml:8: vrrp.groups[1].vrid: vrid 51 is already the vrid of vrrp.groups[0]',
      'g.yaml:8: vrrp.groups[1].name: name a is already the name of vrrp.groups[0]',
      'g.yaml:8: vrrp.groups[1].vips[0].address: 192.0.2.1 is already a VIP of vrrp.groups[0]: an address can follow only one group\'s master',
      'g.yaml:9: vrrp.groups[2].vips: at least one VIP is required',
    ]);
    assert.throws(() => parseConfigText(head + '  groups: []\n', 'e.yaml'), /^Error: e\.yaml:5: vrrp\.groups: at least one group is required$/);
    assert.throws(() => parseConfigText(head + '  groups:\n    - {vrid: 1, vips: [{interface: lan, address: 192.0.2.1}], preempt: false}\n', 'e.yaml'), /vrrp\.groups\[0\]\.preempt: unknown setting/);
  });

  it('sync.handoff: on by default with several VRRP groups, off with one; its port (sync.port + 2) must differ from sync.port and ruleset.distPort', () => {
    const head = 'node:\n  name: fwa\nsync:\n  interface: sync\n  key: ' + 'ab'.repeat(32) + '\n';
    const groups = 'vrrp:\n  interface: lan\n  groups:\n    - {vrid: 1, vips: [{interface: lan, address: 192.0.2.1/24}]}\n    - {vrid: 2, vips: [{interface: lan, address: 192.0.2.254/24}]}\n';
    const one = 'vrrp:\n  interface: lan\n  vrid: 1\n  vips: [{interface: lan, address: 192.0.2.1/24}]\n';
    const a = parseConfigText(groups + head);
    assert.deepEqual([a.sync?.handoff, a.sync?.handoffPort], [true, 3782]);
    assert.equal(parseConfigText(one + head).sync?.handoff, false);
    assert.equal(parseConfigText(one + head + '  handoff: true\n').sync?.handoff, true);
    assert.throws(() => parseConfigText(groups + head + '  handoffPort: 3780\n', 'h.yaml'), /sync\.handoffPort: must differ from sync\.port \(3780\)/);
    assert.throws(() => parseConfigText(groups + head + '  handoffPort: 3781\n', 'h.yaml'), /ruleset\.distPort: must differ from sync\.handoffPort \(3781\)/);
  });

  it('sync.handoffRate: 20,000 packets/s per peer by default, 0 for no cap, a negative rate refused at its place', () => {
    const head = 'node:\n  name: fwa\nsync:\n  interface: sync\n  key: ' + 'ab'.repeat(32) + '\n';
    assert.equal(parseConfigText(head).sync?.handoffRate, 20_000);
    assert.equal(parseConfigText(head + '  handoffRate: 0\n').sync?.handoffRate, 0);
    assert.throws(() => parseConfigText(head + '  handoffRate: -5\n', 'r.yaml'), /r\.yaml:6: sync\.handoffRate: expected an integer from 0 to 10000000, got -5/);
  });

  it('refuses a YAML alias bomb (billion laughs) quickly, as a ConfigError with file:line', () => {
    // Nine levels of ten aliases each: 10^9 values if expanded.
    const lines = ['lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 10; i++) lines.push(`lol${i}: &lol${i} [${Array(10).fill(`*lol${i - 1}`).join(', ')}]`);
    lines.push('node:', '  name: fwa');
    const t0 = performance.now();
    assert.throws(() => parseConfigText(lines.join('\n') + '\n', 'laughs.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `a ConfigError, not ${(err as Error).constructor.name}`);
      assert.equal(err.line, 2, 'the first alias');
      assert.match(err.message, /^laughs\.yaml:2: .*YAML aliases: .*more than 100 alias copies/);
      return true;
    });
    assert.ok(performance.now() - t0 < 1000);
    // A few aliases are fine.
    const c = parseConfigText('node:\n  name: fwa\nvrrp:\n  interface: lan\n  vrid: 1\n  vips:\n    - {interface: lan, address: 192.0.2.1/24}\n  track: &ifs [lan, wan]\nsniff:\n  interfaces: *ifs\n', 'ok.yaml');
    assert.deepEqual(c.sniff?.interfaces, ['lan', 'wan']);
  });

  it('has caps on ruleset size and cost, event streams, and an optional metrics token', () => {
    const d = parseConfigText('node:\n  name: fwa\n');
    assert.deepEqual(d.ruleset.limits, { maxBytes: 1048576, maxElements: 65536, maxExpandedTokens: 262144 });
    assert.equal(d.api.maxEventStreams, 32);
    assert.equal(d.api.metricsTokenFile, undefined);
    const c = parseConfigText('node:\n  name: fwa\nruleset:\n  maxBytes: 4194304\n  maxElements: 1000000\n  maxExpandedTokens: 5000000\napi:\n  listen: 127.0.0.1:8470\n  tokenFile: /etc/hafw/token\n  metricsTokenFile: /etc/hafw/metrics-token\n  maxEventStreams: 4\n');
    assert.deepEqual(c.ruleset.limits, { maxBytes: 4194304, maxElements: 1000000, maxExpandedTokens: 5000000 });
    assert.equal(c.api.metricsTokenFile, '/etc/hafw/metrics-token');
    assert.equal(c.api.maxEventStreams, 4);
    assert.throws(() => parseConfigText('node:\n  name: fwa\nruleset:\n  maxBytes: 10\n', 'x.yaml'), /^Error: x\.yaml:4: ruleset\.maxBytes: expected an integer from 1024/);
    assert.throws(() => parseConfigText('node:\n  name: fwa\napi:\n  metricsTokenFile: /t\n', 'x.yaml'), /x\.yaml:4: api\.metricsTokenFile: only used with api\.listen/);
  });

  it('reads an optional view-only token file (api.viewTokenFile), only with api.listen', () => {
    assert.equal(parseConfigText('node:\n  name: fwa\n').api.viewTokenFile, undefined);
    const c = parseConfigText('node:\n  name: fwa\napi:\n  listen: 127.0.0.1:8470\n  tokenFile: /etc/hafw/token\n  viewTokenFile: /etc/hafw/view.token\n');
    assert.equal(c.api.viewTokenFile, '/etc/hafw/view.token');
    assert.throws(() => parseConfigText('node:\n  name: fwa\napi:\n  viewTokenFile: /t\n', 'x.yaml'), /x\.yaml:4: api\.viewTokenFile: only used with api\.listen \(the control socket needs no token\)/);
  });

  it('serves the management listener over TLS (api.tls); plain HTTP only on loopback or with api.allowPlainHttp', () => {
    const api = (body: string) => `node:\n  name: fwa\napi:\n${body}`;
    const t = parseConfigText(api('  listen: 192.0.2.2:8470\n  tokenFile: /t\n  tls:\n    certFile: /etc/hafw/api.crt\n    keyFile: /etc/hafw/api.key\n'));
    assert.deepEqual(t.api.tls, { certFile: '/etc/hafw/api.crt', keyFile: '/etc/hafw/api.key' });
    assert.equal(t.api.allowPlainHttp, false);
    for (const host of ['127.0.0.1', '127.3.2.1', '[::1]', 'localhost']) assert.equal(parseConfigText(api(`  listen: "${host}:8470"\n  tokenFile: /t\n`)).api.tls, undefined, host);
    assert.throws(() => parseConfigText(api('  listen: 0.0.0.0:8470\n  tokenFile: /t\n'), 'x.yaml'), /x\.yaml:4: api\.listen: 0\.0\.0\.0:8470 is not a loopback address: serve TLS \(api\.tls\.certFile and api\.tls\.keyFile\) or, .* set api\.allowPlainHttp: true/);
    assert.equal(parseConfigText(api('  listen: 0.0.0.0:8470\n  tokenFile: /t\n  allowPlainHttp: true\n')).api.allowPlainHttp, true);
    assert.throws(() => parseConfigText(api('  listen: 192.0.2.2:8470\n  tokenFile: /t\n  tls:\n    certFile: /c\n'), 'x.yaml'), /x\.yaml:6: api\.tls\.keyFile: required/);
    assert.throws(() => parseConfigText(api('  tls:\n    certFile: /c\n    keyFile: /k\n'), 'x.yaml'), /api\.tls: only used with api\.listen/);
    assert.throws(() => parseConfigText(api('  listen: 192.0.2.2:8470\n  tokenFile: /t\n  tls:\n    certFile: /c\n    keyFile: /k\n    caFile: /x\n'), 'x.yaml'), /api\.tls\.caFile: unknown setting/);
  });

  it('keeps a master advertising through control-thread stalls of up to 5 s by default; the limit must exceed the interval', () => {
    const vrrp = (extra: string) => `node:\n  name: fwa\nvrrp:\n  interface: lan\n  vrid: 1\n  advertIntervalMs: 1000\n${extra}  vips:\n    - {interface: lan, address: 192.0.2.1/24}\n`;
    assert.equal(parseConfigText(vrrp(''), 'a.yaml').vrrp?.controlStallLimitMs, 5000);
    assert.equal(parseConfigText(vrrp('  controlStallLimitMs: 3000\n'), 'a.yaml').vrrp?.controlStallLimitMs, 3000);
    // A long interval: twice the interval.
    assert.equal(parseConfigText(vrrp('').replace('advertIntervalMs: 1000', 'advertIntervalMs: 4000'), 'a.yaml').vrrp?.controlStallLimitMs, 8000);
    assert.throws(() => parseConfigText(vrrp('  controlStallLimitMs: 1000\n'), 'b.yaml'), (e: Error) => e instanceof ConfigError && /vrrp\.controlStallLimitMs.*longer than advertIntervalMs/.test(e.message));
  });

  it('rejects unknown settings instead of ignoring a typo', () => {
    assert.throws(() => parseConfigText('node:\n  name: fwa\ndatapath:\n  tunn: x\n'), /datapath\.tunn: unknown setting/);
  });

  it('names the index of a bad list element', () => {
    assert.throws(
      () => parseConfigText('node: {name: a}\ndatapath:\n  interfaces: [lan, "bad name!"]\n'),
      /datapath\.interfaces\[1\]: expected an interface name/,
    );
  });

  it('reports YAML syntax errors with their line', () => {
    assert.throws(() => parseConfigText('node:\n  name: [\n', 'y.yaml'), /^Error: y\.yaml:\d+: \(top level\): YAML syntax/);
  });

  it('requires the node name', () => {
    assert.throws(() => parseConfigText('datapath: {}\n'), /node\.name: required/);
  });

  describe('ruleset distribution settings', () => {
    const SYNC = 'sync:\n  interface: sync\n  key: ' + 'ab'.repeat(32) + '\n';

    it('is on with sync, on sync.port + 1, with documented defaults', () => {
      const c = parseConfigText(`node: {name: fwa}\n${SYNC}`);
      assert.deepEqual(c.ruleset.dist, { port: 3781, historySize: 20, stateDir: '/var/lib/hafw/fwa', repairDrift: true, driftGraceMs: 10000, announceIntervalMs: 1000, startupGraceMs: 3000, maxConnections: 8, connectionDeadlineMs: 5000 });
      const d = parseConfigText(`node: {name: fwa}\n${SYNC}ruleset:\n  distMaxConnections: 16\n  distConnectionDeadlineMs: 2000\n`).ruleset.dist!;
      assert.deepEqual([d.maxConnections, d.connectionDeadlineMs], [16, 2000]);
      assert.throws(() => parseConfigText(`node: {name: fwa}\n${SYNC}ruleset:\n  distMaxConnections: 0\n`, 'c.yaml'), /c\.yaml:6: ruleset\.distMaxConnections: expected an integer from 1 to 1024, got 0/);
    });

    it('is off without sync, or with distribute: false', () => {
      assert.equal(parseConfigText('node: {name: fwa}\n').ruleset.dist, undefined);
      assert.equal(parseConfigText(`node: {name: fwa}\n${SYNC}ruleset:\n  distribute: false\n`).ruleset.dist, undefined);
    });

    it('names file and line of a bad ruleset setting', () => {
      assert.throws(() => parseConfigText(`node: {name: fwa}\n${SYNC}ruleset:\n  historySize: 0\n`, 'c.yaml'), /^Error: c\.yaml:6: ruleset\.historySize: expected an integer from 1 to 1000, got 0$/);
      assert.throws(() => parseConfigText(`node: {name: fwa}\n${SYNC}ruleset:\n  stateDir: relative/dir\n`, 'c.yaml'), /c\.yaml:6: ruleset\.stateDir: expected an absolute directory path/);
      assert.throws(() => parseConfigText(`node: {name: fwa}\n${SYNC}ruleset:\n  distPort: 3780\n`, 'c.yaml'), /c\.yaml:6: ruleset\.distPort: must differ from sync\.port/);
      assert.throws(() => parseConfigText('node: {name: fwa}\nruleset:\n  distribute: true\n', 'c.yaml'), /c\.yaml:3: ruleset\.distribute: ruleset distribution runs on the sync segment/);
    });
  });
});
