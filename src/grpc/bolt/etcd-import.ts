/**
 * An etcd 3.4 snapshot (what `etcdctl snapshot save` writes, or a member's `member/snap/db`) as a
 * quorumkv store snapshot: the way from etcd to quorumkv. The reverse of etcd-db.ts: the `key`
 * bucket's records become key histories (revisions shifted down by one), `meta`'s
 * finishedCompactRev the compact revision, the `lease` bucket the lease table; other buckets
 * (members, auth, alarms) are not carried. Every byte is checked (bolt structure in reader.ts,
 * protobufs in wire.ts, revisions, UTF-8 keys), and the result is decoded by the store's own
 * strict reader before it is returned: a malformed file is a CorruptionError, never a crash.
 *
 * Runs synchronously over a file held in memory (at most {@link MAX_ETCD_SNAPSHOT_BYTES}): it is
 * an offline step before a member starts (`quorumkv snapshot restore`), not work on a serving
 * member's event loop.
 */
import { createHash } from 'node:crypto';
import { CorruptionError, InvalidArgumentError } from '../../errors.ts';
import { packr } from '../../store/codec.ts';
import { SNAPSHOT_MAGIC, SNAPSHOT_VERSION } from '../../store/snapshot.ts';
import { Store } from '../../store/store.ts';
import { ProtoReader, readFields, WIRE_LEN, WIRE_VARINT } from '../wire.ts';
import { BoltReader } from './reader.ts';

/** The largest etcd snapshot imported (Node's largest single file read). */
export const MAX_ETCD_SNAPSHOT_BYTES = 2 ** 31 - 1;
const TRAILER_BYTES = 32;
const REV_BYTES = 17;
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextDecoder();
const text = new TextEncoder();

/** Whether `head` (the file's first bytes, at least 32) starts like a bolt database. */
export function looksLikeBolt(head: Uint8Array): boolean {
  return head.length >= 24 && new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(16, true) === 0xed0cdaed;
}

interface ImportedRecord {
  readonly mod: number;
  readonly create: number;
  readonly version: number;
  readonly lease: number;
  readonly value: Uint8Array;
}

export interface ImportedSnapshot {
  /** A store snapshot (`Store.restore` reads it). */
  readonly store: Uint8Array;
  /** The store's revision, in quorumkv numbering (etcd's minus one). */
  readonly revision: number;
  readonly keys: number;
}

class Importer {
  readonly #file: string;
  constructor(file: string) {
    this.#file = file;
  }

