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
  readonly values: readonly { readonly metricName: string; readonly labels: Readonly<Record<string, string>>; readonly value: number }[];
}

class FamilyMetric implements RegistryMetric {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum' as const;
  readonly #node: QuorumNode;

  constructor(node: QuorumNode, name: string, help: string, type: MetricType) {
    this.#node = node;
    this.name = name;
    this.help = help;
    this.type = type;
  }

  async get(): Promise<PromMetricObject> {
    const family = metricFamily(this.#node.metrics(), this.name);
    const values = (family?.samples ?? []).map((s) => ({ metricName: s.name, labels: s.labels, value: s.value }));
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
  try {
    for (const { name, help, type } of METRIC_DESCRIPTIONS) {
      registry.registerMetric(new FamilyMetric(node, name, help, type));
      registered.push(name);
    }
  } catch (err) {
    removeAll();
    throw err;
  }
  driver.once('stopped', removeAll);
}
