// Proves the replicated member attributes (name, peer URLs, client URLs): the Membership state
// applies adds, publishes and updates; it round-trips through the snapshot record and the
// snapshot bytes; records, snapshots and conf-change contexts written without attributes (the
// older encoding) still open with each member's one URL; the command codec enforces its bounds;
// and in a 3-member in-process cluster every member lists every member's published client URLs,
// a restart with another client URL re-publishes it, `cluster.update()` moves a member's peer URL
// on every member, a member that installs a snapshot gets the attributes with it, and nameless
// adds get generated ids and are refused (etcd's strict reconfiguration check) once the started
// members could no longer make a quorum; a client endpoint's `advertiseUrls` is what is published.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError, MemberExistsError, MemberNotFoundError, NotEnoughStartedMembersError, ProtocolError } from '../../src/errors.ts';
import { AppliedState } from '../../src/node/applied-state.ts';
import { decodeAppSnapshot, decodeConfContext, encodeAppSnapshot, encodeEnvelope, pack } from '../../src/node/codec.ts';
import {
  checkMemberUrls,
  decodeAttributesCommand,
  encodeAttributesCommand,
  MAX_MEMBER_URL_BYTES,
  MAX_MEMBER_URLS,
  PEER_PROTOCOLS,
} from '../../src/node/member-attributes.ts';
import { ATTRIBUTES_KEY, Membership, REMOVED_IDS_KEY } from '../../src/node/membership.ts';
import type { Snapshot } from '../../src/protocol/types.ts';
import { Store } from '../../src/store/store.ts';
import { createNode } from '../../src/create-node.ts';
import { FAST, newStorage, quietLogger, startCluster, until } from './helpers/cluster.ts';

async function rejectsWith(p: Promise<unknown>, type: new (...args: never[]) => Error): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, type);
    return;
  }
  assert.unreachable(`expected a ${type.name}`);
}

const conf = { voters: ['a', 'b'], learners: ['c'] };

function threeMembers(): Membership {
  const m = new Membership();
  m.add('a', ['ws://h:1']);
  m.add('b', ['ws://h:2', 'ws://h:20']);
  m.add('c', ['ws://h:3'], '');
  return m;
}

test('membership: adds, publishes and updates; unknown ids change nothing', () => {
  const m = threeMembers();
  assert.equal(m.list(conf), [
    { id: 'a', name: 'a', url: 'ws://h:1', peerUrls: ['ws://h:1'], clientUrls: [], learner: false },
    { id: 'b', name: 'b', url: 'ws://h:2', peerUrls: ['ws://h:2', 'ws://h:20'], clientUrls: [], learner: false },
    { id: 'c', name: '', url: 'ws://h:3', peerUrls: ['ws://h:3'], clientUrls: [], learner: true },
  ]);
  assert.equal(m.applyAttributes({ member: 'c', name: 'm4', clientUrls: ['http://h:13'] }), { type: 'memberAttributes', member: 'c', known: true });
  assert.equal(m.applyAttributes({ member: 'a', peerUrls: ['ws://h:11'] }), { type: 'memberAttributes', member: 'a', known: true, peerUrl: 'ws://h:11' });
  assert.equal(m.applyAttributes({ member: 'zz', name: 'x' }), { type: 'memberAttributes', member: 'zz', known: false });
  const [a, , c] = m.list(conf);
  assert.equal(c, { id: 'c', name: 'm4', url: 'ws://h:3', peerUrls: ['ws://h:3'], clientUrls: ['http://h:13'], learner: true });
  assert.equal(a?.peerUrls, ['ws://h:11']);
  assert.is(m.url('a'), 'ws://h:11');
  m.delete('b');
  assert.is(m.url('b'), undefined);
  assert.ok(m.isRemoved('b'));
  assert.is(m.applyAttributes({ member: 'b', name: 'back' }).known, false, 'a removed member publishes nothing');
});

