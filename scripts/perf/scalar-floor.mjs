// The floor of issue 14's scalar arena (notes/scalar-arena.md), measured: micrograd's demo step
// (the bench's MLP and demoLoss) on the prototype scripts/perf/scalar-floor.ts, through a minimal
// JavaScript handle class, alternated in one process with tapegrad's eager step on dist/. The
// prototype keeps the per-node duties of the engine on this path (its header lists them) and
// leaves out the rest, so this is a floor, not a forecast. It also checks that the prototype's
// losses over 3 SGD steps are tapegrad's bit for bit (the same float32 operations in the same
// order), and that every step's scope is released at once and gives back every byte.
//
//   node scripts/perf/scalar-floor.mjs [--check]   (--check: backward's checking pass each step,
//                                                    as after an in-place write; off, as usual)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MLP, demoLoss } from '../../bench/micrograd.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'scalar-floor-'));
const asc = createRequire(import.meta.url).resolve('assemblyscript/bin/asc.js');
// compiled where no asconfig.json applies (the project's imports a shared memory)
execFileSync(process.execPath, [asc, join(here, 'scalar-floor.ts'), '-O3', '--runtime', 'stub', '--outFile', join(dir, 'floor.wasm')], { cwd: dir, stdio: 'inherit' });
const wasm = readFileSync(join(dir, 'floor.wasm'));
rmSync(dir, { recursive: true });
const { exports: p } = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { abort: () => { throw new Error('scalar-floor: abort'); } } });
p.init();
const ADD = 0, MUL = 2, RELU = 10;
const VALS = p.valuesAt() >>> 2, GENS = p.gensAt() >>> 2; // a slot's value at VALS + 2k (its gradient follows it)
const check = process.argv.includes('--check');
const heapF = new Float32Array(p.memory.buffer), heapI = new Int32Array(p.memory.buffer); // the arena never grows after init

/** The handle: a node and its generation (a thin Tensor). */
class S {
  constructor(id) { if (id < 0) throw new Error(`scalar-floor: status ${id}`); this.id = id; this.gen = heapI[GENS + id]; }
  op(op, other) { return typeof other === 'number' ? new S(p.scalarOp(op, this.id, this.gen, -1, 0, other)) : new S(p.scalarOp(op, this.id, this.gen, other.id, other.gen, 0)); }
  add(other) { return this.op(ADD, other); }
  mul(other) { return this.op(MUL, other); }
  relu() { return this.op(RELU, 0); }
}

function data(seed = 1) {
  let s = seed;
  const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const X = Array.from({ length: 100 }, () => [random() * 2 - 1, random() * 2 - 1]);
  return { random, X, y: X.map(([a, b]) => (a * b > 0 ? 1 : -1)) };
}

function floorStep() {
  const { random, X, y } = data();
  const model = new MLP(2, [16, 16, 1], { random, scalar: (v) => new S(p.leaf(v, 1)) });
  const count = model.parameters().length; // the parameters are nodes [0, count), made first
  return () => {
    p.beginScope();
    const { totalLoss } = demoLoss(model, X, y, { scalar: (v) => new S(p.leaf(v, 0)), read: (t) => heapF[VALS + 2 * t.id] });
    p.zeroGrads(0, count);
    if (p.backward(totalLoss.id, check) !== 0) throw new Error('scalar-floor: backward refused the graph');
    p.sgd(0, count, 0.1);
    const loss = heapF[VALS + 2 * totalLoss.id];
    // the parameters' values and gradients are all that is left
    if (p.endScope() !== 0 || p.bytesInUse() !== 8 * count) throw new Error('scalar-floor: the scope did not give back its bytes');
    return loss;
  };
}

async function tapegradStep() {
  const tg = await import(pathToFileURL(join(here, '../../dist/index.js')).href);
  tg.setNumThreads(1);
  const { random, X, y } = data();
  const model = new MLP(2, [16, 16, 1], { random, scalar: (v) => tg.tensor(v, { requiresGrad: true }) });
  const opt = new tg.optim.SGD(model.parameters(), { lr: 0.1 });
  return () => {
    let loss = NaN;
    tg.tidy(() => {
      const { totalLoss } = demoLoss(model, X, y, { scalar: (v) => tg.tensor(v), read: (t) => t.item() });
      opt.zeroGrad();
      totalLoss.backward();
      opt.step();
      loss = totalLoss.item();
    });
    return loss;
  };
}

const steps = [['prototype', floorStep()], ['tapegrad', await tapegradStep()]];
const losses = steps.map(([, step]) => [step(), step(), step()]);
const same = losses[0].every((l, i) => Object.is(Math.fround(l), Math.fround(losses[1][i])));
console.log(`losses of 3 steps: prototype ${losses[0].join(', ')}; tapegrad ${losses[1].join(', ')}: ${same ? 'identical' : 'DIFFERENT'}`);
const warm = performance.now();
while (performance.now() - warm < 2000) for (const [, step] of steps) step();
const times = steps.map(() => []);
for (let i = 0; i < 100; i++) steps.forEach(([, step], k) => { const t = performance.now(); step(); times[k].push(performance.now() - t); });
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
console.log(steps.map(([name], k) => `${name} ${median(times[k]).toFixed(3)} ms`).join(', ') + ' a step (medians of 100 alternated steps, one thread)');
