/**
 * `createNode({ metrics: { registry } })`: this member's metric families registered into the
 * application's own prom-client `Registry`, so its `/metrics` shows them beside the app's. The
 * package does not depend on prom-client: a registry is anything with prom-client's
 * `registerMetric` and `removeSingleMetric`, and each family is an object with the fields
 * prom-client's registry reads (`name`, `help`, `type`, `aggregator`, `get()`, `reset()`). They
 * are removed again when the member stops, so a new member can register under the same names.
 */
import type { Driver } from './driver.ts';
import { METRIC_DESCRIPTIONS, metricFamily } from './metric-families.ts';
import type { MetricType } from './metric-families.ts';
import type { MetricsSnapshot } from './metrics.ts';
import type { QuorumNode } from './node.ts';

/**
 * What prom-client's registry calls on a registered metric. Kept to the two calls every
 * prom-client metric has, so that a prom-client `Registry` is assignable to {@link MetricsRegistry}.
 */
export interface RegistryMetric {
  get(): Promise<unknown>;
  reset(): void;
}

/** A prom-client `Registry`, structurally. */
export interface MetricsRegistry {
  registerMetric(metric: RegistryMetric): void;
  removeSingleMetric(name: string): void;
}

/** prom-client's metric object: what `get()` resolves to. */
interface PromMetricObject {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator: 'sum';
  readonly values: readonly { readonly metricName?: string; readonly labels: Readonly<Record<string, string>>; readonly value: number }[];
}

/**
 * One snapshot per scrape: prom-client calls every metric's get() in the same turn, so the first
 * call takes the snapshot and the rest of that turn reuse it (dropped in a microtask after).
 */
class SharedSnapshot {
  readonly #node: QuorumNode;
  #current: MetricsSnapshot | undefined;

  constructor(node: QuorumNode) {
    this.#node = node;
  }

  get(): MetricsSnapshot {
    if (this.#current === undefined) {
      this.#current = this.#node.metrics();
      queueMicrotask(() => {
        this.#current = undefined;
      });
    }
    return this.#current;
  }
}

class FamilyMetric implements RegistryMetric {
  /** prom-client rewrites this for OpenMetrics (a counter loses `_total`); `#family` keeps ours. */
  name: string;
  readonly #family: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum' as const;
  readonly #snapshot: SharedSnapshot;

  constructor(snapshot: SharedSnapshot, name: string, help: string, type: MetricType) {
    this.#snapshot = snapshot;
    this.#family = name;
    this.name = name;
    this.help = help;
    this.type = type;
  }

  async get(): Promise<PromMetricObject> {
    const family = metricFamily(this.#snapshot.get(), this.#family);
    // A sample named as its family goes without metricName, so prom-client names it (and adds
    // `_total` to counters itself in OpenMetrics); histogram lines keep their suffixes.
    const values = (family?.samples ?? []).map((s) => (s.name === this.#family ? { labels: s.labels, value: s.value } : { metricName: s.name, labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** The member's counters are not the registry's to reset. */
  reset(): void {}
}

/**
 * Registers every family of `node` into `registry`; they are removed when `driver` stops. What
 * the registry throws (a name registered twice, e.g. two members in one registry) propagates,
 * and what was registered before it is removed again.
 */
export function registerPromMetrics(registry: MetricsRegistry, node: QuorumNode, driver: Driver): void {
  const registered: string[] = [];
  const removeAll = (): void => {
    for (const name of registered.splice(0)) registry.removeSingleMetric(name);
  };
  const snapshot = new SharedSnapshot(node);
  try {
    for (const { name, help, type } of METRIC_DESCRIPTIONS) {
      registry.registerMetric(new FamilyMetric(snapshot, name, help, type));
      registered.push(name);
    }
  } catch (err) {
    removeAll();
    throw err;
  }
  driver.once('stopped', removeAll);
}
