/**
 * Recipes built only on the public node API (docs/design.md, "Layers"): sessions, locks (mutex, RW lock,
 * semaphore), elections, queues, a service registry and live config. See docs/recipes.md.
 */
export { createSession, Session, DEFAULT_SESSION_TTL_MS, MIN_KEEP_ALIVE_INTERVAL_MS } from './session.ts';
export type { SessionOptions, SessionEvents } from './session.ts';
export { acquireLock, tryLock, lockKey, Lock } from './lock.ts';
export type { LockOptions, LockEvents } from './lock.ts';
export { createRWLock } from './rw-lock.ts';
export type { RWLock } from './rw-lock.ts';
export { createSemaphore, MAX_SEMAPHORE_PERMITS } from './semaphore.ts';
export type { Semaphore } from './semaphore.ts';
export { createElection, Election } from './election.ts';
export type { ElectionOptions, ElectionLeader, ElectionEvents } from './election.ts';
export { createQueue, Queue, MAX_QUEUE_PRIORITY } from './queue.ts';
export type { EnqueueOptions, QueueItem } from './queue.ts';
export { createRegistry, Registry, Registration, DEFAULT_REGISTRY_PREFIX } from './registry.ts';
export type { RegisterOptions, ServiceInstance, RegistrationEvents } from './registry.ts';
export { createConfig, Config, DEFAULT_MAX_BUFFERED_CHANGES } from './config.ts';
export type { ConfigOptions, ConfigChange, ConfigEvents } from './config.ts';
export type { WaitOptions, Holder } from './util.ts';
