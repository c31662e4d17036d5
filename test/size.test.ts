// What a browser downloads — dist/index.js (JS and both WebAssembly builds inlined) as a bundler
// minifies it — must stay within the gzip budget (scripts/size.mjs says why it is 83.3 KB, no longer
// 60). `npm run size` prints the breakdown.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import * as tg from '../dist/index.js';
// @ts-expect-error: a plain .mjs script with no types
import { BUDGET, measure, readShipped } from '../scripts/size.mjs';

it('the browser bundle is at most 83.3 KB gzipped once minified', () => {
  const report = measure(readShipped());
  expect(report.parts.wasm.bytes).toBeGreaterThan(30_000); // the wasm was found and counted
  expect(BUDGET).toBe(83.3 * 1024);
  expect(report.gzip).toBeLessThanOrEqual(BUDGET);
});

it('the wasm inlined as text (scripts/build-wasm.mjs) reads back as build/core.wasm, byte for byte', () => {
  const wasm = readFileSync(new URL('../build/core.wasm', import.meta.url));
  const decoded = tg.__testing.fromText(readFileSync(new URL('../build/core.wasm.txt', import.meta.url), 'utf8'));
  expect(decoded.length).toBe(wasm.length);
  expect(Buffer.from(decoded).equals(wasm)).toBe(true);
});
