// The status page's HTTP surface on an in-process member: the page and its assets (with a CSP
// that allows only this origin), the JSON calls' shapes, the token (the page loads without it,
// the calls need it), bad parameters and methods (clear 4xx, nothing changes), the live stream
// (events in order from a start revision, no gap after a listing), the bound on open streams,
// and a value preview that never throws (binary, structured, long values).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startClientEndpoint } from '../../src/client-endpoint.ts';
import { createNode } from '../../src/create-node.ts';
import type { ClientServer } from '../../src/gateway/server.ts';
import { rawCodec } from '../../src/gateway/values.ts';
import type { QuorumNode } from '../../src/node/node.ts';
import { MAX_UI_WATCHES, previewValue, VALUE_PREVIEW_CHARS } from '../../src/ops/status-page.ts';
import { memoryStorage } from '../../src/storage/memory-storage.ts';

const TOKEN = 'ui-test-token';
let node: QuorumNode;
let server: ClientServer;
const auth = { authorization: `Bearer ${TOKEN}` };

test.before(async () => {
  node = await createNode({ id: 'u1', storage: memoryStorage(), codec: rawCodec, electionTimeoutMs: 300, heartbeatMs: 30 });
  await node.ready();
  server = await startClientEndpoint(node, { port: 0, token: TOKEN });
});
test.after(async () => {
  await server.close();
  await node.close();
});

