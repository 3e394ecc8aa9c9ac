// The etcd side of bench/scale.ts: the same workload (bench/scale-workload.ts) against `etcd`
// processes started by bench/etcd-cluster.ts, through the `etcd3` gRPC client from this process.
// Not a test file; nothing here is imported by src/.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { etcdClient, EtcdCluster } from './etcd-cluster.ts';
import { dirBytes, keyOf, LOAD_TIMEOUT_MS, LOAD_WORKERS, loadKeys, PROBE_EVERY_MS, probeKey, rssOf, STEADY_INFLIGHT, STEADY_TIMEOUT_MS, steadyPuts, VALUE } from './scale-workload.ts';
import type { SteadyResult } from './scale-workload.ts';

type Client = ReturnType<typeof etcdClient>;
const VALUE_BUF = Buffer.from(VALUE);

/** The pid of the etcd process whose --data-dir is `dataDir` (scan of /proc), or undefined. */
export function etcdPid(dataDir: string): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const i = args.indexOf('--data-dir');
      if (i >= 0 && args[i + 1] === dataDir) {
        const state = /State:\s*(\S)/.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1];
        if (state !== 'Z') return Number(name);
      }
    } catch {
      // The process went away while we looked.
    }
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `pid` is gone (reaped), bounded. */
async function waitGone(pid: number, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const state = (() => {
      try {
        return /State:\s*(\S)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      } catch {
        return undefined;
      }
    })();
    if (state === undefined) return;
    if (Date.now() > deadline) throw new Error(`etcd pid ${pid} still there ${boundMs} ms after the signal`);
    await sleep(10);
  }
}

/** Every `PROBE_EVERY_MS`, a fresh client (so no gRPC reconnect backoff) tries a get of `key`; ms until one returns a value. */
async function timeFirstRead(url: string, key: string, t0: number, boundMs: number): Promise<number> {
  for (;;) {
    const c = etcdClient([url], 1_000);
    try {
      const v = await c.get(key).buffer();
      if (v !== null) return performance.now() - t0;
    } catch {
      // Not up yet.
    } finally {
      c.close();
    }
    if (performance.now() - t0 > boundMs) throw new Error(`etcd: no successful read of ${key} within ${boundMs} ms of the restart`);
    await sleep(PROBE_EVERY_MS);
  }
}

function txnLoad(client: Client, keys: number): Promise<number> {
  return loadKeys(keys, LOAD_WORKERS, async (start, end) => {
    const success = [];
    for (let i = start; i < end; i++) success.push({ request_put: { key: Buffer.from(keyOf(i)), value: VALUE_BUF } });
    const r = await client.kv.txn({ compare: [], success, failure: [] });
    if (!r.succeeded) throw new Error('etcd load txn did not succeed');
  });
}

export interface EtcdSingleResult {
  loadMs: number;
  rssAfterLoad: number | undefined;
  dataDirBytes: number;
  restartReadMs: number;
  rssAfterRestart: number | undefined;
  killRestartReadMs: number;
  rssAfterKillRestart: number | undefined;
}

/**
 * One etcd member: load `keys` keys, RSS and data dir size, then a SIGTERM restart and a kill -9
 * restart, each timed from the spawn to the first successful get of a loaded key.
 * `register` gets a synchronous kill-everything for signal handlers (and `undefined` when done).
 */
export async function etcdSingle(bin: string, keys: number, boundMs: number, register: (cleanup: (() => void) | undefined) => void): Promise<EtcdSingleResult> {
  const cluster = await EtcdCluster.start(bin, 1, 60_000);
  register(() => cluster.killAllSync());
  try {
    const url = cluster.clientUrls[0]!;
    const dataDir = join(cluster.dir, 'e1');
    const client = etcdClient([url], LOAD_TIMEOUT_MS);
    let loadMs: number;
    try {
      loadMs = await txnLoad(client, keys);
    } finally {
      client.close();
    }
    const pid = etcdPid(dataDir);
    if (pid === undefined) throw new Error('etcd: cannot find the member process in /proc');
    const rssAfterLoad = await rssOf(pid);
    const dataDirBytes = await dirBytes(dataDir);
    const key = probeKey(keys);

    process.kill(pid, 'SIGTERM');
    await waitGone(pid, 30_000);
    let t0 = performance.now();
    cluster.restart(url);
    const restartReadMs = await timeFirstRead(url, key, t0, boundMs);
    const pid2 = etcdPid(dataDir);
    const rssAfterRestart = pid2 === undefined ? undefined : await rssOf(pid2);

    await cluster.kill(url);
    t0 = performance.now();
    cluster.restart(url);
    const killRestartReadMs = await timeFirstRead(url, key, t0, boundMs);
    const pid3 = etcdPid(dataDir);
    const rssAfterKillRestart = pid3 === undefined ? undefined : await rssOf(pid3);
    return { loadMs, rssAfterLoad, dataDirBytes, restartReadMs, rssAfterRestart, killRestartReadMs, rssAfterKillRestart };
  } finally {
    await cluster.stop();
    register(undefined);
  }
}

