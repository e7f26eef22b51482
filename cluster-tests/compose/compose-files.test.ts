/**
 * The deployment files agree with each other and with the rules of this platform: every
 * address in 198.18.0.0/15, no `internal: true` network (it drops VRRP and sync multicast),
 * no NAT towards the host's uplink, node configs that the node itself accepts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parse } from 'yaml';
import { parseConfigText } from '../../node/daemon/config.js';
import { readSyncKey } from '../../node/daemon/secrets.js';
import { COMPOSE, REPO_ROOT } from './compose-topology.js';

interface Service {
  profiles?: string[];
  networks: Record<string, { ipv4_address: string }>;
  environment?: Record<string, string>;
  volumes?: string[];
  cap_add?: string[];
  devices?: string[];
  sysctls?: Record<string, string>;
  command?: string[];
  healthcheck?: { test: string[] };
}
interface ComposeFile {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean; driver_opts?: Record<string, string>; ipam: { config: { subnet: string; gateway: string }[] } }>;
}

const compose = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;

function inBenchmarkRange(addr: string): boolean {
  const [a, b] = addr.split('/')[0]!.split('.').map(Number);
  return a === 198 && (b === 18 || b === 19);
}

describe('compose files', () => {
  it('defines the lan, wan and sync networks with the subnets the tests use, all in 198.18.0.0/15', () => {
    for (const [name, want] of Object.entries(COMPOSE.networks)) {
      const net = compose.networks[name];
      assert.ok(net, `network ${name}`);
      const cfg = net.ipam.config[0]!;
      assert.equal(cfg.subnet, want.subnet);
      assert.ok(inBenchmarkRange(cfg.subnet) && inBenchmarkRange(cfg.gateway), `${name}: ${cfg.subnet} gw ${cfg.gateway}`);
      assert.equal(net.driver_opts?.['com.docker.network.bridge.name'], want.bridge);
    }
  });

  it('never uses internal networks (they drop multicast) and never masquerades towards the uplink', () => {
    for (const [name, net] of Object.entries(compose.networks)) {
      assert.notEqual(net.internal, true, `${name} must not be internal: VRRP/sync multicast would be dropped`);
      assert.equal(net.driver_opts?.['com.docker.network.bridge.enable_ip_masquerade'], 'false', `${name} masquerade`);
    }
  });

  it('keeps the bridge gateway off the VIP, so the VIP can live on the master', () => {
    assert.notEqual(compose.networks.lan!.ipam.config[0]!.gateway, COMPOSE.vips.lan);
    assert.notEqual(compose.networks.wan!.ipam.config[0]!.gateway, COMPOSE.vips.wan);
  });

  it('gives each firewall its addresses, the TUN device, NET_ADMIN, forwarding and its own config', () => {
    for (const fw of COMPOSE.firewalls) {
      const s = compose.services[fw.service]!;
      assert.equal(s.networks.lan!.ipv4_address, fw.lan);
      assert.equal(s.networks.wan!.ipv4_address, fw.wan);
      assert.equal(s.networks.sync!.ipv4_address, fw.sync);
      assert.ok(s.cap_add?.includes('NET_ADMIN'));
      assert.ok(s.devices?.some((d) => d.startsWith('/dev/net/tun')));
      assert.equal(s.sysctls?.['net.ipv4.ip_forward'], '1');
      assert.ok(s.volumes?.includes(`./${fw.config}:/etc/hafw/hafw.yaml:ro`), `${fw.service} mounts ${fw.config}`);
      assert.equal(s.environment?.HAFW_DEFAULT_ROUTE, 'none', 'a firewall has no default route out of the host');
      assert.deepEqual(s.healthcheck?.test, ['CMD', 'hafw', 'status', '--json'], 'healthy means the node answers');
    }
  });

  it('names every firewall interface after its network, by subnet', () => {
    for (const fw of COMPOSE.firewalls) {
      const spec = compose.services[fw.service]!.environment!.HAFW_IFNAMES!.split(/\s+/);
      const want = Object.entries(COMPOSE.networks).map(([name, n]) => `${name}=${n.subnet}`);
      assert.deepEqual(spec.sort(), want.sort());
    }
  });

  it('routes the demo client and server only via the VIPs', () => {
    const client = compose.services[COMPOSE.client.service]!;
    const server = compose.services[COMPOSE.server.service]!;
    assert.equal(client.networks.lan!.ipv4_address, COMPOSE.client.address);
    assert.equal(server.networks.wan!.ipv4_address, COMPOSE.server.address);
    assert.deepEqual(Object.keys(client.networks), ['lan']);
    assert.deepEqual(Object.keys(server.networks), ['wan']);
    assert.equal(client.environment?.HAFW_DEFAULT_ROUTE, COMPOSE.vips.lan);
    assert.equal(server.environment?.HAFW_DEFAULT_ROUTE, COMPOSE.vips.wan);
    assert.ok(server.command?.includes(String(COMPOSE.server.echoPort)));
  });

  it('ships node configs that the node accepts, named after their service, with the compose VIPs', () => {
    for (const fw of COMPOSE.firewalls) {
      const file = path.join(REPO_ROOT, fw.config);
      const cfg = parseConfigText(readFileSync(file, 'utf8'), file);
      assert.equal(cfg.node.name, fw.service);
      assert.deepEqual(cfg.datapath.interfaces, ['lan', 'wan']);
      assert.ok(cfg.vrrp, `${fw.config} has a vrrp section`);
      assert.deepEqual(cfg.vrrp.vips.map((v) => `${v.interface} ${v.address}`).sort(), [`lan ${COMPOSE.vips.lan}/24`, `wan ${COMPOSE.vips.wan}/24`]);
    }
  });

  it('has the entrypoint create every secret file a node config names, Prometheus\'s token the read-only one', () => {
    for (const fw of COMPOSE.firewalls) {
      const file = path.join(REPO_ROOT, fw.config);
      const cfg = parseConfigText(readFileSync(file, 'utf8'), file);
      const env = compose.services[fw.service]!.environment!;
      assert.equal(env.HAFW_SYNC_KEY_FILE, cfg.sync?.keyFile);
      assert.equal(env.HAFW_API_TOKEN_FILE, cfg.api.tokenFile);
      assert.ok(cfg.api.metricsTokenFile, `${fw.config}: a metrics token, so Prometheus does not hold the API token`);
      assert.equal(env.HAFW_METRICS_TOKEN_FILE, cfg.api.metricsTokenFile);
    }
    assert.match(readFileSync(path.join(REPO_ROOT, 'deploy', 'docker-entrypoint.sh'), 'utf8'), /^ensure_secret_file "\$\{HAFW_METRICS_TOKEN_FILE:-\}"/m);
  });

  it('makes the drill depend on state sync: sync on the sync network, a stateful ruleset, no mid-stream pickup', () => {
    for (const fw of COMPOSE.firewalls) {
      const cfg = parseConfigText(readFileSync(path.join(REPO_ROOT, fw.config), 'utf8'));
      assert.equal(cfg.sync?.interface, 'sync');
      assert.equal(cfg.conntrack.tcpLoose, false, 'mid-stream pickup would let flows survive without sync');
      assert.equal(cfg.ruleset.file, '/etc/hafw/ruleset.nft');
      const s = compose.services[fw.service]!;
      assert.ok(s.volumes?.includes('./deploy/ruleset.nft:/etc/hafw/ruleset.nft:ro'));
      assert.ok(s.volumes?.includes(`sync-key:${path.dirname(cfg.sync!.keyFile!)}`), 'both nodes share the key volume');
      assert.equal(s.environment?.HAFW_SYNC_KEY_FILE, cfg.sync!.keyFile);
    }
    const ruleset = readFileSync(path.join(REPO_ROOT, 'deploy', 'ruleset.nft'), 'utf8');
    assert.match(ruleset, /policy drop;/);
    assert.match(ruleset, /ct state established,related accept/);
  });

  it('adds a third firewall only with the three-nodes profile: its own addresses and config, the same router, the lowest priority', () => {
    const fw = COMPOSE.thirdFirewall;
    const s = compose.services[fw.service]!;
    assert.deepEqual(s.profiles, [fw.profile], 'not started by a plain `up` (the pair stays a pair)');
    for (const other of COMPOSE.firewalls) assert.equal(compose.services[other.service]!.profiles, undefined);
    assert.equal(s.networks.lan!.ipv4_address, fw.lan);
    assert.equal(s.networks.wan!.ipv4_address, fw.wan);
    assert.equal(s.networks.sync!.ipv4_address, fw.sync);
    for (const a of Object.values(s.networks)) assert.ok(inBenchmarkRange(a.ipv4_address));
    const used: string[] = COMPOSE.firewalls.flatMap((f) => [f.lan, f.wan, f.sync]);
    for (const a of [fw.lan, fw.wan, fw.sync]) assert.ok(!used.includes(a), `${a} is another firewall's`);
    assert.ok(s.volumes?.includes(`./${fw.config}:/etc/hafw/hafw.yaml:ro`));
    assert.ok(s.volumes?.includes('./deploy/ruleset.nft:/etc/hafw/ruleset.nft:ro'));
    assert.deepEqual(s.environment, compose.services['fw-a']!.environment, 'the same interface names, key and token files');
    assert.ok(s.cap_add?.includes('NET_ADMIN') && s.devices?.some((d) => d.startsWith('/dev/net/tun')));
    const file = path.join(REPO_ROOT, fw.config);
    const cfg = parseConfigText(readFileSync(file, 'utf8'), file);
    const [a, b] = COMPOSE.firewalls.map((f) => parseConfigText(readFileSync(path.join(REPO_ROOT, f.config), 'utf8')));
    assert.equal(cfg.node.name, fw.service);
    assert.ok(s.volumes?.includes(`sync-key:${path.dirname(cfg.sync!.keyFile!)}`), 'the cluster key volume');
    assert.equal(cfg.sync?.interface, 'sync');
    assert.equal(cfg.conntrack.tcpLoose, false);
    assert.equal(cfg.vrrp!.vrid, a!.vrrp!.vrid);
    assert.deepEqual(cfg.vrrp!.vips, a!.vrrp!.vips);
    assert.ok(cfg.vrrp!.priority < b!.vrrp!.priority && b!.vrrp!.priority < a!.vrrp!.priority, 'fw-a, then fw-b, then fw-c');
  });

  it('runs one virtual router with fw-a preferred', () => {
    const [a, b] = COMPOSE.firewalls.map((fw) => parseConfigText(readFileSync(path.join(REPO_ROOT, fw.config), 'utf8')).vrrp!);
    assert.equal(a!.vrid, b!.vrid, 'one virtual router');
    assert.ok(a!.priority > b!.priority, 'fw-a is the preferred master');
  });
});

describe('docker entrypoint', () => {
  function inSubnet(addr: string, net: string): boolean {
    const script = path.join(REPO_ROOT, 'deploy', 'docker-entrypoint.sh');
    const r = spawnSync('bash', ['-c', 'source "$1"; in_subnet "$2" "$3"', 'entrypoint-test', script, addr, net], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...process.env, HAFW_ENTRYPOINT_FUNCTIONS_ONLY: '1' },
    });
    assert.equal(r.stderr, '');
    return r.status === 0;
  }

  it('finds an interface by the subnet its address is in', () => {
    assert.equal(inSubnet('198.18.1.2', '198.18.1.0/24'), true);
    assert.equal(inSubnet('198.18.2.2', '198.18.1.0/24'), false);
    assert.equal(inSubnet('198.19.0.1', '198.18.0.0/15'), true);
    assert.equal(inSubnet('198.20.0.1', '198.18.0.0/15'), false);
    assert.equal(inSubnet('10.0.0.1', '0.0.0.0/0'), true);
  });

  it('creates the shared secret files (sync key, API token) mode 0600, which the node accepts, whatever the umask', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hafw-entrypoint-'));
    try {
      const script = path.join(REPO_ROOT, 'deploy', 'docker-entrypoint.sh');
      const key = path.join(dir, 'sub', 'sync.key');
      const r = spawnSync('bash', ['-c', 'umask 000; source "$1"; ensure_secret_file "$2" key', 'entrypoint-test', script, key], {
        encoding: 'utf8',
        timeout: 10_000,
        env: { ...process.env, HAFW_ENTRYPOINT_FUNCTIONS_ONLY: '1' },
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(statSync(key).mode & 0o777, 0o600);
      const s = parseConfigText(`node: {name: fwa}\nsync:\n  interface: sync\n  keyFile: ${key}\n`).sync!;
      assert.equal((await readSyncKey(s, 'refuse', { warn: () => undefined })).length, 32);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