test('the page and its assets load without the token, with a same-origin-only CSP', async () => {
  const redirect = await fetch(`${server.url}/ui`, { redirect: 'manual' });
  assert.is(redirect.status, 308);
  assert.is(redirect.headers.get('location'), '/ui/');
  for (const [path, type] of [['/ui/', 'text/html'], ['/ui/app.js', 'text/javascript'], ['/ui/app.css', 'text/css']] as const) {
    const r = await fetch(`${server.url}${path}`);
    assert.is(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', type);
    assert.match(r.headers.get('content-security-policy') ?? '', "script-src 'self'");
    assert.is(r.headers.get('x-content-type-options'), 'nosniff');
    const text = await r.text();
    assert.not.match(text, /https?:\/\//, `${path} loads nothing from elsewhere`);
  }
  assert.is((await fetch(`${server.url}/ui/nothing-here`)).status, 404);
});

test('the calls need the token; status and keys have their shapes', async () => {
  assert.is((await fetch(`${server.url}/ui/api/status`)).status, 401);
  assert.is((await fetch(`${server.url}/ui/api/status`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  await node.put('/ui/a', new TextEncoder().encode('one'));
  await node.put('/ui/b', Uint8Array.of(0xff, 0x00));
  await node.put('/other', new TextEncoder().encode('x'));
  const st = (await (await fetch(`${server.url}/ui/api/status`, { headers: auth })).json()) as { status: { id: string; leader: string }; members: { id: string; role: string; lag: number | null }[]; metrics: { readsServed: number; walFsync: { buckets: unknown[] } } };
  assert.is(st.status.id, 'u1');
  assert.equal(st.members, [{ id: 'u1', url: st.members[0]?.id === 'u1' ? (st.members[0] as { url?: string }).url : '', learner: false, role: 'leader', lag: 0 } as never]);
  assert.ok(Array.isArray(st.metrics.walFsync.buckets));
  const keys = (await (await fetch(`${server.url}/ui/api/keys?prefix=${encodeURIComponent('/ui/')}`, { headers: auth })).json()) as { kvs: { key: string; value: string }[]; count: number; revision: number };
  assert.equal(keys.kvs.map((k) => [k.key, k.value]), [['/ui/a', 'one'], ['/ui/b', 'base64:/wA=']]);
  assert.is(keys.count, 2);
  const limited = (await (await fetch(`${server.url}/ui/api/keys?limit=1`, { headers: auth })).json()) as { kvs: unknown[]; more: boolean };
  assert.is(limited.kvs.length, 1);
  assert.is(limited.more, true);
  const after = (await (await fetch(`${server.url}/ui/api/status`, { headers: auth })).json()) as { metrics: { readsServed: number } };
  assert.ok(after.metrics.readsServed >= st.metrics.readsServed + 2, 'listings count as reads');
});

test('bad parameters and methods get clear 4xx answers and change nothing', async () => {
  const revision = node.status().revision;
  for (const q of ['limit=0', 'limit=100000', 'limit=abc', 'limit=1.5']) {
    const r = await fetch(`${server.url}/ui/api/keys?${q}`, { headers: auth });
    assert.is(r.status, 400, q);
    assert.match(((await r.json()) as { error: string }).error, 'ui: limit must be an integer');
  }
  assert.is((await fetch(`${server.url}/ui/api/watch?startRevision=-1`, { headers: auth })).status, 400);
  const post = await fetch(`${server.url}/ui/api/keys`, { method: 'POST', headers: auth, body: '{}' });
  assert.is(post.status, 405);
  assert.is(post.headers.get('allow'), 'GET, HEAD');
  assert.is(node.status().revision, revision, 'nothing was written');
});

test('the live stream replays from a start revision and follows, in order, without gaps', async () => {
  const start = node.status().revision + 1;
  await node.put('/live/1', new TextEncoder().encode('a'));
  const aborter = new AbortController();
  const r = await fetch(`${server.url}/ui/api/watch?prefix=${encodeURIComponent('/live/')}&startRevision=${start}`, { headers: auth, signal: aborter.signal });
  assert.is(r.status, 200);
  const reader = r.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  await node.put('/live/2', new TextEncoder().encode('b'));
  await node.delete('/live/1');
  const deadline = Date.now() + 5_000;
  while ((text.match(/\n/g) ?? []).length < 3 && Date.now() < deadline) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  aborter.abort();
  const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; kv: { key: string }; revision: number });
  assert.equal(events.map((e) => [e.type, e.kv.key]), [['put', '/live/1'], ['put', '/live/2'], ['delete', '/live/1']]);
  assert.equal(events.map((e) => e.revision), [start, start + 1, start + 2]);
});

test(`at most ${MAX_UI_WATCHES} live streams per endpoint; a closed page frees its slot`, async () => {
  const aborters = Array.from({ length: MAX_UI_WATCHES }, () => new AbortController());
  const open = await Promise.all(aborters.map((a) => fetch(`${server.url}/ui/api/watch`, { headers: auth, signal: a.signal })));
  assert.ok(open.every((r) => r.status === 200));
  const refused = await fetch(`${server.url}/ui/api/watch`, { headers: auth });
  assert.is(refused.status, 503);
  assert.match(((await refused.json()) as { error: string }).error, 'live streams already open');
  for (const a of aborters) a.abort();
  const deadline = Date.now() + 5_000;
  let again = 503;
  while (again === 503 && Date.now() < deadline) {
    await new Promise((res) => setTimeout(res, 50));
    const r = await fetch(`${server.url}/ui/api/watch`, { headers: auth, signal: AbortSignal.timeout(1_000) }).catch(() => undefined);
    again = r?.status ?? 503;
    if (r?.status === 200) await r.body?.cancel();
  }
  assert.is(again, 200, 'slots are given back when pages go away');
});

test('value previews: text, binary, structured, long, unserializable', () => {
  assert.is(previewValue(new TextEncoder().encode('héllo')), 'héllo');
  assert.is(previewValue(Uint8Array.of(0xc3)), 'base64:ww==');
  assert.is(previewValue({ a: 1, n: 2n }), '{"a":1,"n":"2"}');
  assert.is(previewValue(undefined), '');
  const long = previewValue('x'.repeat(VALUE_PREVIEW_CHARS + 50));
  assert.is(long.length, VALUE_PREVIEW_CHARS + 1);
  assert.ok(long.endsWith('…'));
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  assert.is(previewValue(cyclic), '[object Object]');
});

test.run();
