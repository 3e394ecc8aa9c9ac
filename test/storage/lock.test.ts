// Proves the data dir lock: a second open of the same dir in this process, or from another
// process, fails with LockedError while the first holder lives; a lock left by a process killed
// with SIGKILL is detected as stale (dead pid) and taken over; close() releases the lock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LockedError } from '../../src/errors.ts';
import { fileStorage } from '../../src/storage/index.ts';
import { childScript, killHard, startChild } from './child-process.ts';
import { quietLogger, rejects, removeDir, tempDir } from './helpers.ts';

const dirs: string[] = [];
function dir(): string {
  const d = tempDir('lock');
  dirs.push(d);
  return d;
}
test.after(() => {
  dirs.forEach(removeDir);
  removeDir(childScript().dir);
});

test('a second open in the same process is rejected with LockedError; close releases', async () => {
  const d = dir();
  const a = fileStorage(d, { logger: quietLogger() });
  await a.open();
  const b = fileStorage(d, { logger: quietLogger() });
  await rejects(b.open(), (e) => e instanceof LockedError && e.dir === d && e.code === 'LOCKED');
  await a.close();
  assert.not.ok(existsSync(join(d, 'LOCK')));
  const c = fileStorage(d, { logger: quietLogger() });
  await c.open();
  await c.close();
});

test('an open from a child process is rejected while this process holds the lock', async () => {
  const d = dir();
  const a = fileStorage(d, { logger: quietLogger() });
  await a.open();
  try {
    const child = startChild(['probe', d]);
    const line = await child.waitFor(/^(opened|error)/, 30_000);
    await killHard(child);
    assert.is(line, 'error LOCKED');
  } finally {
    await a.close();
  }
});

test('a live child holding the lock blocks us; after kill -9 its stale lock is taken over', async () => {
  const d = dir();
  const child = startChild(['hold', d]);
  try {
    await child.waitFor(/^ready$/, 30_000);
    const a = fileStorage(d, { logger: quietLogger() });
    await rejects(a.open(), (e) => e instanceof LockedError && e.message.includes(`pid ${child.proc.pid}`));
  } finally {
    await killHard(child);
  }
  const log = quietLogger();
  const b = fileStorage(d, { logger: log });
  await b.open();
  assert.ok(log.warnings.some((w) => w.includes('stale')), 'the takeover is logged');
  await b.close();
});

test('a lock naming a pid that does not exist is stale', async () => {
  const d = dir();
  writeFileSync(join(d, 'LOCK'), '2147483646\n');
  const s = fileStorage(d, { logger: quietLogger() });
  await s.open();
  await s.close();
});

test.run();