interface EtcdStatus {
  readonly url: string;
  readonly id: string;
  readonly leader: string;
  readonly term: number;
}

async function statuses(urls: readonly string[]): Promise<EtcdStatus[]> {
  return Promise.all(
    urls.map(async (url) => {
      const c = etcdClient([url], 5_000);
      try {
        const st = await c.maintenance.status();
        return { url, id: st.header.member_id, leader: st.leader, // The client loads the protos with keepCase (raft_term at run time), its typings say raftTerm.
        term: Number((st as unknown as Record<string, string | undefined>)['raft_term'] ?? st.raftTerm) };
      } finally {
        c.close();
      }
    }),
  );
}

/** Max over members of term after − term before. */
function termChanges(before: readonly EtcdStatus[], after: readonly EtcdStatus[]): number {
  return Math.max(...after.map((a) => a.term - (before.find((b) => b.url === a.url)?.term ?? a.term)));
}

export interface EtcdClusterResult {
  loadMs: number;
  loadTermChanges: number;
  steady: SteadyResult;
  termChanges: number;
  leaderChanged: boolean;
  leaderRssAfter: number | undefined;
  memberRssAfter: (number | undefined)[];
}

/** A 3-member etcd cluster: load `keys` keys through the leader, then `seconds` of puts at STEADY_INFLIGHT. */
export async function etcdCluster3(bin: string, keys: number, seconds: number, register: (cleanup: (() => void) | undefined) => void): Promise<EtcdClusterResult> {
  const cluster = await EtcdCluster.start(bin, 3, 60_000);
  register(() => cluster.killAllSync());
  try {
    const leaderUrl = await cluster.leaderUrl();
    if (leaderUrl === undefined) throw new Error('etcd reported no leader after start');
    const loader = etcdClient([leaderUrl], LOAD_TIMEOUT_MS);
    let loadMs: number;
    const beforeLoad = await statuses(cluster.clientUrls);
    try {
      loadMs = await txnLoad(loader, keys);
    } finally {
      loader.close();
    }
    const loadTermChanges = termChanges(beforeLoad, await statuses(cluster.clientUrls));
    const client = etcdClient([leaderUrl], STEADY_TIMEOUT_MS);
    try {
      await client.put(keyOf(0)).value(VALUE_BUF).exec(); // connected before the window
      const before = await statuses(cluster.clientUrls);
      const steady = await steadyPuts(keys, STEADY_INFLIGHT, seconds, (key) => client.put(key).value(VALUE_BUF).exec(), (err) => (err instanceof Error ? err.name : 'UNKNOWN'));
      const after = await statuses(cluster.clientUrls);
      const leaderChanged = after.some((a) => a.leader !== before[0]!.leader);
      const memberRssAfter: (number | undefined)[] = [];
      for (let i = 0; i < cluster.clientUrls.length; i++) {
        const pid = etcdPid(join(cluster.dir, `e${i + 1}`));
        const rss = pid === undefined ? undefined : await rssOf(pid);
        memberRssAfter.push(rss);
      }
      const leaderIndex = cluster.clientUrls.indexOf(leaderUrl);
      return { loadMs, loadTermChanges, steady, termChanges: termChanges(before, after), leaderChanged, leaderRssAfter: memberRssAfter[leaderIndex], memberRssAfter };
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
    register(undefined);
  }
}
