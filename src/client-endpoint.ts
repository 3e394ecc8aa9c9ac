/**
 * The member's client endpoint: every client-facing adapter on one port, as etcd's client URL —
 * etcd's v3 gRPC services (src/grpc; h2c by the HTTP/2 preface, or with `tls` HTTP/2 by ALPN)
 * and the HTTP/1.1 server of the JSON gateway (src/gateway), with the other HTTP adapters mounted
 * in front of the gateway's routes. It lives above the adapters so that none knows another.
 */
import { startClientServer } from './gateway/server.ts';
import type { ClientEndpointOptions, ClientServer, HttpMount } from './gateway/server.ts';
import { createPortFront } from './grpc/front.ts';
import { createGrpcServer } from './grpc/server.ts';
import type { GrpcServerOptions } from './grpc/server.ts';
import type { QuorumNode } from './node/node.ts';
import { opsMount } from './ops/ops-mount.ts';
import { statusPageMount } from './ops/status-page.ts';
import { v2Mount } from './v2/mount.ts';

/** The HTTP adapters served beside the JSON gateway, tried in order before its routes. */
function httpMounts(): readonly HttpMount[] {
  return [opsMount(), statusPageMount(), v2Mount()];
}

export async function startClientEndpoint(node: QuorumNode, options: ClientEndpointOptions = {}, grpcOptions: GrpcServerOptions = {}): Promise<ClientServer> {
  const grpc = createGrpcServer(node, options.token === undefined ? grpcOptions : { token: options.token, ...grpcOptions });
  const server = await startClientServer(node, options, {
    front: (http, tls) => createPortFront(http, (socket) => grpc.handleConnection(socket), tls),
    mounts: httpMounts(),
  });
  grpc.setClientUrl(server.url);
  let closing: Promise<void> | undefined;
  return {
    get url() {
      return server.url;
    },
    close(): Promise<void> {
      closing ??= Promise.all([server.close(), grpc.close()]).then(() => undefined);
      return closing;
    },
  };
}
