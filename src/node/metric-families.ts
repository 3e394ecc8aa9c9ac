/**
 * A metrics snapshot as named metric families: etcd's names, label names and units where the
 * meaning is the same (so existing dashboards and alerts work), `quorumkv_` for the rest. One
 * table serves the Prometheus text of `/metrics` (src/ops) and a prom-client registry
 * (prom-registry.ts), so both show the same names. docs/observability.md explains each one.
 */
import type { HistogramSnapshot, MetricsSnapshot } from './metrics.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One line of a family: `name{labels} value`. Histograms have `_bucket`, `_sum` and `_count` lines. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly MetricSample[];
}

interface FamilyDef {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: (s: MetricsSnapshot, name: string) => MetricSample[];
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

function one(value: (s: MetricsSnapshot) => number | boolean): FamilyDef['samples'] {
  return (s, name) => {
    const v = value(s);
    return [{ name, labels: NO_LABELS, value: typeof v === 'boolean' ? (v ? 1 : 0) : v }];
  };
}

function histogramSamples(name: string, h: HistogramSnapshot, labels: Readonly<Record<string, string>> = NO_LABELS): MetricSample[] {
  const out: MetricSample[] = h.buckets.map((b) => ({
    name: `${name}_bucket`,
    labels: { ...labels, le: b.le === Number.POSITIVE_INFINITY ? '+Inf' : String(b.le) },
    value: b.count,
  }));
  out.push({ name: `${name}_sum`, labels, value: h.sumSeconds }, { name: `${name}_count`, labels, value: h.count });
  return out;
}

function learnerLag(s: MetricsSnapshot, name: string): MetricSample[] {
  return Object.entries(s.learnerLag).map(([id, lag]) => ({ name, labels: { member: id }, value: lag }));
}

function perPeer(label: string, value: (p: MetricsSnapshot['peers'][string]) => number): FamilyDef['samples'] {
  return (s, name) => Object.entries(s.peers).map(([id, p]) => ({ name, labels: { [label]: id }, value: value(p) }));
}

/** Every family, in the order `/metrics` shows them. */
const FAMILIES: readonly FamilyDef[] = Object.freeze([
  { name: 'etcd_server_has_leader', type: 'gauge', help: 'Whether or not a leader exists. 1 is existence, 0 is not.', samples: one((s) => s.hasLeader) },
  { name: 'etcd_server_is_leader', type: 'gauge', help: 'Whether or not this member is a leader. 1 if is, 0 otherwise.', samples: one((s) => s.isLeader) },
  { name: 'etcd_server_is_learner', type: 'gauge', help: 'Whether or not this member is a learner. 1 if is, 0 otherwise.', samples: one((s) => s.isLearner) },
  { name: 'etcd_server_leader_changes_seen_total', type: 'counter', help: 'The number of leader changes seen.', samples: one((s) => s.leaderChangesSeen) },
  { name: 'etcd_server_proposals_committed_total', type: 'gauge', help: 'The total number of consensus proposals committed.', samples: one((s) => s.proposalsCommitted) },
  { name: 'etcd_server_proposals_applied_total', type: 'gauge', help: 'The total number of consensus proposals applied.', samples: one((s) => s.proposalsApplied) },
  { name: 'etcd_server_proposals_pending', type: 'gauge', help: 'The current number of pending proposals to commit.', samples: one((s) => s.proposalsPending) },
  { name: 'etcd_server_proposals_failed_total', type: 'counter', help: 'The total number of failed proposals seen.', samples: one((s) => s.proposalsFailed) },
  { name: 'etcd_server_slow_apply_total', type: 'counter', help: 'The total number of slow apply requests (likely overloaded from slow disk).', samples: one((s) => s.slowApplies) },
  { name: 'etcd_disk_wal_fsync_duration_seconds', type: 'histogram', help: 'The latency distributions of fsync called by WAL.', samples: (s, n) => histogramSamples(n, s.walFsync) },
  { name: 'etcd_network_peer_sent_bytes_total', type: 'counter', help: 'The total number of bytes sent to peers.', samples: perPeer('To', (p) => p.sentBytes) },
  { name: 'etcd_network_peer_received_bytes_total', type: 'counter', help: 'The total number of bytes received from peers.', samples: perPeer('From', (p) => p.receivedBytes) },
  {
    name: 'etcd_network_peer_round_trip_time_seconds',
    type: 'histogram',
    help: 'Round-Trip-Time histogram between peers.',
    samples: (s, n) => Object.entries(s.peers).flatMap(([id, p]) => histogramSamples(n, p.roundTrip, { To: id })),
  },
  { name: 'etcd_mvcc_db_total_size_in_bytes', type: 'gauge', help: 'Total size of the underlying database physically allocated in bytes.', samples: one((s) => s.dbSizeBytes) },
  { name: 'etcd_debugging_mvcc_keys_total', type: 'gauge', help: 'Total number of keys.', samples: one((s) => s.keys) },
  { name: 'quorumkv_server_term', type: 'gauge', help: 'The Raft term this member is in.', samples: one((s) => s.term) },
  { name: 'quorumkv_snapshot_duration_seconds', type: 'histogram', help: 'Time to encode and write one periodic snapshot.', samples: (s, n) => histogramSamples(n, s.snapshotDuration) },
  { name: 'quorumkv_watches', type: 'gauge', help: 'Open watches on this member.', samples: one((s) => s.watches) },
  { name: 'quorumkv_watch_buffered_events', type: 'gauge', help: 'Events delivered to watches and not consumed yet.', samples: one((s) => s.watchBufferedEvents) },
  { name: 'quorumkv_leases', type: 'gauge', help: 'Live leases.', samples: one((s) => s.leases) },
  { name: 'quorumkv_learner_lag_entries', type: 'gauge', help: 'On the leader: committed entries each learner has not replicated yet.', samples: learnerLag },
  { name: 'quorumkv_event_loop_delay_max_seconds', type: 'gauge', help: 'Longest event-loop delay seen since metrics were first read.', samples: one((s) => s.eventLoopDelay.maxSeconds) },
  { name: 'quorumkv_event_loop_delay_p99_seconds', type: 'gauge', help: '99th percentile of the event-loop delay since metrics were first read.', samples: one((s) => s.eventLoopDelay.p99Seconds) },
] satisfies FamilyDef[]);

/** Name, help and type of every family, for registries that register each one up front. */
export const METRIC_DESCRIPTIONS: readonly { readonly name: string; readonly help: string; readonly type: MetricType }[] = Object.freeze(
  FAMILIES.map((f) => Object.freeze({ name: f.name, help: f.help, type: f.type })),
);

/** One family of a snapshot by name; undefined for an unknown name. */
export function metricFamily(s: MetricsSnapshot, name: string): MetricFamily | undefined {
  const def = FAMILIES.find((f) => f.name === name);
  return def === undefined ? undefined : { name: def.name, help: def.help, type: def.type, samples: def.samples(s, def.name) };
}

/** Every family of a snapshot. */
export function metricFamilies(s: MetricsSnapshot): MetricFamily[] {
  return FAMILIES.map((def) => ({ name: def.name, help: def.help, type: def.type, samples: def.samples(s, def.name) }));
}
