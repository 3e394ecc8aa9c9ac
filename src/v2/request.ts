/**
 * A v2 keys request's fields: the URL query and, for PUT/POST/DELETE, the form body
 * (`application/x-www-form-urlencoded`, as etcd's clients send it), read under the endpoint's body
 * limit. Body fields win over query fields of the same name and the first of repeated fields wins
 * (Go's `Request.FormValue`, which etcd uses). A field the method does not know is 209 "Invalid
 * field", a malformed body 210 "Invalid POST form", as etcd answers them.
 */
import type { IncomingMessage } from 'node:http';
import { readBody } from '../gateway/body.ts';
import { V2Error } from './errors.ts';

export type V2Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** Fields each method accepts (the ones etcd's v2 API reads for it). */
const FIELDS: Readonly<Record<V2Method, ReadonlySet<string>>> = Object.freeze({
  GET: new Set(['recursive', 'sorted', 'quorum', 'wait', 'waitIndex', 'stream']),
  PUT: new Set(['value', 'ttl', 'dir', 'prevExist', 'prevValue', 'prevIndex', 'refresh', 'noValueOnSuccess']),
  POST: new Set(['value', 'ttl', 'dir', 'noValueOnSuccess']),
  DELETE: new Set(['recursive', 'dir', 'prevValue', 'prevIndex']),
});

/** Most fields one request may carry (each name once counts; repeats are ignored). */
export const MAX_FORM_FIELDS = 32;

/** The parsed fields of one request. */
export class V2Fields {
  readonly #values: ReadonlyMap<string, string>;

  constructor(values: ReadonlyMap<string, string>) {
    this.#values = values;
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }

  string(name: string): string | undefined {
    return this.#values.get(name);
  }

  /** Go's `strconv.ParseBool` spellings; absent or empty is false. */
  bool(name: string): boolean {
    const raw = this.#values.get(name);
    if (raw === undefined || raw === '') return false;
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
    throw new V2Error(209, `invalid value for ${name}`);
  }

  /** A non-negative integer field; absent or empty is undefined; else `errorCode` (202/203). */
  count(name: string, errorCode: 202 | 203 | 209): number | undefined {
    const raw = this.#values.get(name);
    if (raw === undefined || raw === '') return undefined;
    if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw new V2Error(errorCode, `invalid value for ${name}`);
    return Number(raw);
  }
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new V2Error(210, `invalid URL escape ${JSON.stringify(text.slice(0, 64))}`);
  }
}

/** Adds `a=1&b=2` to `into` (first value of a name wins). */
function parseForm(text: string, into: Map<string, string>, method: V2Method): void {
  if (text === '') return;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    if (!FIELDS[method].has(name)) throw new V2Error(209, `unknown field ${JSON.stringify(name.slice(0, 64))} for ${method}`);
    if (into.has(name)) continue;
    if (into.size >= MAX_FORM_FIELDS) throw new V2Error(210, `more than ${MAX_FORM_FIELDS} fields (MAX_FORM_FIELDS)`);
    into.set(name, value);
  }
}

/** The request's fields; the body is read only for methods that carry a form. */
export async function readFields(req: IncomingMessage, method: V2Method, maxBodyBytes: number): Promise<V2Fields> {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const values = new Map<string, string>();
  if (method !== 'GET') {
    const type = req.headers['content-type'] ?? '';
    const raw = await readBody(req, maxBodyBytes);
    if (raw.length > 0) {
      if (!type.startsWith('application/x-www-form-urlencoded')) throw new V2Error(210, `form body must be application/x-www-form-urlencoded, got ${JSON.stringify(type.slice(0, 64))}`);
      let text: string;
      try {
        text = STRICT_UTF8.decode(raw);
      } catch {
        throw new V2Error(210, 'form body is not valid UTF-8');
      }
      parseForm(text, values, method);
    }
  } else {
    req.resume();
  }
  if (q >= 0) parseForm(url.slice(q + 1), values, method);
  return new V2Fields(values);
}
