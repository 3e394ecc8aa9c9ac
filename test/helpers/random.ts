/**
 * The tests' seeded PRNG: the product's own mulberry32 (src/transport/random.ts), so a seed means
 * the same sequence in a test, the simulator and the memory transport. Not a test file.
 */
export { seededRandom } from '../../src/transport/random.ts';
