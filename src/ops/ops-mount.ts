/**
 * The operations endpoints on the client port, as an {@link HttpMount}: `GET /metrics`
 * (Prometheus text, the member's families and the process's; needs the endpoint's token when it has one, like every client request),
 * `GET /livez` (the process serves HTTP), `GET /readyz` (readiness.ts; 503 with the reason
 * otherwise) and `GET /version` (etcd's shape). The probes need no token, like etcd's `/health`,
 * so a load balancer or kubelet can call them. docs/observability.md describes each.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpMount, MountContext } from '../gateway/types.ts';
import { metricFamilies } from '../node/metric-families.ts';
import { ETCD_API_VERSION, PACKAGE_VERSION } from '../node/versions.ts';
import { processMetricFamilies } from './process-metrics.ts';
import { PROMETHEUS_TEXT_CONTENT_TYPE, renderPrometheusText } from './prometheus-text.ts';
import { readinessOf } from './readiness.ts';

const PATHS: ReadonlySet<string> = new Set(['/metrics', '/livez', '/readyz', '/version']);

/**
 * etcd 3.4's `/version` fields: `etcdserver` and `etcdcluster` are the etcd API version served
 * (clients compare them with etcd releases); `quorumkv` is this package's version.
 */
const VERSION_BODY = JSON.stringify({ etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_API_VERSION, quorumkv: PACKAGE_VERSION });

function reply(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(head ? undefined : body);
}

export function opsMount(): HttpMount {
  return {
    matches: (path) => PATHS.has(path),
    async handle(ctx: MountContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
      const head = req.method === 'HEAD';
      if (req.method !== 'GET' && !head) {
        res.setHeader('allow', 'GET, HEAD');
        return reply(res, 405, 'text/plain; charset=utf-8', `ops: ${req.method ?? ''} not allowed on ${ctx.path}\n`, false);
      }
      switch (ctx.path) {
        case '/livez':
          return reply(res, 200, 'text/plain; charset=utf-8', 'ok\n', head);
        case '/readyz': {
          const r = readinessOf(ctx.node);
          return r.ready ? reply(res, 200, 'text/plain; charset=utf-8', 'ok\n', head) : reply(res, 503, 'text/plain; charset=utf-8', `not ready: ${r.reason}\n`, head);
        }
        case '/version':
          return reply(res, 200, 'application/json', VERSION_BODY, head);
        default: {
          if (!ctx.authorized) {
            res.setHeader('www-authenticate', 'Bearer');
            return reply(res, 401, 'text/plain; charset=utf-8', 'ops: /metrics needs the endpoint token\n', false);
          }
          const families = [...metricFamilies(ctx.node.metrics()), ...processMetricFamilies()];
          return reply(res, 200, PROMETHEUS_TEXT_CONTENT_TYPE, renderPrometheusText(families), head);
        }
      }
    },
  };
}
