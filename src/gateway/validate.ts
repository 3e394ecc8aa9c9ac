/**
 * Field readers for etcd-shaped JSON requests. Each one either returns a well-typed value or
 * throws `InvalidArgumentError` naming the field, so a handler never sees a malformed request.
 * int64 fields accept a JSON number or a decimal string (etcd's gateway emits strings); bytes
 * fields are base64 (standard or URL-safe alphabet, padding optional).
 */
import { InvalidArgumentError } from '../errors.ts';
import type { KeyRange } from '../node/types.ts';

export type Body = Readonly<Record<string, unknown>>;

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const INT = /^-?\d{1,16}$/;
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** `create_revision` → `createRevision`: proto3 JSON accepts both spellings (etcd's docs use camelCase). */
function camel(field: string): string {
  return field.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** A field by its proto name or its lowerCamelCase JSON name. */
export function pick(body: Body, field: string): unknown {
  const value = body[field];
  return value === undefined ? body[camel(field)] : value;
}

export function asObject(value: unknown, field: string): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`gateway: ${field} must be a JSON object`);
  }
  return value as Body;
}

export function optObject(body: Body, field: string): Body | undefined {
  const value = pick(body, field);
  return value === undefined || value === null ? undefined : asObject(value, field);
}

export function optArray(body: Body, field: string): readonly unknown[] {
  const value = pick(body, field);
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidArgumentError(`gateway: ${field} must be a JSON array`);
  return value;
}

export function optBytes(body: Body, field: string): Uint8Array | undefined {
  const value = pick(body, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !BASE64.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
    throw new InvalidArgumentError(`gateway: ${field} must be base64`);
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

export function bytesToKey(bytes: Uint8Array, field: string): string {
  try {
    return utf8Strict.decode(bytes);
  } catch {
    throw new InvalidArgumentError(`gateway: ${field} must be UTF-8 text once decoded from base64`);
  }
}

export function optKey(body: Body, field: string): string | undefined {
  const bytes = optBytes(body, field);
  return bytes === undefined ? undefined : bytesToKey(bytes, field);
}

export function optInt(body: Body, field: string, min = 0): number | undefined {
  const value = pick(body, field);
  if (value === undefined || value === null) return undefined;
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && INT.test(value)) n = Number(value);
  else throw new InvalidArgumentError(`gateway: ${field} must be an integer (number or decimal string)`);
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`gateway: ${field} must be an integer >= ${min}`);
  return n;
}

export function optBool(body: Body, field: string): boolean {
  const value = pick(body, field);
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`gateway: ${field} must be true or false`);
  return value;
}

export function optString(body: Body, field: string): string | undefined {
  const value = pick(body, field);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new InvalidArgumentError(`gateway: ${field} must be a string`);
  return value;
}

/** A proto enum: its name, or its number as proto3 JSON allows. The first name is the default. */
export function optEnum<N extends string>(body: Body, field: string, names: readonly N[]): N {
  const value = pick(body, field);
  const first = names[0];
  if (first === undefined) throw new Error('gateway: optEnum needs names');
  if (value === undefined || value === null) return first;
  if (typeof value === 'number' && Number.isInteger(value)) {
    const name = names[value];
    if (name !== undefined) return name;
  }
  if (typeof value === 'string' && (names as readonly string[]).includes(value)) return value as N;
  throw new InvalidArgumentError(`gateway: ${field} must be one of ${names.join(', ')}`);
}

/**
 * etcd's key/range_end pair: no range_end = the single key; range_end "\0" = every key >= key;
 * otherwise [key, range_end). A key of "\0" with range_end "\0" is the whole keyspace.
 */
export function rangeOf(body: Body, keyField = 'key', endField = 'range_end'): KeyRange {
  const key = optKey(body, keyField);
  if (key === undefined || key === '') throw new InvalidArgumentError(`gateway: ${keyField} is required`);
  const end = optKey(body, endField);
  if (end === undefined || end === '') return { key };
  const start = key === '\0' ? '' : key;
  if (end === '\0') return { start };
  return { start, end };
}
