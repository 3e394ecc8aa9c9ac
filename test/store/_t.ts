import { Store } from '../../src/store/index.ts';
import { Gen } from './gen.ts';
import { Model } from './model.ts';
import { packr } from '../../src/store/codec.ts';
const g = new Gen(718); const s = new Store(); const m = new Model();
for (let step = 0; step < 40; step++) {
  const cmd = g.command(m.revision);
  let ok = 'ok';
  try { s.apply(cmd); } catch (e) { ok = (e as Error).name; }
  try { m.apply(cmd); } catch {}
  g.range(); const o = g.rangeOptions(m.revision) ?? {};
  if (g.chance(0.15)) { g.range(); g.int(m.revision + 2); g.chance(0.5); g.chance(0.15); g.chance(0.15); }
  const snap = packr.unpack(s.snapshot().encode());
  console.log(step, cmd.type, ok, s.revision, JSON.stringify(snap[5].map((x: any) => x instanceof Uint8Array ? '' : x)));
}
