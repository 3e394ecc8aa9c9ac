/**
 * The versions a member reports: the package's own (read from its package.json, so it cannot
 * drift from what npm installed) and the etcd API version it speaks, which etcd clients gate
 * features on.
 */
import { readFileSync } from 'node:fs';

/** The etcd API version the client endpoint speaks. */
export const ETCD_API_VERSION = '3.4.0';

function packageVersion(): string {
  try {
    // Two folders up from src/node and from dist/node.
    const raw: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['version'] : undefined;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** This package's version (`unknown` if its package.json cannot be read). */
export const PACKAGE_VERSION: string = packageVersion();
