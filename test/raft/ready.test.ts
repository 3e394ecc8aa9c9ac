// Proves the Ready contract: entries are handed out once and stay unstable until advance();
// committed entries never run ahead of entries handed out in this or an earlier Ready; hard and
// soft state appear only when they change; mustSync is set only when durable state changed;
// a leader's own acknowledgement counts only after advance() (its fsync); stepping between
// ready() and advance() is allowed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster, enc } from './harness.ts';

test('committed entries never include entries not yet handed out', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const handed = new Map<string, number>();
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 5; i++) c.raw('a').propose(enc.encode(`r${round}-${i}`));
    for (const n of c.nodes.values()) {
      while (n.raw.hasReady()) {
        const rd = n.raw.ready();
        let maxHanded = handed.get(n.id) ?? 0;
        for (const e of rd.entries) maxHanded = Math.max(maxHanded, e.index);
        if (rd.snapshot) maxHanded = Math.max(maxHanded, rd.snapshot.meta.index);
        handed.set(n.id, maxHanded);
        for (const e of rd.committedEntries) assert.ok(e.index <= Math.max(maxHanded, n.storage.lastIndex()), `${n.id}: ${e.index}`);
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.hardState = rd.hardState;
        c.queue.push(...rd.messages, ...rd.messagesAfterPersist);
        n.raw.advance();
      }
    }
    c.deliverAll();
    c.stabilize();
  }
});

test('the leader counts itself only after advance(): a lone leader commits on the next Ready', () => {
  const c = new Cluster(['a']);
  c.elect('a');
  const a = c.node('a');
  a.raw.propose(enc.encode('x'));
  const rd1 = a.raw.ready();
  assert.is(rd1.entries.length, 1);
  assert.equal(rd1.committedEntries, []);
  assert.is(rd1.mustSync, true);
  a.storage.append(rd1.entries);
  a.raw.advance();
  const rd2 = a.raw.ready();
  assert.equal(rd2.committedEntries.map((e) => e.index), [rd1.entries[0]?.index]);
  assert.equal(rd2.entries, []);
  assert.is(rd2.mustSync, false, 'only commit changed: no fsync needed');
  assert.ok(rd2.hardState !== undefined);
  a.raw.advance();
  assert.is(a.raw.hasReady(), false);
});

test('soft state appears on role change only; hard state on term/vote/commit change only', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const rds = c.node('b').readies;
  const softs = rds.filter((r) => r.softState !== undefined).map((r) => r.softState);
  assert.equal(softs, [{ leader: 'a', role: 'follower' }]);
  c.run(5);
  const later = c.node('b').readies.slice(rds.length);
  assert.ok(later.every((r) => r.softState === undefined && r.hardState === undefined));
});

test('messages may be stepped between ready() and advance(); the next Ready carries their output', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const b = c.node('b');
  c.raw('a').propose(enc.encode('p1'));
  const toB1 = c.node('a').handleReady().filter((m) => m.to === 'b');
  for (const m of toB1) b.raw.step(m);
  const rd1 = b.raw.ready();
  c.raw('a').propose(enc.encode('p2'));
  const toB2 = c.node('a').handleReady().filter((m) => m.to === 'b');
  for (const m of toB2) b.raw.step(m);
  assert.is(b.raw.hasReady(), false, 'no new Ready while one is outstanding');
  b.storage.append(rd1.entries);
  b.raw.advance();
  const rd2 = b.raw.ready();
  assert.equal(rd2.entries.map((e) => new TextDecoder().decode(e.data)), ['p2']);
  b.storage.append(rd2.entries);
  b.raw.advance();
  assert.is(rd1.messagesAfterPersist.length + rd2.messagesAfterPersist.length, 2);
});

test('ready() twice without advance() is a programmer error', () => {
  const c = new Cluster(['a']);
  c.raw('a').campaign();
  c.raw('a').ready();
  assert.throws(() => c.raw('a').ready(), /advance/);
});

test.run();
