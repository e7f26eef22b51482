/**
 * The network-namespace lab: builds the topology of DESIGN §5, starts firewall nodes in
 * it, and always tears down. State lives in a file under /run/hafw/lab so that
 * `hafw lab up` and `hafw lab down` can run as separate commands.
 *
 *   hafw-client --- br-lan ---+--- fwa lan / fwb lan (/ fwc lan)   hafw-server --- br-wan
 *                             (bridges live in hafw-sw; br-sync joins the firewalls' sync)
 * One node, a pair (fwa, fwb), or three (fwa, fwb, fwc: one VRRP group, fwa preferred,
 * then fwb, then fwc).
 */
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { CONTROL_DIR } from '../node/api/control-socket.js';
import type { NodeStatus } from '../node/api/server.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh, shQuiet, spawnDetached, stopPid, isAlive, sleep } from './exec.js';
import { CLIENT, FIREWALLS, MAX_LAB_NODES, NS, SERVER, TUN_NAME, VIPS, type FirewallAddrs } from './topology.js';

export const LAB_DIR = process.env.HAFW_LAB_DIR ?? '/run/hafw/lab';
const STATE_FILE = path.join(LAB_DIR, 'state.json');
const LOCK_FILE = path.join(path.dirname(LAB_DIR), 'lab.owner');

/** Package root (for bin/hafw.js), from dist/cluster-tests/lab.js or the source tree. */
export const PACKAGE_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
})();
export const HAFW_BIN = path.join(PACKAGE_ROOT, 'bin', 'hafw.js');
/**
 * The compiled tree this module was loaded from (dist/, or a developer's own --outDir).
 * Nodes, commands and tools started by the lab run from the same tree (bin/hafw.js reads
 * HAFW_DIST), so two builds in one working tree never test each other's code.
 */
export const COMPILED_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (import.meta.url.endsWith('.js')) process.env.HAFW_DIST ??= COMPILED_ROOT;

interface LabNode {
  name: string;
  ns: string;
  pid: number;
  configFile: string;
  logFile: string;
  /**
   * Size of logFile when this process started: the file is appended to across starts and
   * lab runs, and pids wrap (pid_max is often 32768), so "lines with this pid" can be an
   * older process's. nodeLog() reads from here.
   */
  logFrom: number;
}

interface LabState {
  nodes: LabNode[];
  nodeCount: number;
  vrrp: boolean;
  startedAt: string;
  /** Nodes whose config is written but that were not started by up() (`startLater`): startNode(name) starts them with it. */
  deferred?: string[];
}

export type LabNodeCount = 1 | 2 | 3;

interface LabUpOptions {
  /** Firewalls: fwa; fwa and fwb; or fwa, fwb and fwc. */
  nodes?: LabNodeCount;
  /** Extra YAML appended to each node's config (later issues: sync, vrrp, ruleset...). */
  extraConfig?: (fw: FirewallAddrs) => string;
  /** More settings of the `datapath` section, as YAML lines (e.g. `managementSources: [...]`). */
  datapath?: string[];
  /** Start the node processes (default true); false builds only the network. */
  startNodes?: boolean;
  /** Nodes run VRRP and move the VIPs themselves (default: true with 2 or more nodes). */
  vrrp?: boolean;
  /** Nodes replicate conntrack state over the sync segment (default: true with 2 or more nodes). */
  sync?: boolean;
  /** Bridges flood every frame to every port (ageing 0), like a hub: for sniff mode. */
  hubMode?: boolean;
  /** VRRP advertisement interval (default 10 ms: Master_Down_Interval about 36 ms, takeover well under 100 ms). */
  advertIntervalMs?: number;
  /** The `vrrp` section of each node instead of vrrpConfig()'s one group (e.g. several groups: active/active). */
  vrrpSection?: (fw: FirewallAddrs) => string;
  /** Nodes built and configured but not started: a later `startNode(name)` joins them to the running cluster. */
  startLater?: string[];
}