  corrupt(offset: number, detail: string, cause?: unknown): CorruptionError {
    return new CorruptionError(this.#file, offset, detail, cause === undefined ? undefined : { cause });
  }

  /** A big-endian u64 that must be a safe integer. */
  u64(bytes: Uint8Array, at: number, what: string): number {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.corrupt(bytes.byteOffset + at, `etcd: ${what} ${v} is beyond 2^53`);
    return Number(v);
  }

  /**
   * Decodes a protobuf with int fields `ints` (safe integers), 64-bit id fields `ids` (bigint) and
   * bytes fields `blobs`; wire errors become corruption.
   */
  proto(bytes: Uint8Array, ints: readonly number[], ids: readonly number[], blobs: readonly number[], what: string): Map<number, number | bigint | Uint8Array> {
    const out = new Map<number, number | bigint | Uint8Array>();
    const r = new ProtoReader(bytes);
    try {
      readFields(r, (field, wire) => {
        if (ints.includes(field) && wire === WIRE_VARINT) out.set(field, r.int53(what));
        else if (ids.includes(field) && wire === WIRE_VARINT) out.set(field, r.uint64());
        else if (blobs.includes(field) && wire === WIRE_LEN) out.set(field, r.bytes());
        else return false;
        return true;
      });
    } catch (err) {
      throw this.corrupt(bytes.byteOffset, `etcd: bad ${what}: ${(err as Error).message}`, err);
    }
    return out;
  }
}

function stripTrailer(bytes: Uint8Array, im: Importer): Uint8Array {
  // etcd's rule (snapshot restore): a file whose size is 32 past a multiple of 512 ends in the sha256 of the rest.
  if (bytes.length % 512 !== TRAILER_BYTES) return bytes;
  const db = bytes.subarray(0, bytes.length - TRAILER_BYTES);
  const want = bytes.subarray(bytes.length - TRAILER_BYTES);
  const got = createHash('sha256').update(db).digest();
  if (!got.equals(want)) throw im.corrupt(db.length, 'etcd: snapshot sha256 mismatch');
  return db;
}

function compactOf(bolt: BoltReader, im: Importer): number {
  for (const [k, v] of bolt.bucket(text.encode('meta')) ?? []) {
    if (utf8.decode(k) !== 'finishedCompactRev') continue;
    if (v.length !== REV_BYTES) throw im.corrupt(v.byteOffset, 'etcd: finishedCompactRev is not a revision');
    return im.u64(v, 0, 'compact revision');
  }
  return 0;
}

/**
 * The lease table, by etcd id. etcd's ids are random 63-bit numbers and quorumkv's are safe
 * integers: an id beyond 2^53 is renumbered (above every id that fits, in id order), and the
 * keys attached to it follow.
 */
function leasesOf(bolt: BoltReader, im: Importer): Map<bigint, { readonly id: number; readonly ttlMs: number }> {
  const found: { etcdId: bigint; ttlMs: number }[] = [];
  for (const [k, v] of bolt.bucket(text.encode('lease')) ?? []) {
    if (k.length !== 8) throw im.corrupt(k.byteOffset, 'etcd: a lease key is 8 bytes');
    const etcdId = new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(0);
    const f = im.proto(v, [2, 3], [1], [], 'lease');
    const ttl = (f.get(2) as number | undefined) ?? 0;
    if (etcdId === 0n || f.get(1) !== etcdId) throw im.corrupt(v.byteOffset, `etcd: lease ${etcdId} holds id ${String(f.get(1))}`);
    if (ttl <= 0 || ttl > Number.MAX_SAFE_INTEGER / 1000) throw im.corrupt(v.byteOffset, `etcd: lease ${etcdId} has TTL ${ttl}`);
    found.push({ etcdId, ttlMs: ttl * 1000 });
  }
  const safe = (id: bigint): boolean => id <= BigInt(Number.MAX_SAFE_INTEGER);
  let next = 1;
  for (const l of found) if (safe(l.etcdId)) next = Math.max(next, Number(l.etcdId) + 1);
  const leases = new Map<bigint, { readonly id: number; readonly ttlMs: number }>();
  for (const l of found) leases.set(l.etcdId, { id: safe(l.etcdId) ? Number(l.etcdId) : next++, ttlMs: l.ttlMs });
  if (next > Number.MAX_SAFE_INTEGER) throw new InvalidArgumentError('etcd: lease ids cannot be renumbered below 2^53');
  return leases;
}

/** One `key` bucket element as (our revision, sub, key, record). */
function recordOf(k: Uint8Array, v: Uint8Array, im: Importer, leases: ReadonlyMap<bigint, { readonly id: number }>): { rev: number; key: string; rec: ImportedRecord } {
  const tombstone = k.length === REV_BYTES + 1 && k[REV_BYTES] === 0x74;
  if ((k.length !== REV_BYTES && !tombstone) || k[8] !== 0x5f) throw im.corrupt(k.byteOffset, 'etcd: not a revision key');
  const main = im.u64(k, 0, 'revision');
  if (main < 2) throw im.corrupt(k.byteOffset, `etcd: revision ${main} holds a key`);
  const f = im.proto(v, [2, 3, 4], [6], [1, 5], 'KeyValue');
  const keyBytes = f.get(1);
  if (!(keyBytes instanceof Uint8Array) || keyBytes.length === 0) throw im.corrupt(v.byteOffset, 'etcd: a KeyValue without a key');
  let key: string;
  try {
    key = utf8Strict.decode(keyBytes);
  } catch (err) {
    throw new InvalidArgumentError(`etcd: key ${Buffer.from(keyBytes).toString('hex')} is not UTF-8 (quorumkv keys are text)`, { cause: err });
  }
  const rev = main - 1;
  if (tombstone) return { rev, key, rec: { mod: rev, create: 0, version: 0, lease: 0, value: new Uint8Array(0) } };
  const mod = (f.get(3) as number | undefined) ?? 0;
  const create = (f.get(2) as number | undefined) ?? 0;
  const version = (f.get(4) as number | undefined) ?? 0;
  if (mod !== main || create < 2 || create > main || version < 1) throw im.corrupt(v.byteOffset, `etcd: KeyValue at revision ${main} has mod ${mod}, create ${create}, version ${version}`);
  const value = (f.get(5) as Uint8Array | undefined) ?? new Uint8Array(0);
  // etcd keeps a key whose lease is gone (it only warns at restore); here such a key has no lease.
  const lease = leases.get((f.get(6) as bigint | undefined) ?? 0n)?.id ?? 0;
  return { rev, key, rec: { mod: rev, create: create - 1, version, lease, value } };
}

/** Keeps what compaction at `compact` keeps: records above it, and the newest at or below it when live. */
function retained(history: ImportedRecord[], compact: number): ImportedRecord[] {
  let firstAbove = history.findIndex((r) => r.mod > compact);
  if (firstAbove < 0) firstAbove = history.length;
  const below = history[firstAbove - 1];
  const kept = history.slice(firstAbove);
  if (below !== undefined && below.version > 0) kept.unshift(below);
  return kept;
}

/** The store snapshot of etcd snapshot `bytes` (from `file`, named in errors). */
export function importEtcdSnapshot(bytes: Uint8Array, file: string): ImportedSnapshot {
  const im = new Importer(file);
  if (bytes.length > MAX_ETCD_SNAPSHOT_BYTES) throw new InvalidArgumentError(`etcd: snapshot ${file} is ${bytes.length} bytes (limit ${MAX_ETCD_SNAPSHOT_BYTES})`);
  const bolt = new BoltReader(stripTrailer(bytes, im), file);
  const etcdCompact = compactOf(bolt, im);
  const compact = Math.max(0, etcdCompact - 1);
  const leases = leasesOf(bolt, im);
  const histories = new Map<string, ImportedRecord[]>();
  const written = new Map<number, string[]>();
  let last = 0;
  for (const [k, v] of bolt.bucket(text.encode('key')) ?? []) {
    const { rev, key, rec } = recordOf(k, v, im, leases);
    last = rev;
    const history = histories.get(key) ?? [];
    // A txn that wrote a key twice: the later op (higher sub) is the revision's record.
    if (history[history.length - 1]?.mod === rev) history.pop();
    history.push(rec);
    histories.set(key, history);
    if (rev > compact) {
      const keys = written.get(rev) ?? [];
      if (!keys.includes(key)) keys.push(key);
      written.set(rev, keys);
    }
  }
  const revision = Math.max(last, compact);
  const kvs: unknown[] = [];
  for (const key of [...histories.keys()].sort()) {
    const kept = retained(histories.get(key) as ImportedRecord[], compact);
    const head = kept[kept.length - 1];
    if (head === undefined) continue;
    kvs.push(key, kept.length);
    for (let i = kept.length - 1; i >= 0; i--) {
      const r = kept[i] as ImportedRecord;
      kvs.push(r.mod, r.create, r.version, r.lease, r.value);
    }
  }
  const multi: unknown[] = [];
  for (const [rev, keys] of [...written].sort((a, b) => a[0] - b[0])) if (keys.length > 1) multi.push(rev, keys);
  const leaseTable: number[] = [];
  for (const { id, ttlMs } of [...leases.values()].sort((a, b) => a.id - b.id)) leaseTable.push(id, ttlMs);
  const store = packr.pack([SNAPSHOT_MAGIC, SNAPSHOT_VERSION, revision, compact, leaseTable, kvs, multi]);
  try {
    Store.restore(store);
  } catch (err) {
    throw im.corrupt(0, `etcd: the snapshot's keys do not make a store: ${(err as Error).message}`, err);
  }
  return { store, revision, keys: histories.size };
}
