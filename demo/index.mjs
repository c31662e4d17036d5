// `npm run demo`: micrograd's two-moons demo and the 8×8 digits (an MLP and a CNN), trained with
// tapegrad from the built package in dist/. Deterministic: every random number comes from SEED.
//   node demo/index.mjs [--out DIR]      (figures go to DIR, default ./demo-output)
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const SEED = 1337;

const USAGE = 'usage: npm run demo [-- --out DIR]\nTrains the demo models and writes SVG figures to DIR (default ./demo-output).';
let args;
try {
  ({ values: args } = parseArgs({ options: { out: { type: 'string', default: 'demo-output' }, help: { type: 'boolean', short: 'h' } } }));
} catch (err) {
  console.error(`tapegrad demo: ${err.message}\n${USAGE}`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
  console.error('tapegrad demo: the package is not built (dist/index.js is missing).\nRun `npm run build` (or `npm install`, which builds it), then `npm run demo` again.');
  process.exit(1);
}

// Imported only now, so that a missing build gets the message above rather than a module error.
const { runMoons } = await import('./moons.mjs');
const { runDigits } = await import('./digits.mjs');
const { runGpt } = await import('./gpt.mjs');

// npm runs scripts from the package root; INIT_CWD is where the user typed `npm run demo`.
const outDir = resolve(process.env.INIT_CWD ?? process.cwd(), args.out);
const log = (line) => console.log(`  ${line}`);
const start = performance.now();
const seconds = (from) => ((performance.now() - from) / 1000).toFixed(1);

console.log('1. micrograd demo: two moons, MLP(2, [16, 16, 1]), max-margin loss, SGD');
let t = performance.now();
const moons = runMoons({ seed: SEED, outDir, log });
log(`final accuracy ${(100 * moons.accuracy).toFixed(0)}%, done in ${seconds(t)} s`);

console.log('\n2. digits: 8×8 handwritten digits, MLP and CNN, cross-entropy, Adam');
t = performance.now();
const digits = runDigits({ seed: SEED, outDir, log });
log(`done in ${seconds(t)} s`);

console.log('\n3. a character-level GPT on the Book of Genesis (2 pre-norm layers, 4 heads, fused causal attention, AdamW)');
t = performance.now();
const gpt = runGpt({ seed: SEED, log });
log(`${gpt.losses.length} steps at ${gpt.stepsPerSecond.toFixed(1)} steps/s, loss ${gpt.losses[0].toFixed(2)} → ${gpt.finalLoss.toFixed(2)}, done in ${seconds(t)} s`);
log(`sample:\n${gpt.sample.split('\n').map((l) => `    ${l}`).join('\n')}`);

console.log(`\nResults: moons ${(100 * moons.accuracy).toFixed(0)}% (train); digits held-out: MLP ${(100 * digits.mlp).toFixed(2)}%, CNN ${(100 * digits.cnn).toFixed(2)}%; GPT loss ${gpt.finalLoss.toFixed(2)} (${gpt.stepsPerSecond.toFixed(1)} steps/s)`);
console.log(`Figures written to ${outDir}/:\n  ${[moons.file, digits.file].map((f) => f.slice(outDir.length + 1)).join('\n  ')}`);
console.log(`Total time ${seconds(start)} s`);
