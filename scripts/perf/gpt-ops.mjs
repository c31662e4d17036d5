// The ops around a char-GPT's matrix products (block 64, embedding 64, 4 heads, batch 16), each
// timed forward + backward (backward seeded with a fixed gradient), median µs of many reps.
// scripts/perf/gpt_ops.py times the same ops and shapes in PyTorch (one thread); run both to get
// each op's ratio:  npm run build && node scripts/perf/gpt-ops.mjs && /usr/bin/python3 scripts/perf/gpt_ops.py
// TAPEGRAD_DIST=/path/to/index.js times another build; an argument filters ops by name;
// --vs /path/to/other/index.js times that build too, alternating rep by rep, and prints the ratio
// (so a noisy machine's drift hits both alike); --forward times the forward alone (no graph kept
// for backward, as under torch.no_grad), so backward's share is the difference.
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const vsAt = args.indexOf('--vs');
const other = vsAt >= 0 ? args.splice(vsAt, 2)[1] : null;
const fwdAt = args.indexOf('--forward');
const forwardOnly = fwdAt >= 0 && args.splice(fwdAt, 1).length > 0;
const filter = args[0];
const dist = process.env.TAPEGRAD_DIST ?? new URL('../../dist/index.js', import.meta.url).pathname;

const B = 16, T = 64, C = 64, H = 4, D = C / H, V = 86;

/** name → [inputs requiring grad, forward producing one tensor] for the build tg. */
function cases(tg) {
  const F = tg.nn.functional;
  const param = (shape, scale = 1) => tg.keep(tg.randn(shape).mul(scale).detach().requiresGrad_(true));
  const causal = (() => { // additive mask [T, T]: 0 on and below the diagonal, −∞ above
    const m = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -Infinity;
    return tg.keep(tg.tensor(m, { shape: [T, T] }));
  })();
  tg.manualSeed(0);
  const act = param([B, T, 4 * C]), pos = tg.keep(tg.rand([B, T, 4 * C]).add(0.1).detach().requiresGrad_(true));
  const att = param([B, H, T, T]), logits = param([B * T, V]);
  const labels = Int32Array.from({ length: B * T }, (_, i) => (i * 7919) % V);
  const x = param([B, T, C]), ln = [param([C]), param([C])];
  const w192 = param([3 * C, C], 0.1), b192 = param([3 * C]), w256 = param([4 * C, C], 0.1), b256 = param([4 * C]);
  const x256 = param([B, T, 4 * C]), w64 = param([C, 4 * C], 0.1), b64 = param([C]);
  const qkv = param([B, T, 3 * C]), heads = param([B, H, T, D]);
  const q = param([B * H, T, D]), k = param([B * H, T, D]), kt = param([B * H, D, T]), p = param([B * H, T, T]);
  const scale = 1 / Math.sqrt(D);
  const split = (t) => [0, 1, 2].map((i) => t.narrow(-1, i * C, C).view([B, T, H, D]).transpose(1, 2));
  return {
    'gelu [16,64,256]': [[act], () => act.gelu()],
    'gelu tanh [16,64,256]': [[act], () => act.gelu({ approximate: 'tanh' })],
    'exp [16,64,256]': [[act], () => act.exp()],
    'log [16,64,256]': [[pos], () => pos.log()],
    'tanh [16,64,256]': [[act], () => act.tanh()],
    'sigmoid [16,64,256]': [[act], () => act.sigmoid()],
    'silu (x·sigmoid x) [16,64,256]': [[act], () => act.mul(act.sigmoid())],
    'F.silu [16,64,256]': [[act], () => act.silu()],
    'relu (the loop without math) [16,64,256]': [[act], () => act.relu()],
    'scale+mask+softmax [16,4,64,64]': [[att], () => att.mul(scale).add(causal).softmax(-1)],
    'scale+mask+logSoftmax [16,4,64,64]': [[att], () => att.mul(scale).add(causal).logSoftmax(-1)],
    'crossEntropy [1024,86]': [[logits], () => F.crossEntropy(logits, labels)],
    'layerNorm [16,64,64]': [[x, ...ln], () => F.layerNorm(x, [C], ln[0], ln[1])],
    'linear 64→192 ×1024': [[x, w192, b192], () => F.linear(x, w192, b192)],
    'linear 64→256 ×1024': [[x, w256, b256], () => F.linear(x, w256, b256)],
    'linear 256→64 ×1024': [[x256, w64, b64], () => F.linear(x256, w64, b64)],
    'head split [16,64,192]→3×[16,4,64,16] (+sum)': [[qkv], () => { const [a, b, c] = split(qkv); return a.add(b).add(c); }],
    'head merge [16,4,64,16]→[16,64,64]': [[heads], () => heads.transpose(1, 2).reshape([B, T, C])],
    'matmul q·kᵀ [64,64,16]×[64,16,64]': [[q, kt], () => q.matmul(kt)],
    'matmul q·k.transpose [64,64,16]': [[q, k], () => q.matmul(k.transpose(-1, -2))],
    'matmul p·v [64,64,64]×[64,64,16]': [[p, k], () => p.matmul(k)],
  };
}

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const builds = [];
for (const path of other ? [dist, other] : [dist]) {
  const tg = await import(pathToFileURL(path).href);
  builds.push({ tg, cases: cases(tg) });
}
console.log(`tapegrad ${dist}${other ? ` vs ${other}` : ''}  (µs, ${forwardOnly ? 'forward only' : 'forward + backward'}, median)`);
for (const name of Object.keys(builds[0].cases)) {
  if (filter && !name.includes(filter)) continue;
  const steps = builds.map(({ tg, cases: all }) => {
    const [inputs, f] = all[name];
    const seed = tg.keep(tg.noGrad(() => tg.randn(f().shape)));
    if (forwardOnly) return () => tg.tidy(() => { tg.noGrad(f); });
    return () => tg.tidy(() => { for (const t of inputs) t.zeroGrad(); f().backward(seed); });
  });
  for (let i = 0; i < 20; i++) steps.forEach((step) => step());
  const ts = steps.map(() => []);
  const until = performance.now() + 1500 * steps.length;
  while (ts[0].length < 30 || (performance.now() < until && ts[0].length < 2000)) {
    steps.forEach((step, k) => { const t0 = performance.now(); step(); ts[k].push(performance.now() - t0); });
  }
  const [a, b] = ts.map((t) => median(t) * 1000);
  console.log(`${name.padEnd(48)} ${a.toFixed(0).padStart(7)}${b === undefined ? '' : `${b.toFixed(0).padStart(8)}   ×${(b / a).toFixed(2)}`}`);
}
