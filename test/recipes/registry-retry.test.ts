// Proves that re-registration after a lost session closes every session it opened but could not
// register with: the put of the registration is made to fail twice, and afterwards the only
// live lease on the member is the one of the registration that finally succeeded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRegistry, UnreachableError } from '../../src/index.ts';
import type { QuorumNode } from '../../src/index.ts';
import { startSingle, withTimeout } from './helpers.ts';

let node: QuorumNode;
test.before(async () => {
  node = await startSingle();
});
test.after(async () => {
  await node.close();
});

test('a failed re-registration closes the session it created', async () => {
  const registry = createRegistry<{ url: string }>(node, '/svc/');
  const reg = await registry.register('api', 'a1', { url: 'http://a1' }, { ttlMs: 1_000 });
  const realPut = node.put.bind(node);
  let failures = 2;
  // An own property shadows the prototype's put: the next two registration writes fail.
  Object.defineProperty(node, 'put', {
    configurable: true,
    value: (...args: Parameters<QuorumNode['put']>) => {
      if (failures > 0) {
        failures -= 1;
        return Promise.reject(new UnreachableError('test: put made to fail'));
      }
      return realPut(...args);
    },
  });
  reg.on('error', () => {});
  const registered = new Promise<number>((resolve) => reg.once('registered', resolve));
  try {
    await node.revokeLease(reg.session.leaseId);
    const leaseId = await withTimeout(registered, 5_000, 're-registered');
    assert.is(failures, 0, 'both failing puts were attempted');
    assert.equal((await node.leases()).map((l) => l.id), [leaseId], 'only the registered session holds a lease');
  } finally {
    Reflect.deleteProperty(node, 'put');
    await reg.deregister();
  }
  assert.equal(await node.leases(), []);
});

test.run();
