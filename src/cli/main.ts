#!/usr/bin/env node
/**
 * The `quorumkv` bin: etcdctl-style commands against a cluster's JSON endpoints, and
 * `quorumkv member …` to run a standalone member. See docs/operators.md.
 */
import { runCli } from './program.ts';

const code = await runCli(process.argv.slice(2));
// The exit code is decided; idle keep-alive sockets must not hold the process open.
process.exit(code);
