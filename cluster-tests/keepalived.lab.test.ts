/**
 * @lab keepalived interoperability: a hafw node and Debian's keepalived 2.2 in the same
 * VRRPv3 group (VRID 51) elect one master and hand the VIPs over in both directions.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Lab, LAB_DIR, sh, vrrpConfig } from './lab.js';
import { FIREWALLS, NS, SERVER } from './topology.js';
import { spawnDetached, stopPid, sleep } from './exec.js';
import { ping } from './traffic.js';
import { hasTool } from './requirements.js';

const KA_CONF = path.join(LAB_DIR, 'keepalived.conf');

function keepalivedConf(priority: number): string {
  // keepalived checks that an advertisement lists its own IPv4 VIPs: list the same ones
  // hafw advertises (LAN and WAN); the IPv6 VIPs move with the group but are not
  // advertised by an IPv4 instance (virtual_ipaddress_excluded). advert_int matches hafw's.
  return `global_defs {
  router_id fwb-keepalived
  vrrp_version 3
  script_user root
}
vrrp_instance hafw {
  state BACKUP
  interface lan
  virtual_router_id 51
  priority ${priority}
  advert_int 0.1
  virtual_ipaddress {
    192.0.2.1/24 dev lan
    198.51.100.1/24 dev wan
  }
  virtual_ipaddress_excluded {
    2001:db8:1::1/64 dev lan
    2001:db8:2::1/64 dev wan
  }
}
`;
}

async function keepalivedHoldsVip(): Promise<boolean> {
  return (await sh(['ip', '-n', NS.fw('fwb'), '-4', 'addr', 'show', 'dev', 'lan'])).includes('192.0.2.1/24');
}

async function until(cond: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for: ${what}`);
}

describe('@lab keepalived interoperability', function () {
  this.timeout(120000);
  let lab: Lab;
  let kaPid = 0;

  before(async function () {
    if (!(await hasTool('keepalived'))) throw new Error('keepalived is not installed: apt-get install keepalived (scripts/install-system-deps.sh does)');
  });

  async function setUp(kaPriority: number): Promise<void> {
    lab = await Lab.up({ nodes: 2, startNodes: false, vrrp: true });
    await writeFile(KA_CONF, keepalivedConf(kaPriority));
    // hafw on fwa (priority 200), keepalived on fwb; both at 100 ms adverts.
    await lab.startNode('fwa', vrrpConfig(FIREWALLS[0]!, 100));
    await lab.waitReady('fwa');
    const ka = spawnDetached(['keepalived', '--dont-fork', '--log-console', '--log-detail', '--vrrp', '-f', KA_CONF, '-p', path.join(LAB_DIR, 'keepalived.pid'), '-r', path.join(LAB_DIR, 'keepalived-vrrp.pid')], {
      ns: NS.fw('fwb'),
      logFile: path.join(LAB_DIR, 'keepalived.log'),
    });
    kaPid = ka.pid!;
  }

  afterEach(async () => {
    if (kaPid) await stopPid(kaPid);
    kaPid = 0;
    await Lab.down();
  });

  it('hafw (higher priority) is master; keepalived takes over when hafw resigns, hafw preempts back on restart', async () => {
    await setUp(100);
    await lab.waitRole('fwa', 'master');
    // Keepalived's VRRP process runs (it wrote its pid file), then hafw sends 10 more
    // advertisements: 1 s, beyond keepalived's Master_Down_Interval (3 x 100 ms and a skew),
    // so keepalived would have taken the VIPs by then if it did not accept them.
    await until(async () => existsSync(path.join(LAB_DIR, 'keepalived-vrrp.pid')), 'keepalived\'s VRRP process');
    const sent = async (): Promise<number> => ((await lab.status('fwa')) as { vrrp?: { counters: { advertsSent: number } } }).vrrp?.counters.advertsSent ?? 0;
    const sent0 = await sent();
    await until(async () => (await sent()) >= sent0 + 10, 'hafw to send 10 more advertisements');
    assert.equal(await keepalivedHoldsVip(), false, 'keepalived stays backup: it accepts our advertisements');
    await lab.stopNode('fwa', 'SIGTERM');
    await until(keepalivedHoldsVip, 'keepalived to take the VIPs after hafw resigned');
    assert.ok(await ping(SERVER.gw4, NS.server), 'the WAN VIP answers from keepalived');
    await lab.startNode('fwa');
    await lab.waitReady('fwa');
    await lab.waitRole('fwa', 'master');
    await until(async () => !(await keepalivedHoldsVip()), 'keepalived to release the VIPs to the preempting hafw');
    const s = (await lab.status('fwa')) as { vrrp?: { counters: { advertsReceived: number; advertsRejected: number } } };
    assert.ok((s.vrrp?.counters.advertsReceived ?? 0) > 0, 'hafw accepted keepalived advertisements');
  });

  it('keepalived (higher priority) is master; hafw follows as backup and takes over when keepalived stops', async () => {
    await setUp(250);
    await until(keepalivedHoldsVip, 'keepalived to become master');
    await lab.waitRole('fwa', 'backup');
    const s = (await lab.status('fwa')) as { vrrp?: { master?: { address: string; priority: number } } };
    assert.deepEqual(s.vrrp?.master, { address: '192.0.2.3', priority: 250 });
    await stopPid(kaPid);
    kaPid = 0;
    await lab.waitRole('fwa', 'master');
    await until(async () => !(await keepalivedHoldsVip()), 'keepalived to remove its VIPs on stop');
    assert.ok(await ping(SERVER.v4), 'traffic flows through hafw');
  });
});