/** VRRP priority of a lab firewall: fwa is the preferred master, then fwb, then fwc. */
export function labPriority(name: string): number {
  return name === 'fwa' ? 200 : name === 'fwb' ? 100 : 50;
}

/** The lab's one VRRP group. */
export const LAB_VRID = 51;

/** VRRP settings of a lab firewall: fwa is the preferred master. */
export function vrrpConfig(fw: FirewallAddrs, advertIntervalMs = 10): string {
  const priority = labPriority(fw.name);
  return [
    'vrrp:',
    '  interface: lan',
    `  vrid: ${LAB_VRID}`,
    `  priority: ${priority}`,
    `  advertIntervalMs: ${advertIntervalMs}`,
    '  syncInterface: sync',
    '  announceRepeat: 3',
    '  announceSpacingMs: 100',
    '  vips:',
    ...VIPS.map((v) => `    - { interface: ${v.ifname}, address: "${v.addr}/${v.prefix}" }`),
  ].join('\n');
}

/** The lab's own namespaces that exist now (other hafw- namespaces, e.g. a test's, are left alone). */
async function netnsList(): Promise<string[]> {
  const out = await sh(['ip', 'netns', 'list']).catch(() => '');
  const ours = new Set<string>([NS.sw, NS.client, NS.server, ...FIREWALLS.map((f) => NS.fw(f.name))]);
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => ours.has(n));
}

async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await sh(['sysctl', '-q', '-w', `${key}=${value}`], { ns });
}

async function addNs(name: string): Promise<void> {
  await sh(['ip', 'netns', 'add', name]);
  await sh(['ip', 'link', 'set', 'lo', 'up'], { ns: name });
  // Addresses must be usable at once: no duplicate address detection delay in the lab.
  await sysctl(name, 'net.ipv6.conf.all.accept_dad', '0');
  await sysctl(name, 'net.ipv6.conf.default.accept_dad', '0');
}

/** A veth whose one end is `inside` in `ns` and whose other end is a port of `bridge` in hafw-sw. */
async function plug(ns: string, inside: string, bridge: string, swPort: string): Promise<void> {
  await sh(['ip', '-n', NS.sw, 'link', 'add', swPort, 'type', 'veth', 'peer', 'name', inside, 'netns', ns]);
  await sh(['ip', '-n', NS.sw, 'link', 'set', swPort, 'master', bridge, 'up']);
  await sh(['ip', '-n', ns, 'link', 'set', inside, 'up']);
}

async function addr(ns: string, dev: string, cidr: string): Promise<void> {
  const extra = cidr.includes(':') ? ['nodad'] : [];
  await sh(['ip', '-n', ns, 'addr', 'add', cidr, 'dev', dev, ...extra]);
}

const SYNC_KEY_FILE = path.join(LAB_DIR, 'sync.key');

/** State sync on the sync segment (multicast), with the lab's key. */
export function syncConfig(): string {
  return ['sync:', '  interface: sync', `  keyFile: ${SYNC_KEY_FILE}`, ''].join('\n');
}

/** A stateful ruleset for lab tests: replies and related traffic pass, new connections only from the LAN. */
export const STRICT_RULESET = `table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    ct state invalid counter drop
    iifname "lan" ct state new accept
  }
}
`;

/** Writes STRICT_RULESET into the lab directory and returns the config lines that load it. */
export async function strictRulesetConfig(): Promise<string> {
  const file = path.join(LAB_DIR, 'strict.nft');
  await mkdir(LAB_DIR, { recursive: true });
  await writeFile(file, STRICT_RULESET);
  return `ruleset:\n  file: ${file}\n`;
}

function fwConfig(fw: FirewallAddrs, extra = '', datapath: string[] = []): string {
  return [
    `node:`,
    `  name: ${fw.name}`,
    `datapath:`,
    `  tun: ${TUN_NAME}`,
    `  interfaces: [lan, wan]`,
    `  failClosed: true`,
    ...datapath.map((l) => `  ${l}`),
    `log:`,
    `  level: info`,
    extra,
  ].join('\n');
}

export class Lab {
  private constructor(readonly state: LabState) {}

