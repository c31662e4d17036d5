// Deterministic inputs shared by every implementation, and float64 references to check results.

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uniformF32(n, random, lo, hi) {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * random();
  return out;
}

function gaussian(random) {
  // Box–Muller
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const relClose = (a, b, rtol) => Math.abs(a - b) <= rtol * Math.max(Math.abs(a), Math.abs(b), 1e-12);

// ---------------------------------------------------------------- (a) matmul

export function matmulInputs(N) {
  const random = rng(1000 + N);
  return { N, A: uniformF32(N * N, random, -1, 1), B: uniformF32(N * N, random, -1, 1) };
}

/** Compares C (row-major N×N) to float64 dot products: every entry up to N=64, else 64 sampled ones. */
/** A 32-bit FNV-1a hash of the bits of a Float32Array: a result's fingerprint, to compare results computed on different thread counts. */
export function digest(values) {
  let h = 0x811c9dc5;
  for (const bits of new Uint32Array(values.buffer, values.byteOffset, values.length)) h = Math.imul(h ^ bits, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function checkMatmul({ N, A, B }, C) {
  if (!C || C.length !== N * N) return { ok: false, detail: `result has ${C?.length} elements, expected ${N * N}` };
  const random = rng(7 * N);
  const entries = N <= 64
    ? Array.from({ length: N * N }, (_, k) => [Math.floor(k / N), k % N])
    : [[0, 0], [N - 1, N - 1], [0, N - 1], [N - 1, 0], ...Array.from({ length: 60 }, () => [Math.floor(random() * N), Math.floor(random() * N)])];
  const tol = 2e-6 * N; // f32 accumulation over N products of values in [-1, 1]
  let maxErr = 0;
  for (const [i, j] of entries) {
    let s = 0;
    for (let k = 0; k < N; k++) s += A[i * N + k] * B[k * N + j];
    maxErr = Math.max(maxErr, Math.abs(C[i * N + j] - s));
  }
  const ok = maxErr <= tol;
  return { ok, detail: `max |err| ${maxErr.toExponential(1)} over ${entries.length} entries (tol ${tol.toExponential(1)})` };
}

// ---------------------------------------------------------------- (b), (f) MLP

/**
 * MLP 784→256→128→10 with ReLU, softmax cross-entropy (mean), SGD. Weights are [in, out] row-major
 * (y = x·W + b), initialised like PyTorch's nn.Linear: uniform(±1/sqrt(fan_in)) for W and b.
 * X: [batch, 784] in [0, 1); labels: Int32Array of classes.
 */
export function mlpSpec(batch) {
  const sizes = [784, 256, 128, 10];
  const random = rng(42);
  const layers = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const [nin, nout] = [sizes[l], sizes[l + 1]];
    const bound = 1 / Math.sqrt(nin);
    layers.push({ nin, nout, W: uniformF32(nin * nout, random, -bound, bound), b: uniformF32(nout, random, -bound, bound) });
  }
  const data = rng(4242);
  const X = uniformF32(batch * sizes[0], data, 0, 1);
  const labels = Int32Array.from({ length: batch }, () => Math.floor(data() * 10));
  return { kind: 'mlp', batch, sizes, layers, X, labels, classes: 10, lr: 0.01 };
}

/** Float64 forward pass and loss of the initial weights (checks each implementation's first loss). */
export function mlpLossReference(spec) {
  let h = Float64Array.from(spec.X);
  spec.layers.forEach(({ nin, nout, W, b }, l) => {
    h = linear(h, spec.batch, nin, nout, W, b);
    if (l + 1 < spec.layers.length) h = h.map((v) => Math.max(v, 0));
  });
  return crossEntropy(h, spec.labels, spec.batch, spec.classes);
}

function linear(x, batch, nin, nout, W, b) {
  const y = new Float64Array(batch * nout);
  for (let r = 0; r < batch; r++)
    for (let o = 0; o < nout; o++) {
      let s = b[o];
      for (let i = 0; i < nin; i++) s += x[r * nin + i] * W[i * nout + o];
      y[r * nout + o] = s;
    }
  return y;
}

function crossEntropy(logits, labels, batch, classes) {
  let total = 0;
  for (let r = 0; r < batch; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    total += lse - row[labels[r]];
  }
  return total / batch;
}

// ---------------------------------------------------------------- (e) conv

/**
 * Batch of 64 1×8×8 images (NCHW); conv 1→8 3×3 pad 1, ReLU, conv 8→8 3×3 pad 1, ReLU, flatten
 * (C, H, W order, as PyTorch), linear 512→10, cross-entropy, SGD. Conv weights [Cout, Cin, 3, 3].
 */
export function convSpec(batch = 64) {
  const random = rng(7);
  const C = 8, H = 8, Wd = 8;
  const conv = (cin, cout) => {
    const bound = 1 / Math.sqrt(cin * 9);
    return { cin, cout, W: uniformF32(cout * cin * 9, random, -bound, bound), b: uniformF32(cout, random, -bound, bound) };
  };
  const convs = [conv(1, C), conv(C, C)];
  const nin = C * H * Wd, bound = 1 / Math.sqrt(nin);
  const fc = { nin, nout: 10, W: uniformF32(nin * 10, random, -bound, bound), b: uniformF32(10, random, -bound, bound) };
  const data = rng(77);
  const X = uniformF32(batch * H * Wd, data, 0, 1);
  const labels = Int32Array.from({ length: batch }, () => Math.floor(data() * 10));
  return { kind: 'conv', batch, height: H, width: Wd, convs, fc, X, labels, classes: 10, lr: 0.01 };
}

export function convLossReference(spec) {
  const { batch, height: H, width: W } = spec;
  let h = Float64Array.from(spec.X);
  for (const { cin, cout, W: k, b } of spec.convs) {
    const out = new Float64Array(batch * cout * H * W);
    for (let n = 0; n < batch; n++)
      for (let co = 0; co < cout; co++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            let s = b[co];
            for (let ci = 0; ci < cin; ci++)
              for (let dy = 0; dy < 3; dy++)
                for (let dx = 0; dx < 3; dx++) {
                  const yy = y + dy - 1, xx = x + dx - 1;
                  if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                    s += h[((n * cin + ci) * H + yy) * W + xx] * k[((co * cin + ci) * 3 + dy) * 3 + dx];
                }
            out[((n * cout + co) * H + y) * W + x] = Math.max(s, 0);
          }
    h = out;
  }
  const logits = linear(h, batch, spec.fc.nin, spec.fc.nout, spec.fc.W, spec.fc.b);
  return crossEntropy(logits, spec.labels, batch, spec.classes);
}

/** A loss agrees with the reference within rel 1e-3. */
export function checkLoss(loss, reference) {
  const ok = Number.isFinite(loss) && relClose(loss, reference, 1e-3);
  return { ok, detail: `first loss ${loss?.toFixed?.(6)} vs float64 reference ${reference.toFixed(6)}` };
}

// ---------------------------------------------------------------- (c) micrograd demo

/** sklearn.datasets.make_moons(100, noise=0.1), deterministic, with labels mapped to ±1 as the demo does. */
export function moons(n = 100, noise = 0.1, seed = 1337) {
  const random = rng(seed);
  const nOut = Math.floor(n / 2), nIn = n - nOut;
  const pts = [];
  for (let i = 0; i < nOut; i++) {
    const t = (Math.PI * i) / (nOut - 1);
    pts.push([Math.cos(t), Math.sin(t), -1]);
  }
  for (let i = 0; i < nIn; i++) {
    const t = (Math.PI * i) / (nIn - 1);
    pts.push([1 - Math.cos(t), 1 - Math.sin(t) - 0.5, 1]);
  }
  for (let i = pts.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pts[i], pts[j]] = [pts[j], pts[i]];
  }
  return {
    X: pts.map(([x, y]) => [x + noise * gaussian(random), y + noise * gaussian(random)]),
    y: pts.map((p) => p[2]),
  };
}

export function microgradSpec() {
  return { ...moons(), nin: 2, nouts: [16, 16, 1], seed: 1337 };
}

// ---------------------------------------------------------------- (d) elementwise chain

/** 200 ops alternating h+a, h*m, tanh(h) on 16 elements; loss = sum(h); gradient w.r.t. x. */
export function chainSpec(length = 200, size = 16) {
  const random = rng(9);
  return {
    ops: Array.from({ length }, (_, i) => ['add', 'mul', 'tanh'][i % 3]),
    x: uniformF32(size, random, -0.25, 0.25),
    a: uniformF32(size, random, -0.01, 0.01),
    m: uniformF32(size, random, 0.99, 1.01),
  };
}

export function checkChainGrad(spec, grad) {
  const ref = Array.from(spec.x, (x, i) => {
    let h = x, d = 1;
    for (const op of spec.ops) {
      if (op === 'add') h += spec.a[i];
      else if (op === 'mul') { h *= spec.m[i]; d *= spec.m[i]; }
      else { h = Math.tanh(h); d *= 1 - h * h; }
    }
    return d;
  });
  if (!grad || grad.length !== ref.length) return { ok: false, detail: `gradient has ${grad?.length} elements` };
  const maxErr = Math.max(...ref.map((r, i) => Math.abs(grad[i] - r) / Math.max(Math.abs(r), 1e-3)));
  return { ok: maxErr <= 1e-3, detail: `max rel err of dx ${maxErr.toExponential(1)} vs float64` };
}

// ---------------------------------------------------------------- (g) char-level GPT

/** The char-GPT of issue 9: 2 layers of pre-LayerNorm attention + GELU MLP, 109,696 parameters. */
export const GPT_CONFIG = { vocab: 86, block: 64, embed: 64, heads: 4, layers: 2, hidden: 256, batch: 16 };
export const GPT_PARAMETERS = 109_696;

/**
 * Initial weights by state-dict name, in PyTorch layouts (Linear weight [out, in]), GPT-2 style:
 * N(0, 0.02) for every Linear and embedding weight, zero biases, LayerNorm 1 / 0; the lm head is
 * tied to `wte.weight`. Data: seeded token ids, inputs idx[:, :-1] and next-token targets idx[:, 1:].
 */
export function gptSpec(config = GPT_CONFIG) {
  const { vocab, block, embed: C, hidden, layers, batch } = config;
  const random = rng(86);
  const weights = [];
  const add = (name, shape, fill) => weights.push({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b) }, fill) });
  const normal = () => 0.02 * gaussian(random);
  const linear = (name, nin, nout) => {
    add(`${name}.weight`, [nout, nin], normal);
    add(`${name}.bias`, [nout], () => 0);
  };
  const layerNorm = (name) => {
    add(`${name}.weight`, [C], () => 1);
    add(`${name}.bias`, [C], () => 0);
  };
  add('wte.weight', [vocab, C], normal);
  add('wpe.weight', [block, C], normal);
  for (let l = 0; l < layers; l++) {
    layerNorm(`h.${l}.ln1`);
    linear(`h.${l}.qkv`, C, 3 * C);
    linear(`h.${l}.proj`, C, C);
    layerNorm(`h.${l}.ln2`);
    linear(`h.${l}.fc`, C, hidden);
    linear(`h.${l}.fc2`, hidden, C);
  }
  layerNorm('lnF');
  const data = rng(8686);
  const idx = Int32Array.from({ length: batch * (block + 1) }, () => Math.floor(data() * vocab));
  const rows = (from) => Int32Array.from({ length: batch * block }, (_, i) => idx[Math.floor(i / block) * (block + 1) + (i % block) + from]);
  return {
    kind: 'gpt', config, weights, inputs: rows(0), targets: rows(1),
    optimizer: { lr: 3e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 }, clipNorm: 1,
  };
}