test('membership: the snapshot record round-trips every attribute and keeps the id → URL form', () => {
  const m = threeMembers();
  m.applyAttributes({ member: 'c', name: 'm4', clientUrls: ['http://h:13', 'https://h:14'] });
  m.delete('gone');
  const record = m.toRecord();
  assert.is(record['a'], 'ws://h:1');
  assert.is(record['b'], 'ws://h:2');
  assert.ok(record[ATTRIBUTES_KEY] !== undefined);
  assert.ok(record[REMOVED_IDS_KEY] !== undefined);
  const back = new Membership();
  back.reset(record);
  assert.equal(back.list(conf), m.list(conf));
  assert.equal(back.toRecord(), record, 'deterministic');
  assert.ok(back.isRemoved('gone'));
  // Through the snapshot bytes as well.
  const bytes = encodeAppSnapshot({ store: new Uint8Array(0), members: record, dedupe: [] });
  const again = new Membership();
  again.reset(decodeAppSnapshot(bytes).members);
  assert.equal(again.list(conf), m.list(conf));
});

test('older encoding: a record, snapshot and conf context without attributes still open', () => {
  const old = new Membership({ a: 'ws://h:1', b: 'ws://h:2', c: '' });
  assert.equal(old.list(conf), [
    { id: 'a', name: 'a', url: 'ws://h:1', peerUrls: ['ws://h:1'], clientUrls: [], learner: false },
    { id: 'b', name: 'b', url: 'ws://h:2', peerUrls: ['ws://h:2'], clientUrls: [], learner: false },
    { id: 'c', name: 'c', url: '', peerUrls: [], clientUrls: [], learner: true },
  ]);
  // An application snapshot as the previous version wrote it: v 1, members id → URL only.
  const data = encodeAppSnapshot({ store: new Store({}).snapshot().encode(), members: { a: 'ws://h:1' }, dedupe: [] });
  const snapshot: Snapshot = { meta: { index: 5, term: 1, confState: { voters: ['a'], learners: [] } }, data };
  const state = new AppliedState({}, 16, snapshot);
  assert.equal(state.membership.list({ voters: ['a'], learners: [] }), [{ id: 'a', name: 'a', url: 'ws://h:1', peerUrls: ['ws://h:1'], clientUrls: [], learner: false }]);
  // A conf-change context without peerUrls/name.
  assert.equal(decodeConfContext(pack({ url: 'ws://h:9', proposal: 'p' })), { url: 'ws://h:9', proposal: 'p' });
  // An attributes record whose JSON is unreadable is skipped: members keep their URL.
  const broken = new Membership();
  broken.reset({ a: 'ws://h:1', [ATTRIBUTES_KEY]: '{not json' });
  assert.equal(broken.list({ voters: ['a'], learners: [] })[0]?.peerUrls, ['ws://h:1']);
});

test('attributes command: bounds and validation, typed errors', () => {
  const cmd = { member: 'a', name: 'alpha', peerUrls: ['ws://h:1'], clientUrls: ['http://h:2'] };
  assert.equal(decodeAttributesCommand(encodeAttributesCommand(cmd)), cmd);
  const many = Array.from({ length: MAX_MEMBER_URLS + 1 }, (_, i) => `ws://h:${i + 1}`);
  assert.throws(() => checkMemberUrls(many, 'peerUrls', PEER_PROTOCOLS, false), (e: unknown) => e instanceof InvalidArgumentError && /at most 8/.test(e.message));
  const long = `ws://${'h'.repeat(MAX_MEMBER_URL_BYTES)}:1`;
  assert.throws(() => checkMemberUrls([long], 'peerUrls', PEER_PROTOCOLS, false), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => checkMemberUrls(['http://h:1'], 'peerUrls', PEER_PROTOCOLS, false), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => checkMemberUrls(['ws://h'], 'peerUrls', PEER_PROTOCOLS, false), (e: unknown) => e instanceof InvalidArgumentError, 'a port is required');
  assert.throws(() => checkMemberUrls(['ws://h:1', 'ws://h:1'], 'peerUrls', PEER_PROTOCOLS, false), (e: unknown) => e instanceof InvalidArgumentError);
  assert.throws(() => checkMemberUrls([], 'peerUrls', PEER_PROTOCOLS, false), (e: unknown) => e instanceof InvalidArgumentError);
  // A committed command with bad fields is a ProtocolError, never a crash.
  const bad = new Uint8Array([0x4d, ...pack({ member: 'a', clientUrls: ['ftp://x:1'] })]);
  assert.throws(() => decodeAttributesCommand(bad), (e: unknown) => e instanceof ProtocolError);
  assert.throws(() => decodeAttributesCommand(new Uint8Array([0x4d, 0xc1])), (e: unknown) => e instanceof ProtocolError);
});

