import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkNodeConfig } from '../cli/node-check.js';
import { BracesError, importConfig, parseBraces } from './index.js';

const KEEPALIVED = `! keepalived.conf of fw-a
global_defs {
   router_id fw-a
   vrrp_version 3
   vrrp_garp_master_repeat 3
}
vrrp_script chk_nft {
    script "/usr/local/bin/check-nft"
}
vrrp_instance VI_LAN {
    state MASTER
    interface eth1
    virtual_router_id 51
    priority 150
    advert_int 0.05
    nopreempt
    preempt_delay 2.5
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        192.0.2.1/24 dev eth1
        2001:db8:1::1/64
    }
    track_script { chk_nft }
    unicast_peer {
        203.0.113.2
    }
    notify /usr/local/bin/notify.sh
}
vrrp_instance VI_WAN {
    interface eth2
    virtual_router_id 52
    virtual_ipaddress {
        198.51.100.1/24 dev eth2
    }
}
virtual_server 192.0.2.1 80 {
    lb_algo rr
}
`;

const CONNTRACKD_MCAST = `Sync {
    Mode FTFW {
        ResendQueueSize 100000
    }
    Multicast {
        IPv4_address 225.0.0.50
        Group 3780
        IPv4_interface 203.0.113.1
        Interface eth3
        Checksum on
    }
}
General {
    HashLimit 131072
    Filter From Userspace {
        Address Ignore { IPv4_address 127.0.0.1 }
    }
}
`;

const CONNTRACKD_UDP = `Sync {
    Mode FTFW { }
    UDP {
        IPv4_address 203.0.113.1
        IPv4_Destination_Address 203.0.113.2
        Port 3790
        Interface eth3
    }
}
`;

const base = { fallbackName: 'host', keyFile: '/etc/hafw/sync.key' };

