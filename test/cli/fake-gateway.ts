/**
 * A scripted fake node behind the real client endpoint (only status, watch, snapshotBytes and auth off, so
 * each gateway scenario is exact and fast), a plain fake endpoint for the CLI's client side, and
 * the warning/uncaught-exception traps those tests assert on. Not a test file.
 */
import { EventEmitter } from 'node:events';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startClientServer } from '../../src/gateway/server.ts';
import type { ClientEndpointOptions, ClientServer } from '../../src/gateway/server.ts';
import type { QuorumNode } from '../../src/index.ts';
import { waitFor } from '../helpers/time.ts';

export const warnings: Error[] = [];
process.on('warning', (w) => warnings.push(w));
export const uncaught: unknown[] = [];
process.on('uncaughtException', (err) => uncaught.push(err));

export class FakeWatch extends EventEmitter {
  closed = false;
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
}

export interface Fake {
  readonly node: QuorumNode;
  readonly watches: FakeWatch[];
}

export function fakeNode(opts: { onWatch?: (w: FakeWatch) => void; snapshot?: Uint8Array; snapshotGate?: Promise<void> } = {}): Fake {
  const watches: FakeWatch[] = [];
  const status = { id: 'f1', role: 'leader', term: 2, leader: 'f1', commitIndex: 5, appliedIndex: 5, revision: 7, compactRevision: 0, members: [] };
  const quiet = (): void => {};
  const node = {
    logger: { debug: quiet, info: quiet, warn: quiet, error: quiet },
    status: () => status,
    cluster: { advertise: quiet },
    watch: () => {
      const w = new FakeWatch();
      watches.push(w);
      opts.onWatch?.(w);
      return w;
    },
    snapshotBytes: async () => {
      await opts.snapshotGate;
      return opts.snapshot ?? new Uint8Array(0);
    },
    // Auth is off: every caller is `open`, every check passes.
    auth: { enabled: false, identify: () => ({ kind: 'open' }), requireRoot: quiet, requireUser: quiet, requireKeys: quiet },
  };
  return { node: node as unknown as QuorumNode, watches };
}

export const closers: (() => Promise<void> | void)[] = [];

/** Closes everything a test opened (newest first) and forgets its warnings; run after each test. */
export async function cleanUp(): Promise<void> {
  for (const close of closers.splice(0).reverse()) await close();
  warnings.length = 0;
  uncaught.length = 0;
}

export async function serve(fake: Fake, options: ClientEndpointOptions): Promise<ClientServer> {
  const server = await startClientServer(fake.node, { port: 0, ...options });
  closers.push(() => server.close());
  return server;
}

/** Polls `cond` (test/helpers/time.ts) with this file's default of 4 s. */
export function until(cond: () => boolean, what: string, timeoutMs = 4000): Promise<void> {
  return waitFor(cond, what, timeoutMs);
}

export const leakWarnings = (): Error[] => warnings.filter((w) => w.name === 'MaxListenersExceededWarning');

/** A plain HTTP endpoint answering every request with `reply` (for the CLI's client side). */
export async function fakeEndpoint(reply: (res: import('node:http').ServerResponse) => void): Promise<string> {
  const srv: Server = createServer((req, res) => {
    req.resume();
    reply(res);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        srv.closeAllConnections();
        srv.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}
