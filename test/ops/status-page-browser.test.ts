// test-runner: solo
// The status page in a real headless browser (Debian's chromium driven by playwright-core)
// against three `quorumkv member` processes: it renders the three members and the leader; after
// `kill -9` of the leader it shows the new leader within 2 s; a key written with the quorumkv CLI
// appears in its key browser live, without a reload. Solo: it bounds wall-clock reactions.
// QKV_UI_SCREENSHOT=path writes a screenshot of the page at the end (the README's picture).
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { cli } from '../cli/helpers.ts';
import { startProcessCluster } from '../grpc/helpers.ts';
import type { ProcessCluster } from '../grpc/helpers.ts';

const CHROMIUM = process.env['QKV_CHROMIUM'] ?? '/usr/bin/chromium';
/** What the page must take, at most, to show a new leader after the old one is killed. */
const NEW_LEADER_WITHIN_MS = 2_000;
/** What a write may take to appear in the page's key list. */
const LIVE_KEY_WITHIN_MS = 2_000;

async function leaderOf(url: string): Promise<string> {
  const r = await fetch(`${url}/ui/api/status`);
  const body = (await r.json()) as { status: { leader: string } };
  return body.status.leader;
}

/** Polls the page until `read` gives a value `ok` accepts; the elapsed milliseconds. */
async function within(page: Page, what: string, limitMs: number, read: () => Promise<string>, ok: (v: string) => boolean): Promise<number> {
  const started = performance.now();
  let last = '';
  while (performance.now() - started < limitMs * 3) {
    last = await read();
    if (ok(last)) return performance.now() - started;
    await page.waitForTimeout(50);
  }
  throw new Error(`${what}: not seen within ${limitMs * 3} ms (last: ${JSON.stringify(last)})`);
}

if (!existsSync(CHROMIUM)) {
  const message = `chromium not found at ${CHROMIUM} (apt-get install chromium, or set QKV_CHROMIUM)`;
  // CI installs it (.ci/run): there a missing browser is a failure, not a skip.
  if (process.env['CI'] !== undefined) throw new Error(message);
  console.log(`${message}: skipping the browser test`);
} else {
  let c: ProcessCluster | undefined;
  let browser: Browser | undefined;
  test.after(async () => {
    await browser?.close();
    await c?.stop();
  });

  test('the status page shows the members, a new leader within 2 s of a leader kill, and a CLI write live', async () => {
    c = await startProcessCluster('ui-browser');
    const members = c.members;
    const leaderName = await leaderOf(members[0]!.clientUrl);
    const leader = members.find((m) => m.name === leaderName);
    const viewer = members.find((m) => m.name !== leaderName);
    assert.ok(leader !== undefined && viewer !== undefined, `leader ${leaderName}`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${viewer.clientUrl}/ui/?prefix=${encodeURIComponent('/ui/')}`);

    // Three members, one of them the leader.
    await within(page, 'three member rows', 5_000, async () => String(await page.locator('#members tbody tr').count()), (n) => n === '3');
    for (const m of members) assert.is(await page.locator(`#members tr[data-member="${m.name}"]`).count(), 1, m.name);
    assert.is(await page.locator('#leader').textContent(), leaderName);
    assert.is(await page.locator(`#members tr[data-member="${leaderName}"] td[data-role]`).getAttribute('data-role'), 'leader');

    // kill -9 of the leader: the page shows another member as leader.
    leader.child.kill('SIGKILL');
    const newLeaderMs = await within(page, 'a new leader', NEW_LEADER_WITHIN_MS, async () => (await page.locator('#leader').textContent()) ?? '', (t) => t !== leaderName && t !== 'none' && t !== '');
    assert.ok(newLeaderMs < NEW_LEADER_WITHIN_MS, `new leader shown after ${newLeaderMs.toFixed(0)} ms`);

    // A key written with the CLI appears in the open key list.
    const live = members.filter((m) => m !== leader).map((m) => m.clientUrl).join(',');
    const put = await cli(live, 'set', '/ui/written-by-cli', 'hello from the CLI');
    assert.is(put.code, 0, put.err);
    const row = page.locator('#keys tr[data-key="/ui/written-by-cli"]');
    const liveMs = await within(page, 'the CLI write', LIVE_KEY_WITHIN_MS, async () => String(await row.count()), (n) => n === '1');
    assert.ok(liveMs < LIVE_KEY_WITHIN_MS, `key shown after ${liveMs.toFixed(0)} ms`);
    assert.match((await row.locator('td').nth(1).textContent()) ?? '', 'hello from the CLI');
    console.log(`  new leader shown after ${newLeaderMs.toFixed(0)} ms; CLI write shown after ${liveMs.toFixed(0)} ms`);

    const shot = process.env['QKV_UI_SCREENSHOT'];
    if (shot !== undefined) {
      await cli(live, 'set', '/ui/config/replicas', '3');
      await cli(live, 'set', '/ui/config/region', 'eu-west-1');
      await page.waitForTimeout(1_500);
      await page.screenshot({ path: shot, fullPage: true });
    }
    assert.equal(errors, [], 'no script errors on the page');
  });

  test.run();
}