describe('hafw import: keepalived.conf and conntrackd.conf to a node config', () => {
  it('reads the braces-and-words format with the place of every word', () => {
    const s = parseBraces('a b {\n  c "d e" # comment\n  f { g h }\n}\n! comment\ni\n', 'x.conf');
    assert.deepEqual(s.map((x) => x.words.map((w) => w.text)), [['a', 'b'], ['i']]);
    assert.deepEqual(s[0]!.children!.map((x) => x.words.map((w) => w.text)), [['c', 'd e'], ['f']]);
    assert.deepEqual(s[0]!.children![1]!.children![0]!.words.map((w) => [w.text, w.line, w.col]), [['g', 3, 7], ['h', 3, 9]]);
    assert.equal(s[1]!.line, 6);
  });

  it('refuses unbalanced braces and unterminated strings with file:line:col', () => {
    const err = (t: string): string => {
      try {
        parseBraces(t, 'k.conf');
      } catch (e) {
        assert.ok(e instanceof BracesError);
        return e.message;
      }
      return 'no error';
    };
    assert.equal(err('a {\n  b {\n  }\n'), "k.conf:1:1: the block of 'a' is never closed (missing '}')");
    assert.equal(err('a {\n}\n}\n'), "k.conf:3:1: '}' without a '{' to close");
    assert.equal(err('a "b\n'), 'k.conf:1:3: a string that does not end on its line (missing ")');
    assert.equal(err('{ x }'), "k.conf:1:1: '{' without a name before it");
  });

  it('keepalived: the first instance makes the router, every instance\'s VIPs (IPv4 and IPv6) join its group; the rest is listed with its line and why', () => {
    const { draft, yaml } = importConfig({ ...base, keepalived: { file: 'keepalived.conf', text: KEEPALIVED } });
    const doc = parseYaml(yaml) as Record<string, Record<string, unknown>>;
    assert.deepEqual(doc.node, { name: 'fw-a' });
    assert.deepEqual(doc.datapath, { interfaces: ['eth1', 'eth2'] });
    assert.deepEqual(doc.vrrp, {
      interface: 'eth1', vrid: 51, priority: 150, advertIntervalMs: 50, preempt: false, preemptDelayMs: 2500,
      vips: [{ interface: 'eth1', address: '192.0.2.1/24' }, { interface: 'eth1', address: '2001:db8:1::1/64' }, { interface: 'eth2', address: '198.51.100.1/24' }],
      unicastPeers: ['203.0.113.2'], announceRepeat: 3, notify: ['/usr/local/bin/notify.sh'],
    });
    assert.equal(doc.sync, undefined);
    const unmapped = draft.unmapped.map((f) => `${f.line}:${f.setting}`);
    assert.deepEqual(unmapped, ['7:vrrp_script chk_nft { ... }', '11:state MASTER', '18:authentication { ... }', '26:track_script { ... }', '39:virtual_server 192.0.2.1 80 { ... }']);
    assert.match(draft.unmapped[2]!.reason, /VRRPv3 \(RFC 5798\) has no authentication/);
    assert.match(yaml, /^# Not mapped/m);
    assert.match(yaml, /^# {3}keepalived\.conf:18: authentication \{ \.\.\. \}: VRRPv3/m);
    assert.ok(draft.notes.some((f) => f.line === 33 && /VIPs of VI_WAN join/.test(f.reason)));
  });

  it('keepalived with VRRPv2, a bad VRID and an address that is none: each is listed, the rest still maps', () => {
    const { draft } = importConfig({ ...base, keepalived: { file: 'k', text: 'vrrp_instance A {\n interface lan\n virtual_router_id 300\n vrrp_version 2\n virtual_ipaddress {\n  192.0.2.300/24\n  192.0.2.1\n }\n}\n' } });
    assert.deepEqual(draft.unmapped.map((f) => [f.line, f.reason.slice(0, 30)]), [
      [3, 'the VRID must be 1-255'],
      [4, 'hafw speaks VRRPv3 only: switc'],
      [6, 'not an address (expected ADDRE'],
    ]);
    assert.deepEqual(draft.vrrp!.vips, [{ interface: 'lan', address: '192.0.2.1' }]);
  });

  it('conntrackd: a Multicast link gives interface, address, group and port; a UDP link gives the peers', () => {
    const m = importConfig({ ...base, conntrackd: { file: 'conntrackd.conf', text: CONNTRACKD_MCAST } });
    const sync = (parseYaml(m.yaml) as { sync: unknown }).sync;
    assert.deepEqual(sync, { interface: 'eth3', address: '203.0.113.1', group: '225.0.0.50', port: 3780, keyFile: '/etc/hafw/sync.key', resendQueueSize: 131072 });
    assert.deepEqual(m.draft.unmapped.map((f) => f.line), [10, 14, 15]);
    assert.ok(m.draft.notes.some((f) => /ResendQueueSize 100000/.test(f.setting) && /131072/.test(f.reason)));
    const u = importConfig({ ...base, conntrackd: { file: 'c', text: CONNTRACKD_UDP } });
    assert.deepEqual((parseYaml(u.yaml) as { sync: unknown }).sync, { interface: 'eth3', address: '203.0.113.1', port: 3790, peers: ['203.0.113.2'], keyFile: '/etc/hafw/sync.key' });
    assert.deepEqual(u.draft.unmapped, []);
  });

  describe('the written config passes hafw node --check', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(path.join(tmpdir(), 'hafw-import-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('from keepalived.conf and conntrackd.conf together, with the key file it names', async () => {
      const keyFile = path.join(dir, 'sync.key');
      writeFileSync(keyFile, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
      const rules = path.join(dir, 'ruleset.nft');
      writeFileSync(rules, 'table inet f {\n chain fw { type filter hook forward priority 0; policy drop;\n  ct state established,related accept\n }\n}\n');
      const { yaml } = importConfig({ ...base, keyFile, rulesetFile: rules, keepalived: { file: 'k', text: KEEPALIVED }, conntrackd: { file: 'c', text: CONNTRACKD_MCAST } });
      const file = path.join(dir, 'node.yaml');
      writeFileSync(file, yaml);
      const report = await checkNodeConfig(file);
      assert.deepEqual(report.errors, []);
      assert.equal(report.ok, true);
      assert.equal((parseYaml(yaml) as { vrrp: { syncInterface: string } }).vrrp.syncInterface, 'eth3');
    });

    it('from conntrackd.conf alone (no vrrp section; the default filtered interfaces)', async () => {
      const keyFile = path.join(dir, 'sync2.key');
      writeFileSync(keyFile, `${'cd'.repeat(32)}\n`, { mode: 0o600 });
      const file = path.join(dir, 'node2.yaml');
      writeFileSync(file, importConfig({ ...base, name: 'fw-b', keyFile, conntrackd: { file: 'c', text: CONNTRACKD_UDP } }).yaml);
      const report = await checkNodeConfig(file);
      assert.deepEqual(report.errors, []);
      assert.equal(report.node, 'fw-b');
    });
  });
});
