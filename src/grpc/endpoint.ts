/**
 * The member's client endpoint with gRPC: the HTTP/1.1 JSON gateway and etcd's v3 gRPC services
 * on one port (as etcd's client URL). Plaintext only for gRPC so far: with `tls`, the gateway
 * serves https and gRPC is not offered (docs/grpc.md).
 */
import { startClientServer } from '../gateway/server.ts';
import type { ClientEndpointOptions, ClientServer } from '../gateway/server.ts';
import type { QuorumNode } from '../node/node.ts';
import { createPortFront } from './front.ts';
import { createGrpcServer } from './server.ts';
import type { GrpcServerOptions } from './server.ts';

export async function startClientEndpoint(node: QuorumNode, options: ClientEndpointOptions = {}, grpcOptions: GrpcServerOptions = {}): Promise<ClientServer> {
  const grpc = createGrpcServer(node, grpcOptions);
  const server = await startClientServer(node, options, { front: (http) => createPortFront(http, (socket) => grpc.handleConnection(socket)) });
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