test('applied state: an attributes entry applies once (deduped) and lands in the snapshot view', async () => {
  const state = new AppliedState({}, 16, { meta: { index: 0, term: 0, confState: { voters: [], learners: [] } }, data: new Uint8Array(0) });
  state.membership.add('a', ['ws://h:1']);
  const command = encodeAttributesCommand({ member: 'a', name: 'alpha', clientUrls: ['http://h:2'] });
  const data = encodeEnvelope({ id: { member: 'a', incarnation: 1, seq: 1 }, command });
  const first = state.apply({ index: 1, term: 1, type: 'normal', data }, () => {});
  assert.equal(first?.result, { type: 'memberAttributes', member: 'a', known: true });
  assert.is(state.apply({ index: 2, term: 1, type: 'normal', data }, () => {}), undefined, 'a re-proposed copy is dropped');
  const view = await state.view().encode();
  const back = new Membership();
  back.reset(decodeAppSnapshot(view).members);
  assert.equal(back.list({ voters: ['a'], learners: [] })[0], { id: 'a', name: 'alpha', url: 'ws://h:1', peerUrls: ['ws://h:1'], clientUrls: ['http://h:2'], learner: false });
});

test('cluster: every member lists every client URL; restart re-publishes; update moves a peer URL; snapshots carry them', async () => {
  const c = await startCluster(3, { snapshotEvery: 20, snapshotCatchUpEntries: 5 });
  try {
    await Promise.all([...c.nodes.values()].map((n) => n.ready({ timeoutMs: 5_000 })));
    const clientUrl = (id: string, port: number): string => `http://127.0.0.1:${port + Number(id.slice(1))}`;
    for (const n of c.nodes.values()) n.cluster.advertise([clientUrl(n.id, 18000)]);
    const expected = (port: number) => ['n1', 'n2', 'n3'].map((id) => [clientUrl(id, port)]);
    const everywhere = (want: string[][]) => () =>
      [...c.nodes.values()].every((n) => JSON.stringify(n.status().members.map((m) => m.clientUrls)) === JSON.stringify(want));
    await until(everywhere(expected(18000)), 5_000, 'client URLs published');
    // A restart with another client URL.
    await c.nodes.get('n3')!.close();
    const n3 = await c.start('n3', { name: 'third', snapshotEvery: 20, snapshotCatchUpEntries: 5 });
    n3.cluster.advertise([clientUrl('n3', 19000)]);
    const afterRestart = [[clientUrl('n1', 18000)], [clientUrl('n2', 18000)], [clientUrl('n3', 19000)]];
    await until(everywhere(afterRestart), 5_000, 'client URL re-published');
    assert.is(c.nodes.get('n1')!.status().members.find((m) => m.id === 'n3')?.name, 'third');
    // update: a peer URL another member has is refused; then n2's URL moves everywhere.
    const leader = await c.waitLeader();
    await rejectsWith(leader.cluster.update('n2', [c.peers['n1']!]), MemberExistsError);
    await rejectsWith(leader.cluster.update('nope', ['ws://127.0.0.1:1']), MemberNotFoundError);
    await leader.cluster.update('n2', ['ws://127.0.0.1:17999', 'ws://127.0.0.1:17998']);
    await until(() => [...c.nodes.values()].every((n) => n.status().members.find((m) => m.id === 'n2')?.url === 'ws://127.0.0.1:17999'), 3_000, 'update applied');
    // n1 falls behind, the others write past a snapshot: n1 installs it and keeps the attributes.
    c.net.isolate('n1');
    const other = (await c.waitLeader(3_000, 'n1'));
    for (let i = 0; i < 60; i++) await other.put(`/k/${i}`, i);
    c.net.heal();
    const n1 = c.nodes.get('n1')!;
    await until(() => n1.status().appliedIndex >= other.status().commitIndex, 5_000, 'n1 caught up');
    const m2 = n1.status().members.find((m) => m.id === 'n2');
    assert.equal(m2?.peerUrls, ['ws://127.0.0.1:17999', 'ws://127.0.0.1:17998']);
    assert.equal(n1.status().members.map((m) => m.clientUrls), afterRestart);
  } finally {
    await c.closeAll();
  }
});

