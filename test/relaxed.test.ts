// The two WebAssembly builds compute the same products. Node 20 validates relaxed SIMD only with
// --experimental-wasm-relaxed-simd, so this process loads the simd build and a child started with
// the flag loads the relaxed one (f32x4.relaxed_madd in the gemm kernel); both run the same
// matmul / linear / conv2d cases, forward and backward, and each is compared with a float64
// reference computed here. The cases cover every path of the kernel: the three operand layouts
// (A·B, A·Bᵀ for nn.linear's weight and the gradients, Aᵀ·B), edges in M, N and K, several
// K slices, N and M blocks, matrix-vector products and batched broadcasting.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as tg from '../dist/index.js';

interface CaseResult {
  name: string;
  inputs: Record<string, { shape: number[]; data: number[] }>;
  outputs: Record<string, number[]>;
}
interface RunResult { build: string; cases: CaseResult[] }

// Plain JavaScript, evaluated as `new Function('tg', CASES)` here and in the child process, so both
// builds see the same inputs (from the seeded generator below) and run the same calls.
const CASES = String.raw`
  let seed = 12345;
  const uniform = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32 * 2 - 1; };
  const numel = (shape) => shape.reduce((p, d) => p * d, 1);
  const cases = [];
  function run(name, shapes, fn) {
    const inputs = {}, tensors = {};
    for (const [key, shape] of Object.entries(shapes)) {
      const data = Array.from({ length: numel(shape) }, uniform);
      inputs[key] = { shape, data };
      tensors[key] = tg.tensor(Float32Array.from(data), { shape, requiresGrad: key !== 'g' });
    }
    const y = fn(tensors);
    y.backward(tensors.g);
    const outputs = { y: Array.from(y.data()) };
    for (const key of Object.keys(shapes)) {
      if (key === 'g') continue;
      const grad = tensors[key].grad;
      outputs['d' + key] = Array.from(grad.data());
      grad.dispose();
    }
    cases.push({ name, inputs, outputs });
    tg.dispose([y, ...Object.values(tensors)]);
  }
  const mm = (M, K, N) => ({ a: [M, K], b: [K, N], g: [M, N] });
  for (const [M, K, N] of [[5, 7, 3], [4, 8, 8], [33, 65, 17], [130, 50, 20], [20, 600, 40], [9, 20, 530], [70, 257, 67], [128, 128, 10]]) {
    run('matmul ' + M + 'x' + K + '·' + K + 'x' + N, mm(M, K, N), (t) => tg.matmul(t.a, t.b));
  }
  for (const [B, I, O] of [[37, 300, 45], [128, 130, 12], [3, 5, 2], [1, 64, 10], [64, 9, 1]]) {
    run('linear ' + B + 'x' + I + '→' + O, { x: [B, I], w: [O, I], bias: [O], g: [B, O] },
      (t) => tg.nn.functional.linear(t.x, t.w, t.bias));
  }
  run('vector·matrix', { a: [70], b: [70, 33], g: [33] }, (t) => tg.matmul(t.a, t.b));
  run('matrix·vector', { a: [45, 70], b: [70], g: [45] }, (t) => tg.matmul(t.a, t.b));
  run('row·matrix', { a: [1, 300], b: [300, 21], g: [1, 21] }, (t) => tg.matmul(t.a, t.b));
  run('vector·vector', { a: [50], b: [50], g: [] }, (t) => tg.matmul(t.a, t.b));
  run('batched broadcast', { a: [2, 3, 6, 9], b: [3, 9, 5], g: [2, 3, 6, 5] }, (t) => tg.matmul(t.a, t.b));
  for (const [N, C, H, O, K, stride, padding] of [[2, 3, 9, 4, 3, 1, 1], [3, 8, 8, 16, 3, 2, 0], [1, 2, 12, 5, 5, 1, 2]]) {
    const Ho = Math.floor((H + 2 * padding - K) / stride) + 1;
    run('conv2d ' + [N, C, H, H].join('x') + ' k' + K + ' s' + stride + ' p' + padding, { x: [N, C, H, H], w: [O, C, K, K], bias: [O], g: [N, O, Ho, Ho] },
      (t) => tg.nn.functional.conv2d(t.x, t.w, t.bias, { stride, padding }));
  }
  return { build: tg.build, cases };
`;

