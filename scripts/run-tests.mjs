// Runs every `*.test.ts` under test/ in its own Node process (two at a time — this machine has
// two cores), so one file that hangs or crashes cannot take the suite down with it. Each file
// gets a hard time limit. A file whose text holds the line `// test-runner: solo` measures the
// event loop's timing and runs after the others, alone: on two cores a neighbour file's CPU would
// show up in its gaps as if it were the member's own work. The last line sums uvu's per-file totals as `N passed, N failed`,
// which is what .ci/run and the CI reader look for.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { cpus } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const fileTimeoutMs = Number(process.env.QKV_TEST_FILE_TIMEOUT_MS ?? 240_000);
const parallelism = Math.max(1, Number(process.env.QKV_TEST_JOBS ?? Math.min(2, cpus().length)));
const filter = process.argv[2] ? new RegExp(process.argv[2]) : undefined;

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = findTests(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => !filter || filter.test(f))
  .sort();

// uvu prints "  Total:     12\n  Passed:    11\n  Skipped:   0" once per file; colors are stripped.
function parseTotals(text) {
  // eslint-disable-next-line no-control-regex
  const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
  const total = [...plain.matchAll(/Total:\s+(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  const passed = [...plain.matchAll(/Passed:\s+(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  const skipped = [...plain.matchAll(/Skipped:\s+(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
  return { total, passed, skipped };
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, fileTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      // Anything the file started (child processes) dies with its process group.
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      const totals = parseTotals(output);
      const ok = code === 0 && !timedOut && totals.total > 0 && totals.passed + totals.skipped === totals.total;
      resolve({ file, ok, code, timedOut, output, totals, ms: Date.now() - started });
    });
  });
}

const isSolo = (file) => /^\/\/ test-runner: solo$/m.test(readFileSync(join(root, file), 'utf8'));
const solo = files.filter(isSolo);
const shared = files.filter((f) => !solo.includes(f));

const results = [];
async function worker(queue) {
  while (queue.length > 0) {
    const file = queue.shift();
    const r = await runFile(file);
    results.push(r);
    const { total, passed } = r.totals;
    const status = r.ok ? 'ok  ' : 'FAIL';
    console.log(`${status} ${r.file}  (${passed}/${total} in ${(r.ms / 1000).toFixed(1)}s${r.timedOut ? ', TIMED OUT' : ''})`);
    if (!r.ok) console.log(r.output.split('\n').map((l) => '    | ' + l).join('\n'));
  }
}
await Promise.all(Array.from({ length: parallelism }, () => worker(shared)));
await worker(solo);

let passed = 0;
let failed = 0;
for (const r of results) {
  passed += r.totals.passed;
  const missing = r.totals.total - r.totals.passed - r.totals.skipped;
  // A file that crashed or timed out without reporting counts as at least one failure.
  failed += r.ok ? 0 : Math.max(1, missing);
}
const failedFiles = results.filter((r) => !r.ok).map((r) => r.file);
if (failedFiles.length > 0) console.log(`\nfailed files: ${failedFiles.join(', ')}`);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 && files.length > 0 ? 0 : 1);
