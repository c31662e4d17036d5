// What a browser downloads — dist/index.js, with the JS and both WebAssembly builds inlined — must
// stay within the 60 KB gzip budget (issue 5). `npm run size` prints the breakdown.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';

it('the browser bundle is at most 60 KB gzipped', () => {
  const bundle = readFileSync(new URL('../dist/index.js', import.meta.url));
  expect(gzipSync(bundle, { level: 9 }).length).toBeLessThanOrEqual(60 * 1024);
});