  /** Reads the running lab's state, or undefined when no lab is up. */
  static async current(): Promise<Lab | undefined> {
    try {
      return new Lab(JSON.parse(await readFile(STATE_FILE, 'utf8')) as LabState);
    } catch {
      return undefined;
    }
  }

  /** Removes everything a lab made: node processes (by PID), namespaces, state. Never throws. */
  /**
   * One lab per machine: the namespaces have fixed names. A process that brings a lab up
   * owns it (its PID in LOCK_FILE) until it tears it down or exits; another process waits
   * for it (bounded) instead of tearing a lab down under someone else's test.
   */
  private static async acquire(timeoutMs = 15 * 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await writeFile(LOCK_FILE, String(process.pid), { flag: 'wx' });
        return;
      } catch {
        const owner = Number(await readFile(LOCK_FILE, 'utf8').catch(() => '0'));
        if (owner === process.pid) return;
        if (!owner || !isAlive(owner)) {
          await rm(LOCK_FILE, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new Error(`the lab is in use by process ${owner} (${LOCK_FILE}) for more than ${timeoutMs / 1000} s`);
        await sleep(200);
      }
    }
  }

  private static async release(): Promise<void> {
    const owner = Number(await readFile(LOCK_FILE, 'utf8').catch(() => '0'));
    if (owner === process.pid || !owner || !isAlive(owner)) await rm(LOCK_FILE, { force: true });
  }

  /** True when another live process (a test run, a drill) holds the lab. */
  static async inUseByOther(): Promise<boolean> {
    const owner = Number(await readFile(LOCK_FILE, 'utf8').catch(() => '0'));
    return owner > 0 && owner !== process.pid && isAlive(owner);
  }

  static async down(): Promise<void> {
    const owner = Number(await readFile(LOCK_FILE, 'utf8').catch(() => '0'));
    if (owner && owner !== process.pid && isAlive(owner)) {
      throw new Error(`the lab belongs to a running process (pid ${owner}, e.g. a test run); it tears the lab down itself when it ends`);
    }
    await Lab.teardown();
    await Lab.release();
  }

  private static async teardown(): Promise<void> {
    const lab = await Lab.current();
    for (const n of lab?.state.nodes ?? []) await stopPid(n.pid).catch(() => undefined);
    for (const ns of await netnsList()) {
      // A killed node cannot remove its control socket; it is named after the namespace's
      // inode (node/api/control-socket.ts), which the bind mount under /run/netns shares.
      const inode = await stat(`/run/netns/${ns}`).then((st) => st.ino, () => undefined);
      if (inode !== undefined) await rm(path.join(CONTROL_DIR, `ctl-${inode}.sock`), { force: true });
      await shQuiet(['ip', 'netns', 'del', ns]);
    }
    await rm(STATE_FILE, { force: true });
  }

