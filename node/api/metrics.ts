/**
 * Prometheus metrics of one node (prom-client). Values that live in shared memory (the
 * datapath's counters) are read at scrape time through `collect`, so the packet loop never
 * calls into prom-client. Names follow DESIGN §7: hafw_*, unit in the name.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface MetricsSource {
  nodeName: string;
  datapathCounters(): Record<string, number>;
}

/** Sets a prom-client counter to an absolute total maintained elsewhere. */
function setTotal(c: Counter<string>, labels: Record<string, string>, total: number): void {
  c.reset();
  c.inc(labels, total);
}

export function createNodeMetrics(src: MetricsSource): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ node: src.nodeName });
  collectDefaultMetrics({ register: registry, prefix: 'hafw_' });

  const snapshot = (): Record<string, number> => src.datapathCounters();

  new Counter({
    name: 'hafw_datapath_packets_total',
    help: 'Packets read from (rx) and written back to (tx) the TUN device; a super-packet counts once',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ direction: 'rx' }, c.rx_packets ?? 0);
      this.inc({ direction: 'tx' }, c.tx_packets ?? 0);
    },
  });
  new Counter({
    name: 'hafw_datapath_bytes_total',
    help: 'IP bytes read from (rx) and written back to (tx) the TUN device',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      this.inc({ direction: 'rx' }, c.rx_bytes ?? 0);
      this.inc({ direction: 'tx' }, c.tx_bytes ?? 0);
    },
  });
  new Counter({
    name: 'hafw_datapath_segments_total',
    help: 'Wire packets the received packets stand for (a TCP super-packet counts each of its segments)',
    registers: [registry],
    collect() {
      setTotal(this, {}, snapshot().rx_segments ?? 0);
    },
  });
  new Counter({
    name: 'hafw_datapath_verdicts_total',
    help: 'Verdicts of the filter, per verdict; malformed and unsupported packets are dropped before the filter',
    labelNames: ['verdict'],
    registers: [registry],
    collect() {
      const c = snapshot();
      this.reset();
      for (const v of ['accept', 'drop', 'reject'] as const) this.inc({ verdict: v }, c[`verdict_${v}`] ?? 0);
      this.inc({ verdict: 'malformed' }, c.malformed ?? 0);
      this.inc({ verdict: 'unsupported' }, c.unsupported ?? 0);
    },
  });
  new Counter({
    name: 'hafw_datapath_super_packets_total',
    help: 'TCP super-packets (GSO) handed to the filter by the kernel',
    registers: [registry],
    collect() {
      setTotal(this, {}, snapshot().gso_packets ?? 0);
    },
  });
  new Counter({
    name: 'hafw_datapath_stage_errors_total',
    help: 'Packets dropped because a filter stage failed on them (a bug: please report)',
    registers: [registry],
    collect() {
      setTotal(this, {}, snapshot().stage_errors ?? 0);
    },
  });
  new Gauge({
    name: 'hafw_datapath_max_packet_bytes',
    help: 'Largest packet seen; above the MTU means offloads are working',
    registers: [registry],
    collect() {
      this.set(snapshot().max_packet_bytes ?? 0);
    },
  });
  return registry;
}
