/** Checks for the system tools the lab needs, with the Debian package to install. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const PACKAGE_OF: Record<string, string> = {
  ip: 'iproute2',
  ping: 'iputils-ping',
  iperf3: 'iperf3',
  nft: 'nftables',
  tc: 'iproute2',
  cc: 'gcc',
  tcpdump: 'tcpdump',
};

async function has(tool: string): Promise<boolean> {
  return promisify(execFile)('sh', ['-c', `command -v ${tool}`]).then(
    () => true,
    () => false,
  );
}

export async function checkSystemTools(tools: string[]): Promise<void> {
  const missing: string[] = [];
  for (const t of tools) if (!(await has(t))) missing.push(t);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => PACKAGE_OF[t] ?? t))];
    throw new Error(`missing system tools: ${missing.join(', ')}. Install them with: apt-get install -y ${pkgs.join(' ')} (or run scripts/install-system-deps.sh)`);
  }
  if (process.getuid && process.getuid() !== 0) throw new Error('the lab needs root (network namespaces, TUN devices)');
}

export async function hasTool(tool: string): Promise<boolean> {
  return has(tool);
}
