/**
 * The bounds of the auth state. They are constants, not options: applying an auth command checks
 * them, and every member must decide the same way (a limit that differed between members would
 * make their states diverge).
 */

/** Most users. */
export const MAX_USERS = 1000;
/** Most roles. */
export const MAX_ROLES = 1000;
/**
 * Most roles granted to one user and key permissions of one role. Together they bound what one
 * user's permission set merges (16 × 500 = 8,000 intervals, ≈ 8 ms to build once after a change),
 * so no check holds the event loop long.
 */
export const MAX_ROLES_PER_USER = 16;
export const MAX_PERMISSIONS_PER_ROLE = 500;
/** Longest user or role name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 256;
/** Longest password, in UTF-8 bytes (hashing cost must not be a client's lever). */
export const MAX_PASSWORD_BYTES = 1024;
/** Longest key or range end of a permission, in bytes (the store's default key limit). */
export const MAX_PERMISSION_KEY_BYTES = 8192;
/** Simple tokens a member keeps; the least recently used one is dropped beyond it. */
export const MAX_TOKENS = 10_000;
/** A simple token unused this long expires (etcd: 5 minutes, refreshed on use), in ms. */
export const TOKEN_TTL_MS = 300_000;
/** Password hashes computed at once on a member (each takes ≈ 16 MiB and tens of ms of a libuv thread). */
export const MAX_CONCURRENT_PASSWORD_CHECKS = 8;
/** Password checks waiting for a slot; more are refused at once as "too many requests". */
export const MAX_QUEUED_PASSWORD_CHECKS = 256;