/** At this initialisation every logit is near 0, so the first loss is near ln(vocab). */
export function checkGptLoss(loss, { config }) {
  const expected = Math.log(config.vocab);
  const ok = Number.isFinite(loss) && Math.abs(loss - expected) <= 0.05;
  return { ok, detail: `first loss ${loss?.toFixed?.(6)} vs ln(${config.vocab}) = ${expected.toFixed(6)} (tol 0.05)` };
}

// ---------------------------------------------------------------- (h) makemore MLP

/**
 * Karpathy's makemore MLP (part 2): C [27,10] embeds 3 characters, h = tanh(emb·W1 + b1) with W1
 * [30,200], logits = h·W2 + b2 with W2 [200,27]; every weight N(0, 1) as in the lecture; SGD.
 * X: Int32Array [batch·3] of character ids (row-major [batch, 3]); labels: the next characters.
 */
export function makemoreSpec(batch = 32) {
  const vocab = 27, block = 3, embed = 10, hidden = 200;
  const random = rng(2147483647);
  const normal = (n) => Float32Array.from({ length: n }, () => gaussian(random));
  const data = rng(27);
  const ids = (n) => Int32Array.from({ length: n }, () => Math.floor(data() * vocab));
  return {
    kind: 'makemore', batch, vocab, block, embed, hidden, classes: vocab, lr: 0.1,
    C: normal(vocab * embed), W1: normal(block * embed * hidden), b1: normal(hidden), W2: normal(hidden * vocab), b2: normal(vocab),
    X: ids(batch * block), labels: ids(batch),
  };
}

