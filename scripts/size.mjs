// The gzipped size of what a browser downloads. dist/index.js is shipped unminified (readable
// stack traces); a bundler minifies it for the browser, so the download is dist/index.js minified
// by esbuild (as Vite and esbuild do in a production build), gzipped. It carries both wasm builds:
// the SIMD one as text (scripts/build-wasm.mjs says how), the relaxed one as a patch over it.
// Budget ≤ 68 KB gzip: it was 60 KB until threads (issue 10) added the worker pool
// (bindings/threads.ts, 1.3 KB gzipped) and the kernels' split paths (~3 KB), and issue 9 faster
// exp, log and crossEntropy kernels (0.4 KB), 64.0 KB in all; the wasm inlined as text instead of
// hex then saved 3 KB. Views (issue 9: reshape and first-dim slices share their input's buffer)
// added 0.4 KB and the attention mask's gradient 0.1 KB (62.3 KB), and scalar programs (issue 14:
// a trace of 0-d ops replayed as a compact instruction stream, assembly/scalars.ts) 1.8 KB, and
// issue 12's layers 3.4 KB (nn.GroupNorm/nn.RMSNorm with their functional forms and
// nn.BatchNorm1d/2d 1.2 KB; conv dilation and groups, nn.Conv1d and F.conv1d 0.9 KB; nn.Upsample
// and F.interpolate 0.7 KB; nn.ConvTranspose2d and F.convTranspose2d 0.6 KB), 67.8 KB. The
// recurrent layers (nn.LSTM, nn.GRU and their cells: the core's time loop and cells 1.7 KB, the
// modules 1.6 KB) then took it to 71.2 KB, and autograd that runs JavaScript (issue 11: the core's
// walk pausing for tensor hooks and custom ops, tg.autograd.Function, tg.checkpoint, retainGrad,
// peakMemory; 3.1 KB, and kernelOp 0.3 KB) to 74.6 KB, and gradients of gradients (createGraph's
// rule table, bindings/higher.ts, a rule for every opcode, the tg.func transforms and
// backward({createGraph}); 5.2 KB) to 80.1 KB, and the eager fast path of 0-d ops (issue 14: the
// scalar op, backward and release paths inlined in the core; 0.9 KB) and batched products that
// read an operand in place (issue 9; 0.2 KB, one micro-kernel copy shared by three loops) to
// 81.5 KB, and optimizers refusing a parameter that is not a leaf (issue 14's arena plan, and
// PyTorch's rule; 0.03 KB) and the walk's add and mul of 0-d tensors with their rules inlined
// (issue 14; 0.07 KB) over it: the budget was 81.6 KB then. Tensor's elementwise methods calling
// the core straight for 0-d operands (issue 14: micrograd's step 5% faster; 0.15 KB) took it to
// 81.7 KB, and tidy scopes holding 0-d results in slabs of the node table released at once
// (issue 14: micrograd's step 6% faster; 1.1 KB, its release loop inlined in endScope, in both
// builds) to 82.9 KB, and grad() setting aside the gradients of the leaves it was not asked for (a
// fix: kernels added to them; 0.3 KB) to 83.2 KB: the budget is 83.3 KB since. The README says so.
//
//   node scripts/size.mjs [--json out.json] [--check]     (--check: exit 1 when over budget)
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FILE = 'dist/index.js';
export const BUDGET = 83.3 * 1024;

const gzip = (text) => gzipSync(text, { level: 9 }).length;

/** What a browser downloads, from the shipped dist/index.js text: sizes raw and gzipped, and parts. */
export function measure(shipped) {
  const { code: download } = transformSync(shipped, { minify: true, format: 'esm', target: 'es2020' });
  // The inlined SIMD build is the long string literal in scripts/build-wasm.mjs's text form (a hex
  // table of 174 characters, then one character per byte, or two after '}' or '~'); the rest is
  // the JS façade.
  const text = download.match(/(["'`])([0-9a-f]{174}[^"'`\\$<]{4096,})\1/)?.[2] ?? '';
  const js = download.replace(text, '');
  let wasmBytes = 0;
  for (let i = 174; i < text.length; i++, wasmBytes++) if (text[i] === '}' || text[i] === '~') i++;
  const gz = gzip(download);
  return {
    file: FILE,
    shipped: { bytes: Buffer.byteLength(shipped), gzip: gzip(shipped) },
    bytes: Buffer.byteLength(download),
    gzip: gz,
    budget: BUDGET,
    withinBudget: gz <= BUDGET,
    parts: {
      js: { bytes: Buffer.byteLength(js), gzip: gzip(js) },
      wasm: { bytes: wasmBytes, textBytes: text.length, gzip: gzip(text) },
    },
  };
}

export const readShipped = () => readFileSync(new URL(FILE, `file://${ROOT}`), 'utf8');

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();

function main() {
  const args = process.argv.slice(2);
  const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
  if (args.includes('--json') && !jsonOut) throw new Error('size: --json needs a file name');
  let shipped;
  try {
    shipped = readShipped();
  } catch {
    console.error(`size: ${FILE} is missing; run \`npm run build\` first`);
    process.exit(1);
  }
  const report = measure(shipped);
  const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`browser download (${FILE} minified by esbuild): ${kb(report.bytes)} raw, ${kb(report.gzip)} gzip (${report.gzip} bytes); budget ${kb(BUDGET)} gzip: ${
    report.withinBudget ? 'ok' : `OVER by ${kb(report.gzip - BUDGET)}`}`);
  console.log(`  JS façade (without the wasm): ${kb(report.parts.js.bytes)} raw, ${kb(report.parts.js.gzip)} gzip`);
  console.log(`  inlined wasm: ${kb(report.parts.wasm.bytes)} wasm as ${kb(report.parts.wasm.textBytes)} text, ${kb(report.parts.wasm.gzip)} gzip on its own`);
  console.log(`  ${FILE} as shipped (unminified, for readable stacks): ${kb(report.shipped.bytes)} raw, ${kb(report.shipped.gzip)} gzip`);
  console.log('  (sizes in KB = 1024 bytes; gzip level 9, each part gzipped alone, so parts do not add up exactly)');
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report, null, 2) + '\n');
  if (args.includes('--check') && !report.withinBudget) process.exit(1);
}