test('nameless adds: generated ids, listed unstarted; a voter too many for the started members is refused', async () => {
  const c = await startCluster(3);
  try {
    await Promise.all([...c.nodes.values()].map((n) => n.ready({ timeoutMs: 5_000 })));
    const leader = await c.waitLeader();
    const a = await leader.cluster.addByPeerUrls(['ws://127.0.0.1:17101']);
    const b = await leader.cluster.addByPeerUrls(['ws://127.0.0.1:17102']);
    assert.match(a.id, /^m-[0-9a-f]{16}$/);
    assert.is.not(a.id, b.id);
    const listed = (await leader.cluster.members()).find((m) => m.id === a.id);
    assert.equal(listed, { id: a.id, name: '', url: 'ws://127.0.0.1:17101', peerUrls: ['ws://127.0.0.1:17101'], clientUrls: [], learner: false });
    // 3 started of 5 voters: a 6th voter would need 4 started.
    await rejectsWith(leader.cluster.addByPeerUrls(['ws://127.0.0.1:17103']), NotEnoughStartedMembersError);
    await rejectsWith(leader.cluster.add('n9', 'ws://127.0.0.1:17104', { name: '' }), NotEnoughStartedMembersError);
    await rejectsWith(leader.cluster.addByPeerUrls(['ws://127.0.0.1:17101'], { learner: true }), MemberExistsError);
    const learner = await leader.cluster.addByPeerUrls(['ws://127.0.0.1:17105'], { learner: true });
    assert.is((await leader.cluster.members()).find((m) => m.id === learner.id)?.learner, true, 'learners are not counted');
    // Removing a started voter would leave 2 started of 4 voters: refused; an unstarted one goes.
    const follower = [...c.nodes.values()].find((n) => n !== leader)!;
    await rejectsWith(leader.cluster.remove(follower.id), NotEnoughStartedMembersError);
    await leader.cluster.remove(b.id);
    await leader.cluster.remove(follower.id);
    assert.equal((await leader.cluster.members()).filter((m) => !m.learner).length, 3);
  } finally {
    await c.closeAll();
  }
});

test('client endpoint: advertiseUrls is what the member publishes; bad ones, and bad names, are refused', async () => {
  const base = { storage: newStorage(), logger: quietLogger, ...FAST };
  const node = await createNode({ ...base, id: 'e1', client: { port: 0, advertiseUrls: ['http://10.0.0.7:2379', 'https://e1.example:2379'] } });
  try {
    await node.ready({ timeoutMs: 5_000 });
    await until(() => JSON.stringify(node.status().members[0]?.clientUrls) === JSON.stringify(['http://10.0.0.7:2379', 'https://e1.example:2379']), 3_000, 'advertised URLs');
  } finally {
    await node.close();
  }
  for (const name of ['', 'x'.repeat(65)]) {
    let refused: unknown;
    try {
      await createNode({ ...base, storage: newStorage(), id: 'e3', name });
    } catch (err) {
      refused = err;
    }
    assert.instance(refused, RangeError, `name ${name.length} bytes`);
  }
  for (const advertiseUrls of [['ws://e1:2379'], [], ['http://e1']]) {
    let refused: unknown;
    try {
      await createNode({ ...base, storage: newStorage(), id: 'e2', client: { port: 0, advertiseUrls } });
    } catch (err) {
      refused = err;
    }
    assert.instance(refused, RangeError, JSON.stringify(advertiseUrls));
  }
});

test.run();
