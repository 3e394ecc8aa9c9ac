// A real single-member etcd (Debian's `etcd` 3.4) on loopback for the snapshot tests: started on
// a data dir (new, or one `etcdctl snapshot restore` made for member `name`), healthy before it is
// returned, stopped by the caller.
import { spawn, spawnSync } from 'node:child_process';
import { freePort, waitFor } from '../cli/helpers.ts';
import { stopProcess } from '../helpers/process.ts';
import { etcdctl, hasEtcdctl } from './helpers.ts';

export const hasEtcd = hasEtcdctl && spawnSync('sh', ['-c', 'command -v etcd'], { stdio: 'ignore' }).status === 0;

export interface EtcdProcess {
  /** host:port of its client URL (etcdctl's --endpoints). */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** Peer URL of member `name` on `peerPort`, as `--initial-cluster` and restore want it. */
export const etcdPeerUrl = (peerPort: number): string => `http://127.0.0.1:${peerPort}`;

export async function startEtcd(name: string, dataDir: string, peerPort?: number): Promise<EtcdProcess> {
  const [cp, pp] = [await freePort(), peerPort ?? (await freePort())];
  const peer = etcdPeerUrl(pp);
  const child = spawn('etcd', ['--name', name, '--data-dir', dataDir, '--listen-client-urls', `http://127.0.0.1:${cp}`, '--advertise-client-urls', `http://127.0.0.1:${cp}`, '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `${name}=${peer}`], { stdio: 'ignore' });
  const endpoint = `127.0.0.1:${cp}`;
  const stop = (): Promise<void> => stopProcess(child);
  try {
    await waitFor(`etcd ${name} healthy`, async () => ((await etcdctl(endpoint, ['endpoint', 'health'])).code === 0 ? true : undefined), 30_000, 200);
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoint, stop };
}
