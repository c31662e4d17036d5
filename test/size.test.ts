// What a browser downloads — dist/index.js (JS and both WebAssembly builds inlined) as a bundler
// minifies it — must stay within the 60 KB gzip budget. `npm run size` prints the breakdown.
import { expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script with no types
import { measure, readShipped } from '../scripts/size.mjs';

it('the browser bundle is at most 60 KB gzipped once minified', () => {
  const report = measure(readShipped());
  expect(report.parts.wasm.bytes).toBeGreaterThan(30_000); // the wasm was found and counted
  expect(report.gzip).toBeLessThanOrEqual(60 * 1024);
});