const runCases = new Function('tg', CASES) as (lib: typeof tg) => RunResult;

/** The cases in a child Node with relaxed SIMD enabled. */
function runCasesRelaxed(): RunResult {
  const dist = new URL('../dist/index.js', import.meta.url).href;
  const script = `import * as tg from ${JSON.stringify(dist)};\n` +
    `process.stdout.write(JSON.stringify(new Function('tg', ${JSON.stringify(CASES)})(tg)));`;
  const out = execFileSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  return JSON.parse(out) as RunResult;
}

/** Whether this runtime validates relaxed SIMD without flags: a module using f32x4.relaxed_madd. */
function relaxedByDefault(): boolean {
  const v128Const = [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  const body = [0x00, ...v128Const, ...v128Const, ...v128Const, 0xfd, 0x85, 0x02, 0x0b];
  return WebAssembly.validate(new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type 0: () → v128
    0x03, 0x02, 0x01, 0x00, // function 0 has type 0
    0x0a, body.length + 2, 0x01, body.length, ...body,
  ]));
}

// ── float64 references ────────────────────────────────────────────────────────────────────────

type Shaped = { shape: number[]; data: number[] };

/** C = A·B for row-major A [M, K] and B [K, N]; `ta`/`tb` read A or B as stored transposed. */
function matmul64(a: number[], b: number[], M: number, K: number, N: number, ta = false, tb = false): number[] {
  const c = new Array<number>(M * N).fill(0);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + m] : a[m * K + k]) * (tb ? b[n * K + k] : b[k * N + n]);
      c[m * N + n] = s;
    }
  }
  return c;
}

/** y, da, db of y = a·b with PyTorch's 1-D rules and batch broadcasting (b's batch dims ≤ a's). */
function matmulRef(a: Shaped, b: Shaped, g: Shaped): Record<string, number[]> {
  const aVec = a.shape.length === 1, bVec = b.shape.length === 1;
  const M = aVec ? 1 : a.shape[a.shape.length - 2], K = a.shape[a.shape.length - 1];
  const N = bVec ? 1 : b.shape[b.shape.length - 1];
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const batches = batchA.reduce((p, d) => p * d, 1), bBatches = batchB.reduce((p, d) => p * d, 1);
  const y: number[] = [], da = new Array<number>(a.data.length).fill(0), db = new Array<number>(b.data.length).fill(0);
  for (let t = 0; t < batches; t++) {
    const tb = t % bBatches; // b's batch dims are a suffix of a's in these cases
    const A = a.data.slice(t * M * K, (t + 1) * M * K), B = b.data.slice(tb * K * N, (tb + 1) * K * N);
    const G = g.data.slice(t * M * N, (t + 1) * M * N);
    y.push(...matmul64(A, B, M, K, N));
    matmul64(G, B, M, N, K, false, true).forEach((v, i) => (da[t * M * K + i] += v)); // dA = G·Bᵀ
    matmul64(A, G, K, M, N, true, false).forEach((v, i) => (db[tb * K * N + i] += v)); // dB = Aᵀ·G
  }
  return { y, da, db };
}

function linearRef(x: Shaped, w: Shaped, bias: Shaped, g: Shaped): Record<string, number[]> {
  const [B, I] = x.shape, O = w.shape[0];
  const y = matmul64(x.data, w.data, B, I, O, false, true).map((v, i) => v + bias.data[i % O]);
  const dx = matmul64(g.data, w.data, B, O, I);
  const dw = matmul64(g.data, x.data, O, B, I, true, false);
  const dbias = Array.from({ length: O }, (_, o) => {
    let s = 0;
    for (let r = 0; r < B; r++) s += g.data[r * O + o];
    return s;
  });
  return { y, dx, dw, dbias };
}