  /** Builds the topology (tearing down any leftover lab first) and starts the nodes. */
  static async up(opts: LabUpOptions = {}): Promise<Lab> {
    const nodeCount = opts.nodes ?? 1;
    if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_LAB_NODES) throw new Error(`a lab has 1 to ${MAX_LAB_NODES} nodes, not ${nodeCount}`);
    await mkdir(LAB_DIR, { recursive: true });
    await Lab.acquire();
    await Lab.teardown();
    const fws = FIREWALLS.slice(0, nodeCount);
    try {
      await addNs(NS.sw);
      for (const br of ['br-lan', 'br-wan', 'br-sync']) {
        await sh(['ip', '-n', NS.sw, 'link', 'add', br, 'type', 'bridge']);
        await sh(['ip', '-n', NS.sw, 'link', 'set', br, 'up']);
        if (opts.hubMode) await sh(['ip', '-n', NS.sw, 'link', 'set', br, 'type', 'bridge', 'ageing_time', '0']);
      }
      await addNs(NS.client);
      await plug(NS.client, 'eth0', 'br-lan', 'cl-lan');
      await addr(NS.client, 'eth0', `${CLIENT.v4}/24`);
      await addr(NS.client, 'eth0', `${CLIENT.v6}/64`);
      await sh(['ip', '-n', NS.client, 'route', 'add', 'default', 'via', CLIENT.gw4]);
      await sh(['ip', '-n', NS.client, '-6', 'route', 'add', 'default', 'via', CLIENT.gw6]);

      await addNs(NS.server);
      await plug(NS.server, 'eth0', 'br-wan', 'sv-wan');
      await addr(NS.server, 'eth0', `${SERVER.v4}/24`);
      await addr(NS.server, 'eth0', `${SERVER.v6}/64`);
      await sh(['ip', '-n', NS.server, 'route', 'add', 'default', 'via', SERVER.gw4]);
      await sh(['ip', '-n', NS.server, '-6', 'route', 'add', 'default', 'via', SERVER.gw6]);

      for (const fw of fws) {
        const ns = NS.fw(fw.name);
        await addNs(ns);
        await plug(ns, 'lan', 'br-lan', `${fw.name}-lan`);
        await plug(ns, 'wan', 'br-wan', `${fw.name}-wan`);
        await plug(ns, 'sync', 'br-sync', `${fw.name}-sync`);
        await addr(ns, 'lan', `${fw.lan4}/24`);
        await addr(ns, 'lan', `${fw.lan6}/64`);
        await addr(ns, 'wan', `${fw.wan4}/24`);
        await addr(ns, 'wan', `${fw.wan6}/64`);
        await addr(ns, 'sync', `${fw.sync4}/24`);
        await addr(ns, 'sync', `${fw.sync6}/64`);
        await sysctl(ns, 'net.ipv4.ip_forward', '1');
        await sysctl(ns, 'net.ipv6.conf.all.forwarding', '1');
        // The firewall forwards between lan and wan through its TUN device, never
        // redirects hosts around itself.
        await sysctl(ns, 'net.ipv4.conf.all.send_redirects', '0');
      }
      const vrrp = opts.vrrp ?? nodeCount >= 2;
      const sync = opts.sync ?? nodeCount >= 2;
      if (sync) {
        // The node refuses a key file others may read; `mode` applies only when the file is
        // created, so a key left by an earlier lab gets its mode set too.
        await writeFile(SYNC_KEY_FILE, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
        await chmod(SYNC_KEY_FILE, 0o600);
      }
      // Without VRRP nobody moves the VIPs: they sit on the first firewall.
      if (!vrrp) await Lab.addVips(fws[0]!.name);

      const state: LabState = { nodes: [], nodeCount, vrrp, startedAt: new Date().toISOString() };
      const lab = new Lab(state);
      await lab.save();
      if (opts.startNodes !== false) {
        const later = new Set(opts.startLater ?? []);
        for (const fw of fws) {
          const extra = [vrrp ? (opts.vrrpSection?.(fw) ?? vrrpConfig(fw, opts.advertIntervalMs)) : '', sync ? syncConfig() : '', opts.extraConfig?.(fw) ?? ''].join('\n');
          if (later.has(fw.name)) await lab.configureLater(fw.name, extra, opts.datapath);
          else await lab.startNode(fw.name, extra, opts.datapath);
        }
        for (const fw of fws) if (!later.has(fw.name)) await lab.waitReady(fw.name);
        await lab.waitTraffic();
      }
      return lab;
    } catch (err) {
      await Lab.down();
      throw err;
    }
  }

  static async addVips(fwName: string): Promise<void> {
    for (const v of VIPS) await addr(NS.fw(fwName), v.ifname, `${v.addr}/${v.prefix}`);
  }

  private async save(): Promise<void> {
    await writeFile(STATE_FILE, JSON.stringify(this.state, null, 2));
  }

