/**
 * Cluster routes: state sync figures and the connection table's size. Read through the
 * ClusterView the daemon implements (the datapath thread owns the table, the sync worker
 * the protocol).
 */
import type { FastifyInstance } from 'fastify';
import { formatSyncStatus, type SyncStatusSnapshot } from '../../sync-protocol/index.js';

export interface SyncReportView {
  inSync: boolean;
  status: SyncStatusSnapshot;
  peers: unknown;
  bridge: Record<string, number>;
  ringDepth: number;
  ringDrops: number;
}

export interface ClusterView {
  syncReport(): Promise<SyncReportView | null>;
  ctCount(): Promise<{ total: number; replicated: number; capacity: number }>;
}

export function registerClusterRoutes(app: FastifyInstance, view: ClusterView): void {
  app.get('/v1/sync/stats', async (req, reply) => {
    const r = await view.syncReport();
    if (!r) return reply.code(404).send({ error: 'not_configured', message: 'state sync is not configured on this node (no sync: section)' });
    if ((req.query as { format?: string }).format === 'text') {
      reply.header('content-type', 'text/plain; charset=utf-8');
      return `${formatSyncStatus(r.status)}ring: depth ${r.ringDepth}, dropped ${r.ringDrops}\nreplicas: applied ${r.bridge.applied}, stale ${r.bridge.stale}, deleted ${r.bridge.deleted}, refused ${r.bridge.refused}, adopted ${r.bridge.adopted}, adopted on takeover ${r.bridge.adoptedOnTakeover ?? 0}\n`;
    }
    return r;
  });
  app.get('/v1/ct/count', async () => {
    const c = await view.ctCount();
    return { ...c, local: c.total - c.replicated };
  });
}
