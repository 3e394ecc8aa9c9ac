// Synchronous cleanups run on every exit path of a bench (normal exit, SIGINT, SIGTERM, SIGHUP):
// kill -9 the member processes it started and remove its temp dirs. The normal path closes
// gracefully with bounded waits first; these are the backstop. Not a test file.

/** Cleanups registered by the bench (add and delete them as resources come and go). */
export const syncCleanups = new Set<() => void>();

function runSyncCleanups(): void {
  for (const f of syncCleanups) {
    try {
      f();
    } catch {
      // Best effort: one failed cleanup must not stop the others.
    }
  }
  syncCleanups.clear();
}

process.on('exit', runSyncCleanups);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping every member process`);
    runSyncCleanups();
    process.exit(130);
  });
}