export function makemoreLossReference({ batch, block, embed, hidden, vocab, C, W1, b1, W2, b2, X, labels }) {
  const emb = Float64Array.from({ length: batch * block * embed }, (_, i) => C[X[Math.floor(i / embed)] * embed + (i % embed)]);
  const h = linear(emb, batch, block * embed, hidden, W1, b1).map(Math.tanh);
  return crossEntropy(linear(h, batch, hidden, vocab, W2, b2), labels, batch, vocab);
}

// ---------------------------------------------------------------- (i) LSTM

/**
 * One LSTM layer (issue 12): sequence 64, batch 32, input 32, hidden 128, time-major x [T, B, I];
 * a linear head 128 → 1 on every step, mean squared error against targets [T, B, 1], Adam. Weights
 * in PyTorch's layout (W_ih [4H, I], W_hh [4H, H], gates i f g o) drawn from U(−1/√H, 1/√H) as its
 * reset_parameters does.
 */
export function lstmSpec() {
  const T = 64, B = 32, I = 32, H = 128;
  const random = rng(1213), bound = 1 / Math.sqrt(H);
  const u = (n) => uniformF32(n, random, -bound, bound);
  const normal = (n, scale) => Float32Array.from({ length: n }, () => scale * gaussian(random));
  return {
    kind: 'lstm', T, B, I, H, lr: 1e-3,
    W_ih: u(4 * H * I), W_hh: u(4 * H * H), b_ih: u(4 * H), b_hh: u(4 * H), headW: u(H), headB: u(1),
    X: normal(T * B * I, 1), Y: normal(T * B, 0.5),
  };
}

