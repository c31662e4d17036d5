// The gzipped size of what a browser downloads: dist/index.js, which carries core.wasm (both
// builds) inlined as base64. Prints the total and what it is made of; budget ≤ 60 KB gzip.
//
//   node scripts/size.mjs [--json out.json] [--check]     (--check: exit 1 when over budget)
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FILE = 'dist/index.js';
const BUDGET = 60 * 1024;

const args = process.argv.slice(2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
if (args.includes('--json') && !jsonOut) throw new Error('size: --json needs a file name');

const gzip = (buf) => gzipSync(buf, { level: 9 }).length;
let text;
try {
  text = readFileSync(new URL(FILE, `file://${ROOT}`), 'utf8');
} catch {
  console.error(`size: ${FILE} is missing; run \`npm run build\` first`);
  process.exit(1);
}

// The inlined wasm builds are the long base64 string literals; the rest is the JS façade.
const wasm = [...text.matchAll(/(["'`])([A-Za-z0-9+/]{4096,}={0,2})\1/g)].map((m) => m[2]);
let js = text;
for (const b64 of wasm) js = js.replace(b64, '');

const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const report = {
  file: FILE,
  bytes: Buffer.byteLength(text),
  gzip: gzip(text),
  budget: BUDGET,
  parts: {
    js: { bytes: Buffer.byteLength(js), gzip: gzip(js) },
    wasm: wasm.map((b64) => ({
      bytes: Buffer.from(b64, 'base64').length,
      base64Bytes: b64.length,
      gzip: gzip(b64),
    })),
  },
};
report.withinBudget = report.gzip <= BUDGET;

console.log(`${FILE}: ${kb(report.bytes)} raw, ${kb(report.gzip)} gzip (${report.gzip} bytes); budget ${kb(BUDGET)} gzip: ${
  report.withinBudget ? 'ok' : `OVER by ${kb(report.gzip - BUDGET)}`}`);
console.log(`  JS façade (without the wasm): ${kb(report.parts.js.bytes)} raw, ${kb(report.parts.js.gzip)} gzip`);
report.parts.wasm.forEach((w, i) =>
  console.log(`  inlined wasm #${i + 1}: ${kb(w.bytes)} wasm as ${kb(w.base64Bytes)} base64, ${kb(w.gzip)} gzip on its own`));
console.log('  (sizes in KB = 1024 bytes; gzip level 9, each part gzipped alone, so parts do not add up exactly)');

if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report, null, 2) + '\n');
if (args.includes('--check') && !report.withinBudget) process.exit(1);
