// Proves how a standalone member of `--initial-cluster-state existing` picks its id when no member
// of `--initial-cluster` answers with the member list (the whole cluster restarting): the id it
// remembered in `<data-dir>/member-id` from an earlier start, else its name — it starts and
// waits instead of exiting. Real member processes on loopback, peers on ports nothing listens on.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, removeDir, startMember, tempDir, waitFor } from './helpers.ts';
import type { MemberProcess } from './helpers.ts';

const dir = tempDir('member-join');
const started: MemberProcess[] = [];
test.after(async () => {
  await Promise.all(started.map((m) => m.stop()));
  removeDir(dir);
});

/** A member joining a cluster whose other member is down; resolves with the id it logs. */
async function joinAlone(name: string, dataDir: string): Promise<{ id: unknown; member: MemberProcess }> {
  const [peer, client, dead] = [await freePort(), await freePort(), await freePort()];
  const member = startMember({ name, peerPort: peer, clientPort: client, dataDir, initialCluster: `${name}=ws://127.0.0.1:${peer},other=ws://127.0.0.1:${dead}`, state: 'existing' });
  started.push(member);
  const line = await waitFor(
    'the fallback log line',
    async () => member.log().split('\n').find((l) => l.includes('no member answered with the member list')),
    20_000,
    100,
  );
  const id = (JSON.parse(line) as Record<string, unknown>)['id'];
  await waitFor('serving', async () => (member.log().includes('serving client requests') ? true : undefined), 20_000, 100);
  assert.is(member.child.exitCode, null, member.log());
  return { id, member };
}

test('no member answers: the member starts under its name', async () => {
  const { id } = await joinAlone('j1', join(dir, 'j1'));
  assert.is(id, 'j1');
});

test('no member answers: the member starts under the id it remembered', async () => {
  const dataDir = join(dir, 'j2');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'member-id'), 'm-0123456789abcdef\n');
  const { id, member } = await joinAlone('j2', dataDir);
  assert.is(id, 'm-0123456789abcdef');
  assert.match(member.log(), /"member":"m-0123456789abcdef"/);
});

test.run();
