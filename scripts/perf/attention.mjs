// Fused attention (F.scaledDotProductAttention, causal) against the same attention composed from
// tapegrad's ops (matmul, scale, add an additive causal mask, softmax, matmul), forward + backward,
// and, where /usr/bin/python3 has torch, PyTorch's composed version on one thread. Medians in µs of
// CPU time (process.cpuUsage, Python's process_time): on a shared machine wall time mostly measures
// the neighbours.
// Run: npm run build && node scripts/perf/attention.mjs [B H T E ...]   (default: the char-GPT's 16 4 64 16)
import { execFileSync } from 'node:child_process';
import * as tg from '../../dist/index.js';

const F = tg.nn.functional;
const args = process.argv.slice(2).map(Number);
const shapes = [];
for (let i = 0; i + 4 <= args.length; i += 4) shapes.push(args.slice(i, i + 4));
if (shapes.length === 0) shapes.push([16, 4, 64, 16], [1, 4, 1024, 64]);

const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
function time(fn, budgetMs = 1500) {
  for (let i = 0; i < 3; i++) fn();
  const ts = [];
  const end = performance.now() + budgetMs;
  while (ts.length < 5 || (performance.now() < end && ts.length < 200)) {
    const t0 = process.cpuUsage();
    fn();
    const d = process.cpuUsage(t0);
    ts.push(d.user + d.system);
  }
  return median(ts);
}

const torchScript = `
import sys, time, math, torch
torch.set_num_threads(1)
B, H, T, E = map(int, sys.argv[1:5])
q, k, v = (torch.randn(B, H, T, E, requires_grad=True) for _ in range(3))
mask = torch.zeros(T, T).masked_fill(torch.ones(T, T, dtype=torch.bool).tril().logical_not(), float('-inf'))
def step():
    s = q @ k.transpose(-2, -1) * (1 / math.sqrt(E)) + mask
    (torch.softmax(s, -1) @ v).sum().backward()
for _ in range(3): step()
ts = []
end = time.perf_counter() + 1.5
while len(ts) < 5 or (time.perf_counter() < end and len(ts) < 200):
    t0 = time.process_time(); step(); ts.append(time.process_time() - t0)
ts.sort(); print(ts[len(ts) // 2] * 1e6)
`;
function torchUs(shape) {
  try { return Number(execFileSync('/usr/bin/python3', ['-c', torchScript, ...shape.map(String)], { encoding: 'utf8' }).trim()); }
  catch { return null; }
}

console.log(`attention forward + backward, causal, build ${tg.build}, Node ${process.version}; median µs of CPU time`);
for (const [B, H, T, E] of shapes) {
  tg.manualSeed(0);
  const q = tg.keep(tg.randn([B, H, T, E], { requiresGrad: true }));
  const k = tg.keep(tg.randn([B, H, T, E], { requiresGrad: true }));
  const v = tg.keep(tg.randn([B, H, T, E], { requiresGrad: true }));
  const mask = tg.keep(tg.tensor(Array.from({ length: T }, (_, i) => Array.from({ length: T }, (_, j) => (j <= i ? 0 : -Infinity)))));
  const zero = () => { q.zeroGrad(); k.zeroGrad(); v.zeroGrad(); };
  const fused = () => tg.tidy(() => { zero(); F.scaledDotProductAttention(q, k, v, { isCausal: true }).sum().backward(); });
  const composed = () => tg.tidy(() => {
    zero();
    const s = tg.matmul(q, k.transpose(-2, -1)).mul(1 / Math.sqrt(E)).add(mask);
    tg.matmul(s.softmax(-1), v).sum().backward();
  });
  const fusedUs = time(fused), composedUs = time(composed), torch = torchUs([B, H, T, E]);
  const row = `  [${B},${H},${T},${E}]  fused ${fusedUs.toFixed(0)}  composed ${composedUs.toFixed(0)} (${(composedUs / fusedUs).toFixed(2)}×)`;
  console.log(torch === null ? `${row}  PyTorch: not installed` : `${row}  PyTorch composed 1 thread ${torch.toFixed(0)} (${(torch / fusedUs).toFixed(2)}×)`);
  for (const t of [q, k, v, mask]) t.dispose();
}