/** The first loss of lstmSpec's step in float64. */
export function lstmLossReference({ T, B, I, H, W_ih, W_hh, b_ih, b_hh, headW, headB, X, Y }) {
  const sig = (v) => 1 / (1 + Math.exp(-v));
  let h = new Float64Array(B * H), c = new Float64Array(B * H), total = 0;
  for (let t = 0; t < T; t++) {
    const hn = new Float64Array(B * H), cn = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      const x = X.subarray((t * B + b) * I, (t * B + b + 1) * I);
      const a = new Float64Array(4 * H);
      for (let g = 0; g < 4 * H; g++) {
        let s = b_ih[g] + b_hh[g];
        for (let i = 0; i < I; i++) s += W_ih[g * I + i] * x[i];
        for (let k = 0; k < H; k++) s += W_hh[g * H + k] * h[b * H + k];
        a[g] = s;
      }
      let y = headB[0];
      for (let j = 0; j < H; j++) {
        const cj = sig(a[H + j]) * c[b * H + j] + sig(a[j]) * Math.tanh(a[2 * H + j]);
        cn[b * H + j] = cj;
        hn[b * H + j] = sig(a[3 * H + j]) * Math.tanh(cj);
        y += headW[j] * hn[b * H + j];
      }
      total += (y - Y[t * B + b]) ** 2;
    }
    h = hn; c = cn;
  }
  return total / (T * B);
}
