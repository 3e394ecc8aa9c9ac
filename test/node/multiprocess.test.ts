// Proves a real cluster: 3 members in 3 OS processes (wsTransport on 127.0.0.1, fileStorage with
// fsync). Writes from every member; kill -9 of the leader mid-load → a new leader within 2
// election timeouts, writes resume, no acknowledged write lost; the killed member restarts far
// behind and catches up (by snapshot: snapshotEvery is small); a watcher on a follower sees every
// revision exactly once across the failover; a new member joins as learner, is promoted, and an
// old one is removed. Set QKV_TEST_LOG=1 to see the members' warnings.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startProcCluster } from './helpers/proc-cluster.ts';
import type { Member, Status } from './helpers/proc-cluster.ts';
import { sleep } from '../helpers/time.ts';

const ELECTION_MS = 300;
const OPTIONS = { heartbeatMs: 50, electionTimeoutMs: ELECTION_MS, snapshotEvery: 100, snapshotCatchUpEntries: 20, requestTimeoutMs: 3_000 };


async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const t0 = Date.now();
const phase = (what: string): void => {
  if (process.env['QKV_TEST_LOG'] === '1') process.stdout.write(`  [${Date.now() - t0} ms] ${what}\n`);
};

test('3 processes: kill -9 the leader under load, restart, watch, join/promote/remove', async () => {
  const c = await startProcCluster(3, OPTIONS, 1);
  try {
    await Promise.all([...c.members.values()].map((m) => m.call('ready', { timeoutMs: 10_000 })));
    phase('// Writes from every member.');
    // Writes from every member.
    for (const m of c.members.values()) await m.call('put', { key: `/load/first/${m.id}`, value: m.id });
    const leader = await c.waitLeader(2_000);
    const watcherMember = [...c.members.values()].find((m) => m !== leader)!;
    const seen: number[] = [];
    const watchErrors: string[] = [];
    await watcherMember.watch('/load/', 1, (ev) => (ev.error !== undefined ? watchErrors.push(ev.error) : seen.push(ev.revision!)));

    phase('// Load from every member');
    // Load from every member, 4 writers each, until told to stop.
    const acked = new Set<string>();
    let stop = false;
    let seq = 0;
    const writer = async (): Promise<void> => {
      while (!stop) {
        const alive = [...c.members.values()].filter((m) => !m.exited);
        const m = alive[seq % alive.length]!;
        const key = `/load/k/${seq++}`;
        try {
          await m.call('put', { key, value: seq, timeoutMs: 2_000 });
          acked.add(key);
        } catch {
          await sleep(5); // Unknown outcome or member gone: try another key.
        }
      }
    };
    const writers = Array.from({ length: 12 }, writer);
    await sleep(500);
    phase('const killedAt');
    const killedAt = Date.now();
    leader.kill();
    const ackedAtKill = acked.size;
    const next = await c.waitLeader(5_000, leader.id);
    const failoverMs = Date.now() - killedAt;
    // Randomized election timeouts lie in [T, 2T): a new leader within 2 of them.
    assert.ok(failoverMs <= 4 * ELECTION_MS, `failover took ${failoverMs} ms (election timeout ${ELECTION_MS} ms)`);
    phase('await until(() => acked.size > ackedAtKi');
    await until(() => acked.size > ackedAtKill + 300, 15_000, 'writes to resume (300 more)');
    phase('stop = true;');
    stop = true;
    await Promise.all(writers);

    phase('// The killed member restarts');
    // The killed member restarts far behind and catches up.
    const restarted = await c.start(leader.id);
    await restarted.call('ready', { timeoutMs: 10_000 });
    for (const m of c.members.values()) {
      const r = await m.call<{ keys: string[]; revision: number }>('range', { prefix: '/load/k/' });
      const keys = new Set(r.keys);
      for (const k of acked) assert.ok(keys.has(k), `acknowledged ${k} lost on ${m.id}`);
    }

    phase("// The follower's watcher");
    // The follower's watcher saw every revision exactly once.
    const st = await next.call<Status>('status');
    await until(() => seen.length > 0 && seen[seen.length - 1]! >= st.revision, 5_000, 'watcher to catch up');
    assert.equal(watchErrors, []);
    assert.equal(seen, Array.from({ length: seen.length }, (_, i) => i + 1), 'no gap and no duplicate');

    phase('// A new member joins');
    // A new member joins as a learner, is promoted, and an old one is removed.
    const n4Url = c.spare[0]!;
    await next.call('add', { member: 'n4', url: n4Url, learner: true });
    const n4 = await c.start('n4', { join: true, peers: { ...c.peers, n4: n4Url } });
    await n4.call('ready', { timeoutMs: 10_000 });
    await until(async () => (await n4.call<Status>('status')).revision >= st.revision, 10_000, 'n4 to catch up');
    phase("await next.call('promote'");
    await next.call('promote', { member: 'n4' });
    const victim = [...c.members.values()].find((m) => m !== next && m.id !== 'n4')!;
    await next.call('remove', { member: victim.id });
    const members = await next.call<{ id: string; learner: boolean }[]>('members');
    assert.equal(members.map((m) => m.id).sort(), ['n1', 'n2', 'n3', 'n4'].filter((id) => id !== victim.id));
    assert.ok(members.every((m) => !m.learner));
    phase('// The cluster still takes');
    // The cluster still takes writes through the new member.
    const r = await n4.call<{ revision: number }>('put', { key: '/load/after', value: 1 });
    assert.ok(r.revision > st.revision);
    process.stdout.write(`  multi-process: failover ${failoverMs} ms, ${acked.size} acknowledged writes, ${seen.length} watch events\n`);
  } finally {
    await c.closeAll();
  }
});

test.run();
