// Builds README.md from docs/: the head, one section per area (headings shifted so each area's
// top heading is `##`), then the tail. docs/ is the source; `npm run docs` regenerates the README
// and test/docs.test.ts fails when the committed README is stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sections = ['node', 'errors', 'recipes', 'operators', 'raft', 'simulation', 'store', 'storage', 'transport'];

function shiftHeadings(markdown) {
  const lines = markdown.trimEnd().split('\n');
  let inFence = false;
  const levels = [];
  for (const line of lines) {
    if (/^(```|~~~)/.test(line)) inFence = !inFence;
    else if (!inFence && /^#{1,6} /.test(line)) levels.push(line.indexOf(' '));
  }
  const shift = 2 - Math.min(...levels);
  inFence = false;
  return lines
    .map((line) => {
      if (/^(```|~~~)/.test(line)) inFence = !inFence;
      if (inFence || !/^#{1,6} /.test(line)) return line;
      const level = Math.min(6, line.indexOf(' ') + shift);
      return '#'.repeat(level) + line.slice(line.indexOf(' '));
    })
    .join('\n');
}

export function buildReadme() {
  const read = (name) => readFileSync(join(root, 'docs', name), 'utf8');
  const parts = [read('README.head.md').trimEnd()];
  for (const name of sections) parts.push(shiftHeadings(read(`${name}.md`)));
  parts.push(read('README.tail.md').trimEnd());
  return parts.join('\n\n') + '\n';
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  writeFileSync(join(root, 'README.md'), buildReadme());
  console.log('README.md written');
}
