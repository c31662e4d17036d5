// The floor of issue 14's scalar arena (notes/scalar-arena.md), measured: micrograd's demo step
// (the bench's MLP and demoLoss) on the prototype scripts/perf/scalar-floor.ts, through a minimal
// JavaScript handle class, alternated in one process with tapegrad's eager step on dist/. The
// prototype keeps the per-node duties of the engine on this path (its header lists them) and
// leaves out the rest, so this is a floor, not a forecast. It also checks that the prototype's
// losses over 3 SGD steps are tapegrad's bit for bit (the same float32 operations in the same
// order), and that every step's scope is released at once and gives back every byte.
//
//   node scripts/perf/scalar-floor.mjs [--check] [--core]
//   --check: the prototype's backward runs its checking pass each step (as after an in-place
//            write; off, as usual); --core: instead of the prototype, tapegrad's own core
//            (build/core.wasm) through the same thin handles: what tapegrad's façade adds.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MLP, demoLoss } from '../../bench/micrograd.mjs';
import { microgradSpec, rng } from '../../bench/lib/data.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'scalar-floor-'));
const asc = createRequire(import.meta.url).resolve('assemblyscript/bin/asc.js');
// compiled where no asconfig.json applies (the project's imports a shared memory)
execFileSync(process.execPath, [asc, join(here, 'scalar-floor.ts'), '-O3', '--runtime', 'stub', '--outFile', join(dir, 'floor.wasm')], { cwd: dir, stdio: 'inherit' });
const wasm = readFileSync(join(dir, 'floor.wasm'));
rmSync(dir, { recursive: true });
const { exports: p } = new WebAssembly.Instance(new WebAssembly.Module(wasm), { env: { abort: () => { throw new Error('scalar-floor: abort'); } } });
p.init();
const ADD = 0, MUL = 2, RELU = 14; // tapegrad's opcodes (the prototype takes any other as relu)
const VALS = p.valuesAt() >>> 2, GENS = p.gensAt() >>> 2; // a slot's value at VALS + 2k (its gradient follows it)
const check = process.argv.includes('--check');
const heapF = new Float32Array(p.memory.buffer), heapI = new Int32Array(p.memory.buffer); // the arena never grows after init

/** A handle class (a thin Tensor: a node and its generation) over `make(op, a, genA, b, genB, f0)` → node and `gen(node)`. */
function handles(make, gen) {
  return class S {
    constructor(id) { if (id < 0) throw new Error(`scalar-floor: status ${id}`); this.id = id; this.gen = gen(id); }
    op(op, other) { return typeof other === 'number' ? new S(make(op, this.id, this.gen, -1, 0, other)) : new S(make(op, this.id, this.gen, other.id, other.gen, 0)); }
    add(other) { return this.op(ADD, other); }
    mul(other) { return this.op(MUL, other); }
    relu() { return this.op(RELU, 0); }
  };
}

/** The bench's workload (c): its two moons, and a fresh generator of its initial weights. */
function data() {
  const { X, y, seed } = microgradSpec();
  return { random: rng(seed), X, y };
}

function floorStep() {
  const S = handles(p.scalarOp, (id) => heapI[GENS + id]);
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

/**
 * The same step on tapegrad's own core (build/core.wasm, an instance of its own) through the
 * same thin handles: what the façade (Tensor objects, checks, tidy, the optimizer) adds.
 */
function coreStep() {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const { exports: core } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(join(here, '../../build/core.wasm'))), { env: { memory, parallel: () => {} } });
  core.initMemory?.();
  const table = core.header.value >>> 2;
  let i32 = new Int32Array(memory.buffer), f32 = new Float32Array(memory.buffer);
  const fresh = () => { if (i32.length * 4 !== memory.buffer.byteLength) { i32 = new Int32Array(memory.buffer); f32 = new Float32Array(memory.buffer); } };
  const S = handles((op, a, genA, b, genB, f0) => core.runScalarOp(op, a, genA, b, genB, 0, f0), (id) => {
    const at = ((i32[table] >>> 0) + id * 64 + 28) >>> 2; // the row's generation (assembly/nodes.ts)
    if (at >= i32.length) fresh(); // memory grew (memory.buffer is not read on every op: it is slow for a shared memory)
    return i32[at];
  });
  const leaf = (v, grad) => {
    const id = core.newNode(0, 0);
    fresh();
    f32[core.dataOf(id) >>> 2] = v;
    if (grad) core.setRequiresGrad(id, 1);
    return new S(id);
  };
  const value = (t) => { fresh(); return f32[core.dataOf(t.id) >>> 2]; };
  const { random, X, y } = data();
  const model = new MLP(2, [16, 16, 1], { random, scalar: (v) => leaf(v, 1) });
  const params = model.parameters();
  return () => {
    core.beginScope();
    const { totalLoss } = demoLoss(model, X, y, { scalar: (v) => leaf(v, 0), read: value });
    fresh();
    for (const q of params) { const g = core.gradOf(q.id); if (g) f32[g >>> 2] = 0; }
    core.command(-2, -1, totalLoss.id, -1, 0, 0, 0, 0, 0, 0, 0); // backward (bindings/opcodes.ts Cmd.BACKWARD)
    if (core.issue() !== 0) throw new Error('scalar-floor: backward failed');
    fresh();
    for (const q of params) { const g = core.gradOf(q.id); if (g) f32[core.dataOf(q.id) >>> 2] -= Math.fround(0.1 * f32[g >>> 2]); }
    const loss = value(totalLoss);
    core.endScope();
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

// two at a time: a third working set in the process slows the other two
const steps = [process.argv.includes('--core') ? ["tapegrad's core, thin handles", coreStep()] : ['prototype', floorStep()], ['tapegrad', await tapegradStep()]];
const losses = steps.map(([, step]) => [step(), step(), step()]);
const same = losses[0].every((l, i) => Object.is(Math.fround(l), Math.fround(losses[1][i])));
console.log(`losses of 3 steps: ${steps.map(([name], k) => `${name} ${losses[k].join(', ')}`).join('; ')}: ${same ? 'identical' : 'DIFFERENT'}`);
const warm = performance.now();
while (performance.now() - warm < 2000) for (const [, step] of steps) step();
const times = steps.map(() => []);
for (let i = 0; i < 100; i++) steps.forEach(([, step], k) => { const t = performance.now(); step(); times[k].push(performance.now() - t); });
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
console.log(steps.map(([name], k) => `${name} ${median(times[k]).toFixed(3)} ms`).join(', ') + ' a step (medians of 100 alternated steps, one thread)');
