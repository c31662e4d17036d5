// Differential random-graph fuzzing: replays every graph of test/fixtures/fuzz.json (made by
// scripts/gen_fuzz_fixtures.py from PyTorch 1.13: a sweep of zero extents in every position of
// each op family, then 2,500 seeded random graphs) in tapegrad and compares the output and every
// leaf's gradient, inside a ring of sentinel tensors. NaN and ±Infinity must sit exactly where
// PyTorch has them; finite values compare with rtol 1e-4, atol 1e-5 (shapes are small, so no
// reduction is long enough to need more).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

type Tensor = ReturnType<typeof tg.tensor>;
type Num = number | 'nan' | 'inf' | '-inf';
interface Leaf { s: number[]; d?: Num[]; i?: number[]; g?: number }
interface OpEntry { o: string; x: (number | { n: Num })[]; a?: unknown[]; k?: Record<string, unknown> }
type Entry = Leaf | OpEntry;
interface Graph {
  e: Entry[];
  out: { s: number[]; d: Num[] };
  up?: Num[] | null;
  gr?: Record<string, Num[] | null>;
  nb?: number;
  ex?: string;
}

// FUZZ_FIXTURE=path replays a longer hunt made with gen_fuzz_fixtures.py --graphs N --first K --out path
const fixturePath = process.env.FUZZ_FIXTURE ?? new URL('./fixtures/fuzz.json', import.meta.url);
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as { count: number; graphs: Graph[] };

const decode = (v: Num): number => (v === 'nan' ? NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v);

/**
 * Known, deliberate differences from PyTorch 1.13, marked by the generator in the graph's "ex"
 * (each skips only the gradients; the forward values are still compared):
 *   amax-nonfinite  max/min over a list of dims (PyTorch's amax/amin) of a slice holding NaN, or
 *             with a non-finite gradient flowing in: amax's backward is (g / count) · mask, so PyTorch
 *             gives NaN across a slice whose max is NaN (count 0) and ∞ · 0 = NaN off the maximum;
 *             tapegrad routes g to the extreme (NaN) elements only, as torch.max() and max(dim) do.
 *   loss-inf-grad  an infinite gradient flowing into crossEntropy / nllLoss: PyTorch's composed
 *             log_softmax + nll backward gives ∞ − ∞ = NaN at the label; tapegrad's fused
 *             softmax − onehot gives −∞ there (∞ elsewhere, as PyTorch).
 *   conv-pad-nonfinite  a NaN or infinite gradient flowing into a padded conv2d: tapegrad's im2col
 *             weight gradient multiplies it by the zero padding (0 · ∞ = NaN, as IEEE and the math
 *             of a zero-padded input say); PyTorch's oneDNN kernel skips padded positions.
 */
const EXCLUSIONS = new Set(['amax-nonfinite', 'loss-inf-grad', 'conv-pad-nonfinite']);

const isOp = (e: Entry): e is OpEntry => 'o' in e;

function call(e: OpEntry, vals: (Tensor | Leaf)[]): Tensor {
  const xs = e.x.map((x) => (typeof x === 'number' ? vals[x] : decode(x.n))) as any[];
  const a = e.a ?? [];
  const k = e.k;
  const F = tg.nn.functional;
  switch (e.o) {
    case 'add': case 'sub': case 'mul': case 'div': case 'pow': case 'maximum': case 'minimum':
      return (tg as any)[e.o](xs[0], xs[1]);
    case 'leakyRelu': return tg.leakyRelu(xs[0], a[0] as number);
    case 'gelu': return tg.gelu(xs[0], k as any);
    case 'neg': case 'abs': case 'exp': case 'log': case 'sqrt': case 'tanh': case 'sigmoid': case 'relu':
      return (tg as any)[e.o](xs[0]);
    case 'sum': case 'mean': case 'max': case 'min': case 'logsumexp': case 'argmax': case 'argmin':
      return (xs[0] as any)[e.o](...a);
    case 'matmul': return tg.matmul(xs[0], xs[1]);
    case 'softmax': return tg.softmax(xs[0], a[0] as number);
    case 'logSoftmax': return tg.logSoftmax(xs[0], a[0] as number);
    case 'reshape': case 'transpose': case 'permute': case 'squeeze': case 'unsqueeze': case 'flatten':
    case 'expand': case 'narrow':
      return (xs[0] as any)[e.o](...a);
    case 'cat': return tg.cat(xs, a[0] as number);
    case 'stack': return tg.stack(xs, a[0] as number);
    case 'indexSelect': return tg.indexSelect(xs[0], a[0] as number, (xs[1] as Leaf).i!);
    case 'gather': return tg.gather(xs[0], a[0] as number, tg.tensor((xs[1] as Leaf).i!, { shape: (xs[1] as Leaf).s }));
    case 'crossEntropy': return F.crossEntropy(xs[0], (xs[1] as Leaf).i!, k as any);
    case 'nllLoss': return F.nllLoss(xs[0], (xs[1] as Leaf).i!, k as any);
    case 'mseLoss': return F.mseLoss(xs[0], xs[1], k as any);
    case 'binaryCrossEntropyWithLogits': return F.binaryCrossEntropyWithLogits(xs[0], xs[1], k as any);
    case 'maxPool2d': return F.maxPool2d(xs[0], a[0] as number, k as any);
    case 'avgPool2d': return F.avgPool2d(xs[0], a[0] as number, k as any);
    case 'conv2d': return F.conv2d(xs[0], xs[1], xs[2] ?? null, k as any);
    default: throw new Error(`fuzz.json: unknown op ${e.o}`);
  }
}

