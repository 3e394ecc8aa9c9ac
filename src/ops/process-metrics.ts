/**
 * The process metrics Prometheus' client libraries export under their standard names (etcd's Go
 * client exports the same `process_*` ones), for the standalone member's `/metrics`. An
 * application with its own prom-client registry gets these from `collectDefaultMetrics()`
 * instead, so they are not part of the member's families.
 */
import type { MetricFamily, MetricType } from '../node/metric-families.ts';

const START_TIME_SECONDS = Date.now() / 1000 - process.uptime();

function family(name: string, type: MetricType, help: string, value: number): MetricFamily {
  return { name, type, help, samples: [{ name, labels: {}, value }] };
}

export function processMetricFamilies(): MetricFamily[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return [
    family('process_cpu_user_seconds_total', 'counter', 'Total user CPU time spent in seconds.', cpu.user / 1e6),
    family('process_cpu_system_seconds_total', 'counter', 'Total system CPU time spent in seconds.', cpu.system / 1e6),
    family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6),
    family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', START_TIME_SECONDS),
    family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', memory.rss),
    family('nodejs_heap_size_total_bytes', 'gauge', 'Process heap size from Node.js in bytes.', memory.heapTotal),
    family('nodejs_heap_size_used_bytes', 'gauge', 'Process heap size used from Node.js in bytes.', memory.heapUsed),
  ];
}