function conv2dRef(x: Shaped, w: Shaped, bias: Shaped, g: Shaped, stride: number, padding: number): Record<string, number[]> {
  const [N, C, H, W] = x.shape, [O, , KH, KW] = w.shape, [, , OH, OW] = g.shape;
  const y = new Array<number>(N * O * OH * OW).fill(0);
  const dx = new Array<number>(x.data.length).fill(0), dw = new Array<number>(w.data.length).fill(0);
  const dbias = new Array<number>(O).fill(0);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    const yi = ((n * O + o) * OH + oh) * OW + ow, gv = g.data[yi];
    let s = bias.data[o];
    dbias[o] += gv;
    for (let c = 0; c < C; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
      const ih = oh * stride - padding + kh, iw = ow * stride - padding + kw;
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
      const xi = ((n * C + c) * H + ih) * W + iw, wi = ((o * C + c) * KH + kh) * KW + kw;
      s += x.data[xi] * w.data[wi];
      dx[xi] += gv * w.data[wi];
      dw[wi] += gv * x.data[xi];
    }
    y[yi] = s;
  }
  return { y, dx, dw, dbias };
}

function reference(c: CaseResult): Record<string, number[]> {
  const i = c.inputs;
  if (c.name.startsWith('linear')) return linearRef(i.x, i.w, i.bias, i.g);
  if (c.name.startsWith('conv2d')) {
    const [, stride, padding] = /s(\d+) p(\d+)/.exec(c.name)!.map(Number);
    return conv2dRef(i.x, i.w, i.bias, i.g, stride, padding);
  }
  return matmulRef(i.a, i.b, i.g);
}

/**
 * |actual − expected| ≤ 1e-5·|expected| + 2e-7·depth·scale, where depth bounds the length of the
 * sums (f32 rounding grows with it) and scale is the largest |expected|; inputs are in [−1, 1].
 * Both builds stay within 1/30 of this; a wrong index or a dropped term exceeds it many times over.
 */
function expectClose(actual: number[], expected: number[], depth: number, label: string): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  const scale = Math.max(1, ...expected.map(Math.abs));
  let worst = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) / (1e-5 * Math.abs(expected[i]) + 2e-7 * depth * scale);
    if (!(excess <= worst)) { worst = excess; at = i; }
  }
  expect(worst, `${label}: worst at ${at}: ${actual[at]} vs ${expected[at]}`).toBeLessThanOrEqual(1);
}

/** The longest sum behind any output of a case: K, the batch, or C·KH·KW and N·OH·OW for conv. */
function depthOf(c: CaseResult): number {
  return Math.max(...Object.values(c.inputs).map((t) => Math.max(...t.shape, 1))) *
    (c.name.startsWith('conv2d') ? Math.max(...c.inputs.w.shape.slice(1)) ** 2 : 1);
}

function checkAgainstReference(result: RunResult): void {
  expect(result.cases.length).toBeGreaterThan(15);
  for (const c of result.cases) {
    const ref = reference(c);
    for (const [key, values] of Object.entries(c.outputs)) {
      expectClose(values, ref[key], depthOf(c), `${result.build} ${c.name} ${key}`);
    }
  }
}

describe('simd and relaxed-simd builds', () => {
  let localResult: RunResult | undefined;
  const local = (): RunResult => (localResult ??= runCases(tg));

  it('this process runs the simd build (Node 20 without the flag), with threads', () => {
    expect(local().build).toBe(`${relaxedByDefault() ? 'relaxed-simd' : 'simd'}+threads`);
  });

  it('the in-process build agrees with a float64 reference', () => {
    checkAgainstReference(local());
  });

  it('a child with --experimental-wasm-relaxed-simd loads the relaxed build and agrees with the reference', () => {
    const child = runCasesRelaxed();
    expect(child.build).toBe('relaxed-simd+threads');
    expect(child.cases.map((c) => c.name)).toEqual(local().cases.map((c) => c.name));
    // same inputs in both processes (the seeded generator), so the results are comparable
    child.cases.forEach((c, i) => expect(c.inputs).toEqual(local().cases[i].inputs));
    checkAgainstReference(child);
  });
});
