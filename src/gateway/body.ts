/**
 * Reads a request body under a byte limit and parses it as one JSON object. A Content-Length over
 * the limit is refused before reading; a body that grows past it stops being buffered at once.
 * The content type is ignored: etcd's documented examples use `curl -d`, which sends
 * `application/x-www-form-urlencoded`. An empty body is `{}`. A streamed body of several
 * newline-separated JSON objects (etcd's bidi gateway calls) is read as its first object.
 */
import type { IncomingMessage } from 'node:http';
import { InvalidArgumentError, RequestTooLargeError } from '../errors.ts';
import type { Body } from './validate.ts';
import { asObject } from './validate.ts';

export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(new RequestTooLargeError('gateway: request body', declared, maxBytes));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > maxBytes) {
        failed = true;
        chunks.length = 0;
        reject(new RequestTooLargeError('gateway: request body', size, maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', (err) => {
      if (!failed) reject(new InvalidArgumentError(`gateway: request body could not be read: ${err.message}`, { cause: err }));
      failed = true;
    });
  });
}

export function parseBody(raw: Buffer): Body {
  const text = raw.toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (first) {
    // A bidi stream sends several objects, one per line; the first one is the request.
    const line = text.split('\n', 1)[0] ?? '';
    try {
      value = JSON.parse(line);
    } catch {
      throw new InvalidArgumentError(`gateway: request body is not valid JSON: ${(first as Error).message}`);
    }
  }
  return asObject(value, 'request body');
}
