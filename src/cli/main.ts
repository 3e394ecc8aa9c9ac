#!/usr/bin/env node
/**
 * The `quorumkv` bin: etcdctl-style commands against a cluster's JSON endpoints, and
 * `quorumkv member …` to run a standalone member. See docs/operators.md.
 */
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2));
// A standalone member or a watch may leave sockets closing; the exit code is decided.
process.exitCode = code;
if (process.argv[2] !== 'member' || code !== 0) process.exit(code);
