// A 3-member etcd cluster on 127.0.0.1 for the side-by-side run of bench/cluster.ts: free ports,
// a temp data dir per member (removed by stop()/killAllSync()), default fsync behaviour, and
// heartbeat/election timers passed explicitly at etcd's defaults (100 ms / 1000 ms), which are
// also quorumkv's. Not a test file; nothing here is imported by src/.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import type { IOptions } from 'etcd3';
import { freePorts } from '../test/node/helpers/proc-cluster.ts';

/** Bound on waiting for a member process to exit after SIGTERM before it gets SIGKILL. */
const stopGraceMs = 3_000;
/** Bound on waiting for a SIGKILLed member process to be reaped. */
const killWaitMs = 2_000;
/** Bytes of each member's stderr kept to explain a failed start. */
const stderrTailBytes = 4_096;

/** The `etcd` version string (`etcd --version` first line), or undefined when `bin` cannot run. */
export function etcdVersion(bin: string): string | undefined {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    return /etcd Version:\s*(\S+)/.exec(out)?.[1] ?? out.split('\n')[0];
  } catch {
    return undefined;
  }
}

/**
 * An etcd3 client with no retries and no circuit breaker (the defaults retry 3 times and open a
 * 5 s breaker, which would hide or inflate what we time) and a deadline on every unary call.
 */
export function etcdClient(hosts: string[], deadlineMs: number): Etcd3 {
  const options: IOptions = {
    hosts,
    dialTimeout: 5_000,
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + deadlineMs }),
  };
  return new Etcd3(options);
}

interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly args: readonly string[];
  proc: ChildProcess | undefined;
  exited: Promise<void>;
  stderrTail: string;
}

export class EtcdCluster {
  readonly dir: string;
  readonly #bin: string;
  readonly #members: EtcdMember[];

  private constructor(bin: string, dir: string, members: EtcdMember[]) {
    this.#bin = bin;
    this.dir = dir;
    this.#members = members;
  }

  /** Starts `size` members and waits (up to `timeoutMs`) until every one reports the same leader. */
  static async start(bin: string, size: number, timeoutMs: number): Promise<EtcdCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'qkv-etcd-'));
    const ports = await freePorts(2 * size);
    const names = Array.from({ length: size }, (_, i) => `e${i + 1}`);
    const peerUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1]!}`;
    const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    const token = `qkv-bench-${process.pid}-${Date.now()}`;
    const members = names.map((name, i): EtcdMember => {
      const clientUrl = `http://127.0.0.1:${ports[2 * i]!}`;
      const args = [
        '--name', name,
        '--data-dir', join(dir, name),
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl(i),
        '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', initialCluster,
        '--initial-cluster-token', token,
        '--initial-cluster-state', 'new',
        '--heartbeat-interval', '100',
        '--election-timeout', '1000',
        '--logger', 'zap',
        '--log-outputs', 'stderr',
        '--log-level', 'error',
      ];
      return { name, clientUrl, args, proc: undefined, exited: Promise.resolve(), stderrTail: '' };
    });
    const cluster = new EtcdCluster(bin, dir, members);
    try {
      for (const m of members) cluster.#spawn(m);
      await cluster.waitHealthy(timeoutMs);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get clientUrls(): string[] {
    return this.#members.map((m) => m.clientUrl);
  }

  #spawn(m: EtcdMember): void {
    const proc = spawn(this.#bin, m.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    m.proc = proc;
    m.stderrTail = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      m.stderrTail = (m.stderrTail + chunk.toString('utf8')).slice(-stderrTailBytes);
      if (process.env['QKV_BENCH_LOG'] === '1') process.stderr.write(`[${m.name}] ${chunk.toString('utf8')}`);
    });
    m.exited = new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.once('error', (err) => {
        m.stderrTail += `\nspawn failed: ${err.message}`;
        resolve();
      });
    });
  }

  #member(clientUrl: string): EtcdMember {
    const m = this.#members.find((x) => x.clientUrl === clientUrl);
    if (m === undefined) throw new Error(`no etcd member serves ${clientUrl}`);
    return m;
  }

  /**
   * Polls every running member's Status until all of them name the same leader and that leader is
   * one of them; throws after `timeoutMs` with the members' stderr tails.
   */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.leaderUrl().catch(() => undefined)) return;
      for (const m of this.#members) {
        if (m.proc?.exitCode !== null && m.proc?.exitCode !== undefined) {
          throw new Error(`etcd member ${m.name} exited with code ${m.proc.exitCode}: ${m.stderrTail.trim()}`);
        }
      }
      if (Date.now() > deadline) {
        const tails = this.#members.map((m) => `[${m.name}] ${m.stderrTail.trim()}`).join('\n');
        throw new Error(`etcd cluster not healthy within ${timeoutMs} ms\n${tails}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The client URL of the member every running member agrees is leader, or undefined. */
  async leaderUrl(): Promise<string | undefined> {
    const running = this.#members.filter((m) => m.proc !== undefined && m.proc.exitCode === null && m.proc.signalCode === null);
    const statuses = await Promise.all(
      running.map(async (m) => {
        const c = etcdClient([m.clientUrl], 1_000);
        try {
          const st = await c.maintenance.status();
          return { url: m.clientUrl, id: st.header.member_id, leader: st.leader };
        } catch {
          return undefined;
        } finally {
          c.close();
        }
      }),
    );
    if (statuses.length !== this.#members.length) return undefined;
    const leaderId = statuses[0]?.leader;
    if (leaderId === undefined || leaderId === '0') return undefined;
    if (!statuses.every((s) => s !== undefined && s.leader === leaderId)) return undefined;
    return statuses.find((s) => s?.id === leaderId)?.url;
  }

  /** kill -9 of the member serving `clientUrl`; resolves once it has exited (bounded). */
  async kill(clientUrl: string): Promise<void> {
    const m = this.#member(clientUrl);
    m.proc?.kill('SIGKILL');
    await Promise.race([m.exited, new Promise((r) => setTimeout(r, killWaitMs))]);
  }

  /** Restarts a killed member on its data dir (the initial-cluster flags are ignored then). */
  restart(clientUrl: string): void {
    this.#spawn(this.#member(clientUrl));
  }

  /** Synchronous last resort for signal handlers: SIGKILL every member, remove the data dirs. */
  killAllSync(): void {
    for (const m of this.#members) if (m.proc?.exitCode === null) m.proc.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGTERM every member, SIGKILL after `stopGraceMs`, wait (bounded) and remove the data dirs. */
  async stop(): Promise<void> {
    await Promise.all(
      this.#members.map(async (m) => {
        const proc = m.proc;
        if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill('SIGTERM');
        const graceful = await Promise.race([m.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), stopGraceMs))]);
        if (!graceful) {
          proc.kill('SIGKILL');
          await Promise.race([m.exited, new Promise((r) => setTimeout(r, killWaitMs))]);
        }
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
