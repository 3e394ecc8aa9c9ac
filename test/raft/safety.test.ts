// Proves the safety properties of Figure 3 under seeded chaos: random partitions, drops,
// crashes and restarts (persisted state only), with proposals throughout. After every step we
// check election safety (one leader per term), log matching (same index+term ⇒ same prefix),
// leader completeness (every committed entry is in every later leader's log), state machine
// safety (same entry applied at each index everywhere) and commit monotonicity; after healing, a
// leader appears and all members converge. A failure prints the seed and the replay command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, enc, mulberry32, type TestNode } from './harness.ts';
import type { Entry, NodeId, Term } from '../../src/protocol/types.ts';

const SEEDS = Number(process.env.RAFT_CHAOS_SEEDS ?? 12);
const FIRST = Number(process.env.RAFT_CHAOS_SEED ?? 1);

function entryAt(n: TestNode, index: number): Entry | undefined {
  return n.storage.ents[index - n.storage.snap.meta.index - 1];
}

function check(c: Cluster, leaders: Map<Term, NodeId>, applied: Map<number, string>, commits: Map<NodeId, number>): void {
  for (const n of c.nodes.values()) {
    const st = n.raw.status();
    if (st.role === 'leader') {
      const prev = leaders.get(st.term);
      if (prev !== undefined && prev !== n.id) throw new Error(`election safety: ${prev} and ${n.id} lead term ${st.term}`);
      leaders.set(st.term, n.id);
      // Leader completeness: an entry committed in term T is in the log of every leader of a
      // later term (a stale leader of an older term may still lag).
      for (const [index, key] of applied) {
        const entryTerm = Number(key.slice(0, key.indexOf(':')));
        if (st.term <= entryTerm || index <= n.storage.snap.meta.index) continue;
        const t = entryAt(n, index)?.term;
        if (t !== entryTerm) throw new Error(`leader completeness: ${n.id} (term ${st.term}) lacks committed ${index} (${key}, has term ${t})`);
      }
    }
    const prevCommit = commits.get(n.id) ?? 0;
    if (st.commit < prevCommit && !c.down.has(n.id)) throw new Error(`commit of ${n.id} went back ${prevCommit} -> ${st.commit}`);
    commits.set(n.id, st.commit);
    for (const a of n.applied) {
      const key = `${a.term}:${a.data}`;
      const seen = applied.get(a.index);
      if (seen !== undefined && seen !== key) throw new Error(`state machine safety at ${a.index}: ${seen} vs ${key} (${n.id})`);
      applied.set(a.index, key);
    }
  }
  // Log matching on persisted logs.
  const nodes = [...c.nodes.values()];
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const x = nodes[i] as TestNode;
      const y = nodes[j] as TestNode;
      const last = Math.min(x.storage.lastIndex(), y.storage.lastIndex());
      const first = Math.max(x.storage.firstIndex(), y.storage.firstIndex());
      let matched = false;
      for (let k = last; k >= first; k--) {
        const ex = entryAt(x, k) as Entry;
        const ey = entryAt(y, k) as Entry;
        if (matched) {
          if (ex.term !== ey.term || ex.type !== ey.type) throw new Error(`log matching: ${x.id}/${y.id} differ at ${k} below a match`);
        } else if (ex.term === ey.term) matched = true;
      }
    }
  }
}

function runSeed(seed: number): void {
  const rnd = mulberry32(seed * 7919);
  const ids = seed % 2 === 0 ? ['a', 'b', 'c'] : ['a', 'b', 'c', 'd', 'e'];
  const c = new Cluster(ids, { seed, electionTicks: 6, maxMessageBytes: 64, maxInflightMessages: 4 });
  const leaders = new Map<Term, NodeId>();
  const applied = new Map<number, string>();
  const commits = new Map<NodeId, number>();
  let next = 0;
  for (let step = 0; step < 400; step++) {
    const r = rnd();
    if (r < 0.03) {
      c.heal();
      c.isolate(ids[Math.floor(rnd() * ids.length)] as string);
    } else if (r < 0.05) {
      const shuffled = [...ids].sort(() => rnd() - 0.5);
      c.heal();
      c.partition(shuffled.slice(0, 2), shuffled.slice(2));
    } else if (r < 0.1) {
      c.heal();
    } else if (r < 0.12) {
      const id = ids[Math.floor(rnd() * ids.length)] as string;
      c.node(id).restart();
      c.node(id).applied = [];
      commits.delete(id);
    } else if (r < 0.14) {
      const id = ids[Math.floor(rnd() * ids.length)] as string;
      if (c.node(id).appliedIndex > 0) c.node(id).compact();
    }
    const drop = rnd() < 0.3 ? 0.2 : 0;
    c.filter = drop > 0 ? () => rnd() >= drop : undefined;
    for (const id of ids) {
      if (rnd() < 0.3) {
        try {
          c.raw(id).propose(enc.encode(`v${next++}`));
        } catch {
          // Dropped proposals are fine here.
        }
      }
    }
    c.tick();
    c.stabilize();
    check(c, leaders, applied, commits);
  }
  c.heal();
  c.filter = undefined;
  c.run(60);
  const l = c.leader();
  if (l === undefined) throw new Error('no leader after healing');
  c.propose(l, 'final');
  c.run(5);
  const want = c.raw(l).status().commit;
  for (const n of c.nodes.values()) {
    if (n.raw.status().commit !== want) console.error(JSON.stringify({n: n.raw.status(), l: c.raw(l).status(), snap: n.storage.snap.meta, lsnap: c.node(l).storage.snap.meta, lfirst: c.node(l).storage.firstIndex()})); if (n.raw.status().commit !== want) throw new Error(`${n.id} did not converge: commit ${n.raw.status().commit} vs ${want}`);
    if (n.state.join() !== c.node(l).state.join()) throw new Error(`${n.id} state differs from leader`);
  }
  check(c, leaders, applied, commits);
}

test(`chaos: safety invariants hold on every step (${SEEDS} seeds from ${FIRST})`, () => {
  for (let seed = FIRST; seed < FIRST + SEEDS; seed++) {
    try {
      runSeed(seed);
    } catch (err) {
      console.error(`seed ${seed} failed; replay: RAFT_CHAOS_SEED=${seed} RAFT_CHAOS_SEEDS=1 node --import tsx test/raft/safety.test.ts`);
      throw err;
    }
  }
  assert.ok(true);
});

test.run();
