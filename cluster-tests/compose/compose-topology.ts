/**
 * The compose deployment's topology as data (docker-compose.yml spells the same numbers;
 * compose-files.test.ts checks that they agree). Docker networks here use only
 * 198.18.0.0/15 (RFC 2544 benchmarking range).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const COMPOSE = {
  networks: {
    lan: { subnet: '198.18.1.0/24', bridge: 'hafw-lan' },
    wan: { subnet: '198.18.2.0/24', bridge: 'hafw-wan' },
    sync: { subnet: '198.18.3.0/24', bridge: 'hafw-sync' },
  },
  firewalls: [
    { service: 'fw-a', config: 'deploy/fw-a.yaml', lan: '198.18.1.2', wan: '198.18.2.2', sync: '198.18.3.2' },
    { service: 'fw-b', config: 'deploy/fw-b.yaml', lan: '198.18.1.3', wan: '198.18.2.3', sync: '198.18.3.3' },
  ],
  /** The third firewall, started only with the compose profile `three-nodes`. */
  thirdFirewall: { service: 'fw-c', config: 'deploy/fw-c.yaml', lan: '198.18.1.4', wan: '198.18.2.4', sync: '198.18.3.4', profile: 'three-nodes' },
  vips: { lan: '198.18.1.1', wan: '198.18.2.1' },
  client: { service: 'client', address: '198.18.1.100' },
  server: { service: 'server', address: '198.18.2.100', echoPort: 5001 },
  /** Where the app lives inside the image (Dockerfile WORKDIR). */
  appDir: '/opt/hafw',
} as const;

/** The repository root (where docker-compose.yml is), from dist/ or any tsc outDir inside it. */
export const REPO_ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();
