// The disk's share of a sequential put in bench/cluster.ts, measured on the same file system
// just before the cluster starts: three members on one machine each make one durable write per
// put, at the same moment, so the figure is one small durable write made as the WAL makes it
// (src/storage/wal.ts: O_DSYNC, or fdatasync where that is not used) with three writers at once,
// into zero-filled preallocated files (the WAL writes into its zero-filled runway the same way). A put commits once the leader
// and one follower have written, plus two loopback hops and the apply, so this figure is roughly
// the lower bound of a put's latency on the machine. The three writes start together here; in a
// cluster they start some 50–100 µs apart, which on the 2-core VM of docs/node.md costs more
// (0.52–0.58 ms inside the cluster against 0.35–0.48 ms here), so the bound is an optimistic one.
import * as fs from 'node:fs';
import { join } from 'node:path';
import { fdatasync, writeAll } from '../src/storage/fs-util.ts';
import { O_DSYNC } from '../src/storage/wal.ts';
import { percentile } from './stats.ts';

const WRITERS = 3;
const RECORD_BYTES = 250;
const FILE_BYTES = 4 * 1024 * 1024;

export interface DiskFloor {
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly samples: number;
}

/**
 * `rounds` rounds of WRITERS concurrent durable writes into files in `dir`, which the caller
 * creates (mkdtemp, so runs side by side do not share files) and removes.
 */
export async function measureDiskFloor(dir: string, rounds: number): Promise<DiskFloor> {
  const zeros = Buffer.alloc(1024 * 1024);
  const record = Buffer.alloc(RECORD_BYTES, 0xab);
  const paths = Array.from({ length: WRITERS }, (_, i) => join(dir, `disk-floor-${i}`));
  const fds: number[] = [];
  const samplesNs: number[] = [];
  try {
    for (const path of paths) {
      const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | O_DSYNC);
      fds.push(fd);
      for (let at = 0; at < FILE_BYTES; at += zeros.length) fs.writeSync(fd, zeros, 0, zeros.length, at);
      fs.fsyncSync(fd);
    }
    const perFile = Math.floor(FILE_BYTES / RECORD_BYTES);
    for (let r = 0; r < rounds; r++) {
      const position = (r % perFile) * RECORD_BYTES;
      await Promise.all(
        fds.map(async (fd) => {
          const t = process.hrtime.bigint();
          await writeAll(fd, record, position);
          if (O_DSYNC === 0) await fdatasync(fd);
          samplesNs.push(Number(process.hrtime.bigint() - t));
        }),
      );
    }
  } finally {
    for (const fd of fds) fs.closeSync(fd);
  }
  return { p50Ms: percentile(samplesNs, 50) / 1e6, p90Ms: percentile(samplesNs, 90) / 1e6, samples: samplesNs.length };
}
