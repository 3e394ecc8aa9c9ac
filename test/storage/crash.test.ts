// Proves that no acknowledged write is lost across real crashes: a child process appends
// entries and prints each acknowledgement (after save() resolved, i.e. after fdatasync); the
// test kill -9s it at random moments, 50+ times, and after every kill reopens the data dir and
// checks that every acknowledged entry is present, in order, with its content. Seeded; the
// seed and a replay command are printed on failure. Longer runs: `npm run crash -- --cycles N`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { childScript } from './child-process.ts';
import { runCrashLoop } from './crash-harness.ts';
import { removeDir, seedFromEnv, tempDir } from './helpers.ts';

const CYCLES = Number(process.env.QKV_CRASH_CYCLES ?? 50);

test(`kill -9 at random moments, ${CYCLES} cycles: every acknowledged entry survives`, async () => {
  const seed = seedFromEnv();
  const dir = tempDir('crash');
  childScript();
  try {
    const r = await runCrashLoop({ dir, cycles: CYCLES, seed, maxRunMs: 60, lanes: Number(process.env.QKV_CRASH_LANES ?? 2) });
    assert.is(r.cycles, CYCLES);
    assert.ok(r.acked > 0, 'the child acknowledged writes');
    console.log(`crash: ${r.cycles} cycles, ${r.acked} entries acknowledged, ${r.tornTails} torn tails truncated (seed ${seed})`);
  } catch (err) {
    console.error(`crash test failed with seed ${seed}; replay: SEED=${seed} node --import tsx test/storage/crash.test.ts`);
    throw err;
  } finally {
    removeDir(dir);
    removeDir(childScript().dir);
  }
});

test.run();
