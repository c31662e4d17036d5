// A 256×256 matmul forward + backward (loss = sum(A·B)), tapegrad against a plain JavaScript loop
// computing the same three products (C = A·B, dA = G·Bᵀ, dB = Aᵀ·G). Medians of repeated runs.
// Run: npm run build && node scripts/perf/matmul256.mjs
import * as tg from '../../dist/index.js';

const N = 256;
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
function time(fn, reps) {
  for (let i = 0; i < 3; i++) fn();
  const ts = [];
  for (let i = 0; i < reps; i++) { const t0 = performance.now(); fn(); ts.push(performance.now() - t0); }
  return median(ts);
}

tg.manualSeed(0);
const A = tg.keep(tg.randn([N, N], { requiresGrad: true })), B = tg.keep(tg.randn([N, N], { requiresGrad: true }));
const tapegradMs = time(() => tg.tidy(() => { A.zeroGrad(); B.zeroGrad(); A.matmul(B).sum().backward(); }), 30);

const a = A.data(), b = B.data(), g = new Float32Array(N * N).fill(1);
const c = new Float32Array(N * N), da = new Float32Array(N * N), db = new Float32Array(N * N);
function plain() {
  c.fill(0); da.fill(0); db.fill(0);
  for (let i = 0; i < N; i++) for (let k = 0; k < N; k++) { const x = a[i * N + k]; for (let j = 0; j < N; j++) c[i * N + j] += x * b[k * N + j]; }
  for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) { let s = 0; for (let k = 0; k < N; k++) s += g[i * N + k] * b[j * N + k]; da[i * N + j] = s; }
  for (let k = 0; k < N; k++) for (let i = 0; i < N; i++) { const x = a[k * N + i]; for (let j = 0; j < N; j++) db[i * N + j] += x * g[k * N + j]; }
}
const plainMs = time(plain, 5);

// Both compute the same gradient: dA = G·Bᵀ.
const ga = A.grad.data();
let worst = 0;
for (let i = 0; i < N * N; i++) worst = Math.max(worst, Math.abs(ga[i] - da[i]) / (1 + Math.abs(da[i])));
console.log(`256×256 matmul forward+backward (3 products, ${(3 * 2 * N ** 3 / 1e6).toFixed(0)} MFLOP), build ${tg.build}, Node ${process.version}`);
console.log(`  tapegrad  ${tapegradMs.toFixed(2)} ms  (${(3 * 2 * N ** 3 / tapegradMs / 1e6).toFixed(1)} GFLOP/s)`);
console.log(`  plain JS  ${plainMs.toFixed(2)} ms  (${(3 * 2 * N ** 3 / plainMs / 1e6).toFixed(1)} GFLOP/s)`);
console.log(`  speedup   ${(plainMs / tapegradMs).toFixed(1)}×   (max relative difference of dA: ${worst.toExponential(1)})`);