  node(name: string): LabNode {
    const n = this.state.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no lab node named ${name}`);
    return n;
  }

  /** What the node's current process wrote to its log, as lines. */
  async nodeLog(name: string): Promise<string[]> {
    const n = this.node(name);
    return (await readFile(n.logFile)).subarray(n.logFrom ?? 0).toString('utf8').split('\n');
  }

  /** Writes a node's config without starting it: startNode(name) later starts it with that config (a node joining). */
  private async configureLater(name: string, extraConfig: string, datapath: string[] = []): Promise<void> {
    const fw = FIREWALLS.find((f) => f.name === name);
    if (!fw) throw new Error(`unknown firewall ${name}`);
    await writeFile(path.join(LAB_DIR, `${name}.yaml`), fwConfig(fw, extraConfig, datapath));
    this.state.deferred = [...(this.state.deferred ?? []).filter((n) => n !== name), name];
    await this.save();
  }

  /** Starts (or restarts) a node process in its namespace, detached, logging to a file. */
  async startNode(name: string, extraConfig = '', datapath: string[] = []): Promise<LabNode> {
    const fw = FIREWALLS.find((f) => f.name === name);
    if (!fw) throw new Error(`unknown firewall ${name}`);
    const configFile = path.join(LAB_DIR, `${name}.yaml`);
    const logFile = path.join(LAB_DIR, `${name}.log`);
    const existing = this.state.nodes.find((n) => n.name === name);
    const deferred = this.state.deferred?.includes(name) === true;
    if ((!existing && !deferred) || !existsSync(configFile)) await writeFile(configFile, fwConfig(fw, extraConfig, datapath));
    if (deferred) this.state.deferred = this.state.deferred!.filter((n) => n !== name);
    const logFrom = await stat(logFile).then((st) => st.size, () => 0);
    const child = spawnDetached([process.execPath, ...(process.env.HAFW_NODE_ARGS?.split(' ').filter(Boolean) ?? []), HAFW_BIN, 'node', '--config', configFile], { ns: NS.fw(name), logFile, append: true });
    const node: LabNode = { name, ns: NS.fw(name), pid: child.pid!, configFile, logFile, logFrom };
    this.state.nodes = [...this.state.nodes.filter((n) => n.name !== name), node];
    await this.save();
    return node;
  }

  /** Waits until the node answers on its control socket, or fails with its log tail. */
  async waitReady(name: string, timeoutMs = 15000): Promise<void> {
    const n = this.node(name);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!isAlive(n.pid)) break;
      const out = await sh([process.execPath, HAFW_BIN, 'status', '--json'], { ns: n.ns, timeoutMs: 5000 }).catch(() => '');
      if (out.includes('"uptimeSeconds"')) return;
      await sleep(100);
    }
    const log = await readFile(n.logFile, 'utf8').catch(() => '');
    throw new Error(`node ${name} did not become ready (pid ${n.pid} ${isAlive(n.pid) ? 'alive' : 'exited'}); log tail:\n${log.split('\n').slice(-15).join('\n')}`);
  }

  /** Waits (bounded) until `name` reports VRRP state `state`. */
  async waitRole(name: string, state: string, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = String((await this.status(name).catch(() => ({ role: 'unreachable' }))).role);
      if (last === state) return;
      await sleep(50);
    }
    throw new Error(`node ${name} did not become ${state} within ${timeoutMs} ms (last: ${last})`);
  }

  /** Waits (bounded) until the client reaches the server through the active firewall. */
  async waitTraffic(timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ok = await sh(['ping', '-c', '1', '-W', '1', SERVER.v4], { ns: NS.client }).then(() => true, () => false);
      if (ok) return;
      await sleep(100);
    }
    throw new Error(`no traffic from ${CLIENT.v4} to ${SERVER.v4} through the lab within ${timeoutMs} ms`);
  }

  async stopNode(name: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const n = this.node(name);
    if (signal === 'SIGKILL') {
      try {
        process.kill(n.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 100 && isAlive(n.pid); i++) await sleep(20);
    } else await stopPid(n.pid);
  }

  /** Runs `hafw ARGS` inside a firewall's namespace and returns stdout. */
  async hafw(name: string, args: string[]): Promise<string> {
    return sh([process.execPath, HAFW_BIN, ...args], { ns: this.node(name).ns });
  }

  async status(name: string): Promise<NodeStatus> {
    return JSON.parse(await this.hafw(name, ['status', '--json'])) as never;
  }
}

export { sh, sleep };
