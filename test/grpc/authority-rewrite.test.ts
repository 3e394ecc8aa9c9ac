// Proves the HTTP/2 `:authority` rewrite (src/grpc/authority-rewrite.ts): its Huffman table is
// nghttp2's (every printable character checked against node:http2's own encoder), a request whose
// authority is a URL — refused by node:http2 without it — reaches the server behind the port
// front as `http:bb…` with every other header intact, whatever the chunk boundaries, and a normal
// authority and the rest of the stream pass unchanged.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { AuthorityRewriter, HUFFMAN_PRINTABLE } from '../../src/grpc/authority-rewrite.ts';
import { createPortFront } from '../../src/grpc/front.ts';

/** The bytes node:http2's client writes for one request with `headers` (preface, SETTINGS, HEADERS). */
function clientBytes(headers: http2.OutgoingHttpHeaders): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const wire = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    const session = http2.connect('http://x', { createConnection: () => wire });
    session.on('error', () => {});
    session.request(headers).on('error', () => {});
    setTimeout(() => {
      session.destroy();
      resolve(Buffer.concat(chunks));
    }, 20);
  });
}

/** The last string literal of the first HEADERS frame's block: `{ huffman, bits }`. */
function lastLiteral(bytes: Buffer): { huffman: boolean; bits: string } {
  let at = 24;
  let block: Buffer | undefined;
  while (at + 9 <= bytes.length && block === undefined) {
    const length = bytes.readUIntBE(at, 3);
    if (bytes[at + 3] === 1) block = bytes.subarray(at + 9, at + 9 + length);
    at += 9 + length;
  }
  assert.ok(block !== undefined, 'a HEADERS frame');
  let i = 0;
  const int = (prefix: number): number => {
    let v = (block![i++] as number) & ((1 << prefix) - 1);
    if (v < (1 << prefix) - 1) return v;
    for (let m = 0; ; m += 7) {
      const b = block![i++] as number;
      v += (b & 127) << m;
      if ((b & 128) === 0) return v;
    }
  };
  const str = (): { huffman: boolean; bits: string } => {
    const huffman = ((block![i] as number) & 128) !== 0;
    const n = int(7);
    const s = block!.subarray(i, i + n);
    i += n;
    return { huffman, bits: [...s].map((b) => b.toString(2).padStart(8, '0')).join('') };
  };
  let last: { huffman: boolean; bits: string } | undefined;
  while (i < block.length) {
    const b = block[i] as number;
    if ((b & 0x80) !== 0) int(7);
    else if ((b & 0xe0) === 0x20) int(5);
    else {
      if (int((b & 0xc0) === 0x40 ? 6 : 4) === 0) str();
      last = str();
    }
  }
  return last!;
}

test("the Huffman table is nghttp2's for every printable character", async () => {
  const a = HUFFMAN_PRINTABLE[97 - 32] as string;
  for (let c = 32; c < 127; c++) {
    const ch = String.fromCharCode(c);
    // After the character, 200 'a's: the string is shorter Huffman-coded, so it is sent so.
    const v = lastLiteral(await clientBytes({ ':path': '/', 'x-probe': ch + 'a'.repeat(200) }));
    assert.ok(v.huffman, `${c} Huffman-coded`);
    const code = HUFFMAN_PRINTABLE[c - 32] as string;
    assert.is(v.bits.slice(0, code.length), code, `code of ${JSON.stringify(ch)}`);
    assert.is(v.bits.slice(code.length, code.length + 200 * a.length), a.repeat(200), `code of ${JSON.stringify(ch)} has its length`);
  }
});

/** A server behind the port front; resolves each request's headers. */
async function frontServer(): Promise<{ port: number; seen: http2.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const h2 = http2.createServer();
  const seen: http2.IncomingHttpHeaders[] = [];
  h2.on('stream', (stream, headers) => {
    seen.push(headers);
    stream.respond({ ':status': 200 });
    stream.end('ok');
  });
  const front = createPortFront({ emit: () => false }, (socket) => h2.emit('connection', socket));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  return {
    port: (front.address() as AddressInfo).port,
    seen,
    close: () => new Promise((resolve) => front.close(() => resolve())),
  };
}

async function get(port: number, authority: string): Promise<number> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    return await new Promise<number>((resolve, reject) => {
      const req = session.request({ ':path': '/x', ':authority': authority, 'x-other': 'kept' });
      req.on('response', (h) => resolve(h[':status'] as number));
      req.on('error', reject);
      req.resume();
    });
  } finally {
    session.destroy();
  }
}

test('a URL authority reaches the server as http:bb…; a plain one unchanged', async () => {
  const s = await frontServer();
  try {
    assert.is(await get(s.port, 'http://127.0.0.1:2379'), 200);
    assert.is(await get(s.port, 'https://member-1.example:2379'), 200);
    assert.is(await get(s.port, '127.0.0.1:2379'), 200);
    assert.equal(
      s.seen.map((h) => h[':authority']),
      ['http:bb127.0.0.1:2379', 'https:bbmember-1.example:2379', '127.0.0.1:2379'],
    );
    for (const h of s.seen) assert.is(h['x-other'], 'kept');
  } finally {
    await s.close();
  }
});

test('the rewrite is the same whatever the chunk boundaries, and keeps every length', async () => {
  const bytes = await clientBytes({ ':path': '/', ':authority': 'http://10.0.0.7:2379', 'x-a': 'b' });
  const whole = Buffer.concat(new AuthorityRewriter().feed(bytes));
  assert.is(whole.length, bytes.length);
  assert.not.ok(whole.equals(bytes), 'the authority was rewritten');
  for (const step of [1, 2, 7, 9, 10, 13]) {
    const r = new AuthorityRewriter();
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += step) parts.push(...r.feed(bytes.subarray(i, i + step)));
    assert.ok(Buffer.concat(parts).equals(whole), `chunks of ${step}`);
  }
  const plain = await clientBytes({ ':path': '/', ':authority': '10.0.0.7:2379' });
  assert.ok(Buffer.concat(new AuthorityRewriter().feed(plain)).equals(plain), 'a plain authority passes unchanged');
});

test.run();