/** A short spelling of the graph for failure messages: x0[2,3] → add(#0, #1) → sum(#2, 1). */
function describeGraph(g: Graph): string {
  return g.e.map((e, i) => (isOp(e)
    ? `#${i}=${e.o}(${e.x.map((x) => (typeof x === 'number' ? `#${x}` : x.n)).join(', ')}${e.a?.length ? `; ${JSON.stringify(e.a)}` : ''}${e.k ? ` ${JSON.stringify(e.k)}` : ''})`
    : `#${i}=${e.i ? 'idx' : 'leaf'}[${e.s.join(',')}]`)).join('  ');
}

/**
 * Compares actual with expected: the same NaN and infinity positions, finite values within
 * rtol·|e| + atol. Returns a message or null.
 */
function compare(actual: Float32Array, expected: Num[], what: string, rtol = 1e-4, atol = 1e-5): string | null {
  if (actual.length !== expected.length) return `${what}: ${actual.length} values, expected ${expected.length}`;
  const exp = expected.map(decode);
  for (let i = 0; i < exp.length; i++) {
    const a = actual[i], e = exp[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) return `${what}[${i}]: ${a}, expected ${e}`;
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) return `${what}[${i}]: ${a}, expected ${e}`;
      continue;
    }
    if (!(Math.abs(a - e) <= rtol * Math.abs(e) + atol)) return `${what}[${i}]: ${a}, expected ${e} (|diff| ${Math.abs(a - e)})`;
  }
  return null;
}

/**
 * Replays one graph; returns the mismatches (empty when it agrees with PyTorch). A ring of sentinel
 * tensors with freed holes between them (where small buffers, such as an empty result's, land next)
 * must read the same afterwards: a kernel writing past its buffer fails the graph even when its own
 * values happen to agree.
 */
function replay(g: Graph): string[] {
  return tg.tidy(() => {
    const holes: Tensor[] = [], sentinels: Tensor[] = [];
    for (let i = 0; i < 8; i++) { holes.push(tg.zeros([4])); sentinels.push(tg.full([4], 7 + i)); }
    for (const h of holes) h.dispose();
    const problems = replayGraph(g);
    sentinels.forEach((s, i) => {
      if (s.data().some((v) => v !== 7 + i)) problems.push(`sentinel ${i} changed: ${Array.from(s.data())}`);
    });
    return problems;
  });
}

function replayGraph(g: Graph): string[] {
  const vals: (Tensor | Leaf)[] = [];
  const leaves = new Map<number, Tensor>();
  for (const [i, e] of g.e.entries()) {
    if (isOp(e)) { vals.push(call(e, vals)); continue; }
    if (e.i) { vals.push(e); continue; }
    const t = tg.tensor(e.d!.map(decode), { shape: e.s, requiresGrad: e.g === 1 });
    if (e.g === 1) leaves.set(i, t);
    vals.push(t);
  }
  const out = vals[vals.length - 1] as Tensor;
  const problems: string[] = [];
  if (JSON.stringify(out.shape) !== JSON.stringify(g.out.s)) return [`out shape ${JSON.stringify(out.shape)}, expected ${JSON.stringify(g.out.s)}`];
  const bad = compare(out.data(), g.out.d, 'out');
  if (bad) problems.push(bad);
  if (g.nb || (g.ex && EXCLUSIONS.has(g.ex))) return problems;
  if (g.up === null || g.up === undefined) out.backward();
  else out.backward(tg.tensor(g.up.map(decode), { shape: g.out.s }));
  for (const [k, expected] of Object.entries(g.gr ?? {})) {
    const grad = leaves.get(Number(k))!.grad;
    if (expected === null) {
      // PyTorch never reached this leaf; tapegrad may have made a zero gradient for it
      if (grad && grad.data().some((v) => v !== 0)) problems.push(`grad #${k}: nonzero where PyTorch has none`);
      continue;
    }
    if (!grad) { if (expected.length && expected.some((v) => v !== 0)) problems.push(`grad #${k}: missing`); continue; }
    const badGrad = compare(grad.data(), expected, `grad #${k}`);
    if (badGrad) problems.push(badGrad);
  }
  return problems;
}

describe('random graphs against PyTorch 1.13 (test/fixtures/fuzz.json)', () => {
  it(`replays ${fixture.count} graphs`, () => {
    expect(fixture.graphs.length).toBe(fixture.count);
    expect(fixture.count).toBeGreaterThanOrEqual(2500);
    const failures: string[] = [];
    let excludedGrads = 0;
    for (const [i, g] of fixture.graphs.entries()) {
      if (g.ex) excludedGrads++;
      let problems: string[];
      try {
        problems = replay(g);
      } catch (err) {
        problems = [`threw ${(err as Error).message}`];
      }
      if (problems.length) failures.push(`graph ${i}: ${problems.join('; ')}\n    ${describeGraph(g)}`);
    }
    expect(failures.length, failures.slice(0, 30).join('\n')).toBe(0);
    expect(excludedGrads).toBeLessThan(fixture.count / 50); // exclusions stay rare
  });
});
