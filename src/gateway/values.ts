/**
 * Values on the JSON API are raw bytes (base64 on the wire, as etcd's gateway). Writes hand the
 * node a `Uint8Array`: a node with the raw codec (the standalone member) stores those bytes as
 * they are; a node with the default msgpackr codec stores them as a msgpack binary and decodes
 * them back to bytes. Reads of values an application wrote as structured data are shown as bytes
 * too: a string as its UTF-8, anything else as its JSON text.
 */
import { InvalidArgumentError } from '../errors.ts';
import type { ValueCodec } from '../node/types.ts';

const utf8 = new TextEncoder();

/** The bytes the JSON API shows for a value held by the node. */
export function valueBytes(value: unknown): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') return utf8.encode(value);
  try {
    return utf8.encode(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? '');
  } catch {
    return utf8.encode(String(value));
  }
}

/**
 * A codec that stores values as the bytes given: `encode` takes a Uint8Array (or a string, stored
 * as UTF-8), `decode` returns the stored bytes. The standalone member uses it so what etcdctl-style
 * clients write is what they read back, byte for byte.
 */
export const rawCodec: ValueCodec = Object.freeze({
  encode(value: unknown): Uint8Array {
    if (value instanceof Uint8Array) return value;
    if (typeof value === 'string') return utf8.encode(value);
    throw new InvalidArgumentError('raw codec: value must be a Uint8Array or a string');
  },
  decode(bytes: Uint8Array): unknown {
    return bytes;
  },
});
