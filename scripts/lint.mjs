// Project rules a type checker cannot see (docs/contributing.md, "Habits" and "Layering rule"): the Raft core and the store's apply path
// stay pure, and no `any` creeps into src/. Exits non-zero with the offending lines.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
function walk(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}
const problems = [];
const impure = /from ['"](node:|ws['"]|fs['"]|net['"])|Date\.now|Math\.random|setTimeout|setInterval|performance\.now|\bawait\b|new Promise/;
for (const file of walk(join(root, 'src', 'raft'))) {
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (impure.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')) problems.push(`${file}:${i + 1}: impure in src/raft: ${line.trim()}`);
  });
}
const anyRe = /:\s*any\b|as any\b|<any>/;
for (const file of walk(join(root, 'src'))) {
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (anyRe.test(line) && !line.trim().startsWith('//') && !line.trim().startsWith('*')) problems.push(`${file}:${i + 1}: 'any' in src: ${line.trim()}`);
  });
}
for (const p of problems) console.log(p);
console.log(problems.length === 0 ? 'lint: clean' : `lint: ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
