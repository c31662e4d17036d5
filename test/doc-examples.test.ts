// Every `@example` in the API reference (TSDoc in bindings/**) runs against the build, and each
// line written `expr; // → value` must give that value (numbers to 1e-4 relative, arrays and
// objects element by element), so the reference cannot drift from what the code does.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { expect, it } from 'vitest';
import * as tg from '../dist/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

/** Each ```ts block of a doc comment, with its file and line, the `// →` lines turned into checks. */
function examples(): { where: string; code: string }[] {
  const out: { where: string; code: string }[] = [];
  for (const file of sources(join(ROOT, 'bindings'))) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*\* ```ts/.test(lines[i])) continue;
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && !/^\s*\* ```/.test(lines[j]); j++) {
        const line = lines[j].replace(/^\s*\*( |$)/, '');
        const check = line.match(/^(.*?);?\s*\/\/ → (.*)$/);
        body.push(check ? `check(${check[1]}, (${check[2]}), ${JSON.stringify(check[1].trim())});` : line);
      }
      out.push({ where: `${relative(ROOT, file)}:${i + 1}`, code: body.join('\n') });
      i = j;
    }
  }
  return out;
}

const same = (a: unknown, b: unknown): boolean =>
  typeof b === 'number' ? typeof a === 'number' && (Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)) || (Number.isNaN(a) && Number.isNaN(b)))
    : Array.isArray(b) ? Array.isArray(a) && a.length === b.length && a.every((x, k) => same(x, b[k]))
      : b !== null && typeof b === 'object' ? Object.keys(b).every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
        : a === b;

const all = examples();

it('the reference has examples, and each has at least one line to run', () => {
  expect(all.length).toBeGreaterThan(90);
  for (const e of all) expect(e.code.trim().length, e.where).toBeGreaterThan(0);
});

it.each(all.map((e) => [e.where, e.code]))('the example at %s runs and gives what it states', (where, code) => {
  const failures: string[] = [];
  const check = (got: unknown, want: unknown, src: string) => {
    if (!same(got, want)) failures.push(`${src} → ${JSON.stringify(got)}, the comment says ${JSON.stringify(want)}`);
  };
  const js = transformSync(code, { loader: 'ts', format: 'cjs' }).code;
  new Function('tg', 'check', js)(tg, check);
  expect(failures, where).toEqual([]);
});
