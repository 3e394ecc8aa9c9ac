/**
 * The package's `createNode()`: a cluster member (src/node) plus, when the `client` option is
 * set, its client endpoint (src/client-endpoint.ts: etcd's v3 gRPC services, the HTTP/JSON
 * gateway and the other HTTP adapters on one port), closed when the node closes. It lives above those layers so that
 * src/node never imports the adapters built on top of it.
 */
import type { ClientEndpointOptions } from './gateway/server.ts';
import { startNode } from './node/create.ts';
import type { QuorumNode } from './node/node.ts';
import type { NodeOptions } from './node/options.ts';

/** The client endpoint's URL per node (read with {@link clientUrlOf}). */
const clientUrls = new WeakMap<QuorumNode, string>();

/**
 * Creates and starts a cluster member. Resolves once storage is recovered, the transport
 * listens and (with `client`) the client endpoint serves; call `node.ready()` to wait for a leader.
 */
export async function createNode(options: NodeOptions): Promise<QuorumNode> {
  const node = await startNode(options);
  if (options.client === undefined) return node;
  try {
    // Loaded lazily so a node without a client endpoint never loads the HTTP servers.
    const { startClientEndpoint } = await import('./client-endpoint.ts');
    const server = await startClientEndpoint(node, options.client as ClientEndpointOptions);
    node.addCloseHook(() => server.close());
    clientUrls.set(node, server.url);
    return node;
  } catch (err) {
    await node.close().catch(() => {});
    throw err;
  }
}

/** The URL of the node's client endpoint, when `client` was given. */
export function clientUrlOf(node: QuorumNode): string | undefined {
  return clientUrls.get(node);
}
