// Gradients as tensors on the tape (createGraph): the core's first-order walk writes gradient
// buffers, which are not differentiable; here the walk runs in JavaScript over the same records,
// and each op's rule computes its inputs' gradients with tapegrad ops, which are recorded like any
// others, so the gradients can be differentiated again (second, third derivatives; tg.func).
//
// One rule per opcode in RULES, written as the math reads: g is the output's gradient, A/B the
// inputs, Y the output. An op without a rule yet throws naming it.
import { core, heapF32, heapI32, recordsOf, dimsOf, flagsOf, genOf, isLeaf, outOfMemory, REQUIRES_GRAD } from './core';
import { tidy, keep } from './memory';
import { Op, OP_NAMES } from './opcodes';
import { Tensor, staleGraph } from './tensor';
import { add, sub, mul, div, neg, exp, log, pow, sigmoid, sin, cos, square, tanh, abs, gelu } from './ops/elementwise';
import { gt, lt, ge, le, eq, where, tril, triu } from './ops/mask';
import { matmul } from './ops/matmul';
import { sum, mean, cumsum } from './ops/reduce';
import { reshape, expand, permute, transpose, unsqueeze, cat, narrow, stack, chunk } from './ops/shape';
import { oneHot, conv2d, convTranspose2d } from './nnfunctional';
import { customOpGraphGrads } from './custom';
import { softmax } from './ops/softmax';
import { ones, zeros, full, tensor } from './ops/creation';
import { sameShape, numel, bitsF32 } from './shape';

/** A tape record as the rules read it (assembly/tape.ts's layout). */
interface Rec {
  op: number; out: number; a: number; b: number; c: number;
  i: number[]; // i0..i5
  stamp: number; // the sum of out's, a's, b's and c's versions when the op ran
  f0: number;
}
/** Where a node's version starts in its flags (assembly/nodes.ts). */
const VERSION_SHIFT = 11;
const version = (id: number) => (id < 0 ? 0 : flagsOf(id) >>> VERSION_SHIFT);

const DEAD = -1;

function readRecord(index: number): Rec {
  const p = core.recordPtr(index) >>> 2, h = heapI32();
  return { op: h[p], out: h[p + 1], a: h[p + 2], b: h[p + 3], c: h[p + 4], i: [h[p + 5], h[p + 6], h[p + 7], h[p + 8], h[p + 9], h[p + 10]], stamp: h[p + 11], f0: heapF32()[p + 12] };
}

/**
 * A handle on node `id` for the rules to read: the graph's records hold the node (its own handle
 * may be gone). Never disposed: releasing it would release the node's handle, which is not ours.
 */
function nodeTensor(id: number): Tensor {
  return new Tensor(id, dimsOf(id));
}

/** g summed over the dims it was broadcast along, to `dims`. */
function sumTo(g: Tensor, dims: readonly number[]): Tensor {
  if (sameShape(g.dims, dims)) return g;
  const lead = g.dims.length - dims.length, axes: number[] = [];
  g.dims.forEach((n, d) => { if (d < lead || (dims[d - lead] === 1 && n !== 1)) axes.push(d); });
  return reshape(axes.length ? sum(g, axes, true) : g, [...dims]);
}

type Grads = [number, Tensor][];
type Rule = (r: Rec, g: Tensor, A: () => Tensor, B: () => Tensor, Y: () => Tensor) => Grads;

/** A binary op's gradients: to both tensors (broadcast undone), or to a alone when the other is a number (f0; i0 = 1 when it is the left operand). */
const binary = (both: (g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor, Tensor], left: (g: Tensor, a: Tensor, c: number, y: Tensor) => Tensor,
  right: (g: Tensor, a: Tensor, c: number, y: Tensor) => Tensor): Rule => (r, g, A, B, Y) => {
  if (r.b < 0) return [[r.a, (r.i[0] ? left : right)(g, A(), r.f0, Y())]];
  const [ga, gb] = both(g, A(), B(), Y());
  return [[r.a, sumTo(ga, A().dims)], [r.b, sumTo(gb, B().dims)]];
};
const unary = (f: (g: Tensor, a: Tensor, y: Tensor, r: Rec) => Tensor): Rule => (r, g, A, _B, Y) => [[r.a, f(g, A(), Y(), r)]];
/** [outer, R, inner], the view of a reduction or softmax record (i0, i1, i2); `one` for a reduced [outer, 1, inner]. */
const rows = (t: Tensor, r: Rec, one = false) => reshape(t, [r.i[0], one ? 1 : r.i[1], r.i[2]]);
/** Where the max (or min) along a reduction's axis is: 1 there, split evenly among ties (i3) or all to the first. */
function extremes(r: Rec, a: Tensor, y: Tensor): Tensor {
  const at = eq(rows(a, r), rows(y, r, true));
  return r.i[3] ? div(at, sum(at, 1, true)) : mul(at, eq(cumsum(at, 1), 1));
}
/** The one-hot rows of labels node c over C classes: [N, C], constants. */
const labelRows = (c: number, C: number) => oneHot(nodeTensor(c), C);
/** g scaled for a loss's reduction (i0: 0 none, 1 mean, 2 sum) over n terms. */
const reduced = (g: Tensor, code: number, n: number) => (code === 1 ? div(g, n) : g);

const RULES: Partial<Record<Op, Rule>> = {
  [Op.ADD]: binary((g) => [g, g], (g) => g, (g) => g),
  [Op.SUB]: binary((g) => [g, neg(g)], (g) => neg(g), (g) => g),
  [Op.MUL]: binary((g, a, b) => [mul(g, b), mul(g, a)], (g, _a, c) => mul(g, c), (g, _a, c) => mul(g, c)),
  // d(a/b) = da/b − y·db/b;  c/a: −g·y/a
  [Op.DIV]: binary((g, _a, b, y) => [div(g, b), neg(div(mul(g, y), b))], (g, a, _c, y) => neg(div(mul(g, y), a)), (g, _a, c) => div(g, c)),
  // a^b: b·a^(b−1) and y·ln a;  c^a: y·ln c
  [Op.POW]: binary((g, a, b, y) => [mul(g, mul(b, pow(a, sub(b, 1)))), mul(g, mul(y, log(a)))],
    (g, _a, c, y) => mul(g, mul(y, Math.log(c))), (g, a, c) => mul(g, mul(pow(a, c - 1), c))),
  [Op.NEG]: unary((g) => neg(g)),
  [Op.EXP]: unary((g, _a, y) => mul(g, y)),
  [Op.LOG]: unary((g, a) => div(g, a)),
  [Op.SQRT]: unary((g, _a, y) => div(g, mul(y, 2))),
  [Op.TANH]: unary((g, _a, y) => mul(g, sub(1, square(y)))),
  [Op.SIGMOID]: unary((g, _a, y) => mul(g, mul(y, sub(1, y)))),
  [Op.RELU]: unary((g, a) => mul(g, gt(a, 0))),
  [Op.LEAKY_RELU]: unary((g, a, _y, r) => mul(g, add(mul(gt(a, 0), 1 - r.f0), r.f0))),
  [Op.ABS]: unary((g, a) => mul(g, sub(gt(a, 0), lt(a, 0)))),
  [Op.SIN]: unary((g, a) => mul(g, cos(a))),
  [Op.COS]: unary((g, a) => neg(mul(g, sin(a)))),
  [Op.SQUARE]: unary((g, a) => mul(g, mul(a, 2))),
  [Op.RSQRT]: unary((g, _a, y) => mul(g, mul(pow(y, 3), -0.5))),
  [Op.SILU]: unary((g, a) => { const s = sigmoid(a); return mul(g, add(s, mul(a, mul(s, sub(1, s))))); }),
  // PyTorch splits ties: half of g to each side
  [Op.MAXIMUM]: binary((g, a, b) => [mul(g, add(gt(a, b), mul(eq(a, b), 0.5))), mul(g, add(lt(a, b), mul(eq(a, b), 0.5)))],
    (g, a, c) => mul(g, add(gt(a, c), mul(eq(a, c), 0.5))), (g, a, c) => mul(g, add(gt(a, c), mul(eq(a, c), 0.5)))),
  [Op.MINIMUM]: binary((g, a, b) => [mul(g, add(lt(a, b), mul(eq(a, b), 0.5))), mul(g, add(gt(a, b), mul(eq(a, b), 0.5)))],
    (g, a, c) => mul(g, add(lt(a, c), mul(eq(a, c), 0.5))), (g, a, c) => mul(g, add(lt(a, c), mul(eq(a, c), 0.5)))),
  // tanh approximation: ½(1 + t) + ½x(1 − t²)·k(1 + 3·0.044715x²), t = tanh(k(x + 0.044715x³))
  [Op.GELU_TANH]: unary((g, a) => {
    const k = Math.sqrt(2 / Math.PI), t = tanh(mul(add(a, mul(pow(a, 3), 0.044715)), k));
    return mul(g, add(mul(add(t, 1), 0.5), mul(mul(mul(a, 0.5), sub(1, square(t))), mul(add(mul(square(a), 3 * 0.044715), 1), k))));
  }),
  // clamp passes g where min ≤ a ≤ max (f0 = min, i0 = max's bits)
  [Op.CLAMP]: unary((g, a, _y, r) => mul(g, mul(ge(a, r.f0), le(a, bitsF32(r.i[0]))))),
  // softplus: σ(βa), 1 above the threshold (f0 = β, i0 = threshold's bits)
  [Op.SOFTPLUS]: unary((g, a, _y, r) => { const z = mul(a, r.f0); return mul(g, where(gt(z, bitsF32(r.i[0])), 1, sigmoid(z))); }),
  // where / maskedFill: a = condition, b = where true, c = where false (a number when -1)
  [Op.WHERE]: (r, g, _A, B) => whereRule(r, g, B),
  [Op.MASKED_FILL]: (r, g, _A, B) => whereRule(r, g, B),
  [Op.TRIL]: (r, g) => [[r.a, tril(g, r.i[0])]],
  [Op.TRIU]: (r, g) => [[r.a, triu(g, r.i[0])]],
  [Op.COMPARE]: () => [], // never recorded: a constant
  [Op.ONE_HOT]: () => [], // indices have no gradient
  [Op.LOGSUMEXP]: (r, g, A, _B, Y) => [[r.a, reshape(mul(rows(g, r, true), exp(sub(rows(A(), r), rows(Y(), r, true)))), A().shape)]],
  [Op.MAX]: (r, g, A, _B, Y) => [[r.a, reshape(mul(rows(g, r, true), extremes(r, A(), Y())), A().shape)]],
  [Op.MIN]: (r, g, A, _B, Y) => [[r.a, reshape(mul(rows(g, r, true), extremes(r, A(), Y())), A().shape)]],
  // var: 2(a − ā)/(R − correction);  std: (a − ā)/((R − correction)·y)
  [Op.VAR]: (r, g, A) => { const a = rows(A(), r); return [[r.a, reshape(mul(rows(g, r, true), div(mul(sub(a, mean(a, 1, true)), 2), r.i[1] - r.f0)), A().shape)]]; },
  [Op.STD]: (r, g, A, _B, Y) => {
    const a = rows(A(), r);
    return [[r.a, reshape(mul(rows(g, r, true), div(sub(a, mean(a, 1, true)), mul(rows(Y(), r, true), r.i[1] - r.f0))), A().shape)]];
  },
  // the sum from each position to the end: Σ g − cumsum g + g
  [Op.CUMSUM]: (r, g, A) => { const g3 = rows(g, r); return [[r.a, reshape(add(sub(sum(g3, 1, true), cumsum(g3, 1)), g3), A().shape)]]; },
  // out[o, j] = a[o, i3 + j] (j < i2, rows of i1 elements): g back in place, zeros around
  [Op.NARROW]: (r, g, A) => {
    const [o, row, len, start] = r.i, parts = [zeros([o, start]), reshape(g, [o, len]), zeros([o, row - start - len])].filter((t) => t.size > 0 || t.dims[1] === len);
    return [[r.a, reshape(parts.length === 1 ? parts[0] : cat(parts, 1), A().shape)]];
  },
  // out[o, i3 + j] = a[o, j] (j < i2, out rows of i1)
  [Op.CAT_PART]: (r, g, A) => [[r.a, reshape(narrow(reshape(g, [r.i[0], r.i[1]]), 1, r.i[3], r.i[2]), A().shape)]],
  // out[o, t, j] = a[o, c[t], j]: g summed back by a one-hot matrix of c, [i1, i3]·[o, i3, i2]
  [Op.INDEX_SELECT]: (r, g, A) => [[r.a, reshape(matmul(transpose(labelRows(r.c, r.i[1]), 0, 1), reshape(g, [r.i[0], r.i[3], r.i[2]])), A().shape)]],
  // values at the positions in c along the axis: g back there through a one-hot of c
  [Op.SORT]: (r, g, A) => [[r.a, sortedBack(r, g, A())]],
  [Op.TOPK]: (r, g, A) => [[r.a, sortedBack(r, g, A())]],
  // softmax − the target distribution ((1 − ε)·one-hot + ε/C), i0 reduction, i1 N, i2 C, f0 ε
  [Op.CROSS_ENTROPY]: (r, g, A) => {
    const [code, N, C] = r.i, target = add(mul(labelRows(r.c, C), 1 - r.f0), r.f0 / C);
    return [[r.a, mul(reduced(code === 0 ? unsqueeze(g, 1) : g, code, N), sub(softmax(A(), 1), target))]];
  },
  [Op.NLL_LOSS]: (r, g, A) => { const [code, N, C] = r.i; return [[r.a, neg(mul(reduced(code === 0 ? unsqueeze(g, 1) : g, code, N), labelRows(r.c, C)))]]; },
  // σ(a) − t for the logits, −a for the targets
  [Op.BCE_WITH_LOGITS]: (r, g, A, B) => { const h = reduced(g, r.i[0], r.i[1]); return [[r.a, mul(h, sub(sigmoid(A()), B()))], [r.b, neg(mul(h, A()))]]; },
  // x̂ = (x − μ)·ρ, ρ = 1/√(var + ε) over the last D: dx = ρ(gw − mean gw − x̂·mean(gw·x̂)), gw = g·w
  [Op.LAYER_NORM]: (r, g, A) => {
    const [n, D] = r.i, x = reshape(A(), [n, D]), g2 = reshape(g, [n, D]);
    const mu = mean(x, 1, true), xc = sub(x, mu), rho = pow(add(mean(square(xc), 1, true), r.f0), -0.5), xhat = mul(xc, rho);
    const gw = r.b >= 0 ? mul(g2, nodeTensor(r.b)) : g2;
    const dx = mul(rho, sub(sub(gw, mean(gw, 1, true)), mul(xhat, mean(mul(gw, xhat), 1, true))));
    const out: Grads = [[r.a, reshape(dx, A().shape)]];
    if (r.b >= 0) out.push([r.b, sum(mul(g2, xhat), 0)]);
    if (r.c >= 0) out.push([r.c, sum(g2, 0)]);
    return out;
  },
  // Φ(x) + x·φ(x), with Φ(x) = gelu(x)/x away from 0 and its Taylor series near it (no division by 0)
  [Op.GELU]: unary((g, a) => {
    const near = lt(abs(a), 0.2), safe = where(near, 1, a), a2 = square(a);
    const series = add(mul(sub(add(a, mul(pow(a, 5), 1 / 40)), add(mul(pow(a, 3), 1 / 6), mul(pow(a, 7), 1 / 336))), 1 / Math.sqrt(2 * Math.PI)), 0.5);
    const cdf = where(near, series, div(gelu(a), safe));
    return mul(g, add(cdf, mul(a, mul(exp(mul(a2, -0.5)), 1 / Math.sqrt(2 * Math.PI)))));
  }),
  // out[p] = a[p with dim i0 read from c[p]]: g summed back by a one-hot of c along that dim
  [Op.GATHER]: (r, g, A) => {
    const a = A(), d = r.i[0], c = nodeTensor(r.c), last = g.dims.length - 1;
    if (c.dims.some((n, k) => k !== d && n !== a.dims[k])) throw new Error('grad: createGraph has no rule yet for a gather whose index is smaller than its input off the gathered dim');
    const hot = oneHot(transpose(c, d, last), a.dims[d]); // [..., K, A_d]
    const back = sum(mul(hot, unsqueeze(transpose(g, d, last), -1)), -2); // [..., A_d]
    return [[r.a, transpose(back, d, last)]];
  },
  // dx: the transposed convolution of g by w; dw: per group, x and g correlated (their batch dims
  // taken as channels, stride and dilation swapped), cropped to the kernel; db: Σ g
  [Op.CONV2D]: (r, g, A, B) => convRule(r, g, A(), B(), false),
  [Op.CONV_TRANSPOSE2D]: (r, g, A, B) => convRule(r, g, A(), B(), true),
  // (padding counts as zeros) each input position gets g/(kh·kw) from every window it is in
  [Op.AVG_POOL2D]: (r, g, A) => {
    const [kh, kw, sh, sw, ph, pw] = r.i, x = A(), C = x.dims[1];
    const w = full([C, 1, kh, kw], 1 / (kh * kw));
    return [[r.a, convTranspose2d(g, w, null, { stride: [sh, sw], padding: [ph, pw], groups: C, outputPadding: outputPadding(x.dims, g.dims, [kh, kw], [sh, sw], [ph, pw], [1, 1]) })]];
  },
  // g goes to the first max of each window (row-major, as PyTorch): per kernel offset, the window
  // elements there (a one-hot depthwise convolution, padding never winning) that equal the max and
  // were not taken by an earlier offset, and g sent back through the same convolution transposed
  [Op.MAX_POOL2D]: (r, g, A, _B, Y) => {
    const [kh, kw, sh, sw, ph, pw] = r.i, x = A(), y = Y(), C = x.dims[1];
    const geometry = { stride: [sh, sw] as [number, number], padding: [ph, pw] as [number, number], groups: C };
    const back = { ...geometry, outputPadding: outputPadding(x.dims, y.dims, [kh, kw], [sh, sw], [ph, pw], [1, 1]) };
    let taken: Tensor | null = null, dx: Tensor | null = null;
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const pick = oneHotKernel(C, kh, kw, a * kw + b);
        const at = conv2d(x, pick, null, geometry), real = conv2d(ones([1, C, x.dims[2], x.dims[3]]), pick, null, geometry);
        let hit = mul(eq(at, y), real); // a padded position reads 0 and must not count
        if (taken) hit = mul(hit, sub(1, taken));
        taken = taken ? add(taken, hit) : hit;
        const part = convTranspose2d(mul(g, hit), pick, null, back);
        dx = dx ? add(dx, part) : part;
      }
    }
    return [[r.a, dx!]];
  },
  // fused attention, recomputed through its composite (softmax(q·kᵀ·s + mask)·v) and that walked
  [Op.SCALED_DOT_PRODUCT_ATTENTION]: (r, g, A, B) => {
    if (r.i[4] !== 0) return []; // the hold record: the main one covers everything
    if (r.i[3] !== 0) throw new Error('grad: createGraph has no rule for scaledDotProductAttention with dropout (its mask is not kept)');
    const q = A(), k = B(), v = nodeTensor(r.c), mask = r.i[0] >= 0 ? nodeTensor(r.i[0]) : null;
    const inputs = [q, k, v, ...(mask ? [mask] : [])];
    const L = q.dims[q.dims.length - 2], S = k.dims[k.dims.length - 2];
    let s2 = mul(matmul(q, transpose(k, -1, -2)), r.f0);
    if (mask) s2 = add(s2, mask);
    if (r.i[2]) s2 = add(s2, triu(full([L, S], -Infinity), 1));
    const o = matmul(softmax(s2, -1), v);
    return pairs(inputs.map((t) => t.id), gradGraph(o, inputs, g, 'grad'));
  },
  // a custom op's backward, run recorded: differentiable again where its ops are
  [Op.CUSTOM]: (r, g) => (r.i[1] !== 0 ? [] : customOpGraphGrads(r.out, g)),
  [Op.LSTM]: (r, g, A, B) => recurrentRule(r, g, A, B, true),
  [Op.GRU]: (r, g, A, B) => recurrentRule(r, g, A, B, false),
  [Op.SUM]: (r, g, A) => [[r.a, reshape(expand(reshape(g, [r.i[0], 1, r.i[2]]), [r.i[0], r.i[1], r.i[2]]), A().shape)]],
  [Op.MEAN]: (r, g, A) => [[r.a, reshape(expand(reshape(div(g, r.i[1]), [r.i[0], 1, r.i[2]]), [r.i[0], r.i[1], r.i[2]]), A().shape)]],
  // y·(g − Σ g·y) along the axis;  log-softmax: g − softmax·Σ g
  [Op.SOFTMAX]: (r, g, A, _B, Y) => { const y = rows(Y(), r), gr = rows(g, r); return [[r.a, reshape(mul(y, sub(gr, sum(mul(gr, y), 1, true))), A().shape)]]; },
  [Op.LOG_SOFTMAX]: (r, g, A, _B, Y) => { const gr = rows(g, r); return [[r.a, reshape(sub(gr, mul(exp(rows(Y(), r)), sum(gr, 1, true))), A().shape)]]; },
  [Op.RESHAPE]: (r, g, A) => [[r.a, reshape(g, A().shape)]],
  [Op.EXPAND]: (r, g, A) => [[r.a, sumTo(g, A().dims)]],
  [Op.PERMUTE]: (r, g) => {
    const perm = Array.from({ length: g.dims.length }, (_, d) => (r.i[0] >>> (4 * d)) & 15), inverse = perm.map((_, d) => perm.indexOf(d));
    return [[r.a, permute(g, inverse)]];
  },
  // a·b (+ bias), b stored transposed when i5; a 1-D a is a row, a 1-D b a column
  [Op.MATMUL]: (r, g, A, B) => {
    const a = A(), b = B(), a1 = a.dims.length === 1, b1 = b.dims.length === 1;
    const bm = r.i[5] ? transpose(b, -1, -2) : b;
    const a2 = a1 ? unsqueeze(a, 0) : a, b2 = b1 ? unsqueeze(bm, -1) : bm;
    let g2 = a1 ? unsqueeze(g, -2) : g;
    if (b1) g2 = unsqueeze(g2, -1);
    const ga = reshape(sumTo(matmul(g2, transpose(b2, -1, -2)), a2.dims), a.shape);
    let gb = sumTo(matmul(transpose(a2, -1, -2), g2), b2.dims);
    gb = b1 ? reshape(gb, b.shape) : r.i[5] ? transpose(gb, -1, -2) : gb;
    const out: Grads = [[r.a, ga], [r.b, gb]];
    if (r.c >= 0) out.push([r.c, sumTo(g, dimsOf(r.c))]);
    return out;
  },
  // i0: 0 none, 1 mean, 2 sum;  d/da (a − b)² = 2(a − b)
  [Op.MSE_LOSS]: (r, g, A, B) => {
    let d = mul(sub(A(), B()), 2);
    if (r.i[0] === 1) d = div(d, numel(A().dims));
    const ga = mul(g, d);
    return [[r.a, ga], [r.b, neg(ga)]];
  },
};

/** Depthwise kernels [C, 1, kh, kw] that pick kernel position `k` (row-major). */
function oneHotKernel(C: number, kh: number, kw: number, k: number): Tensor {
  const values = new Float32Array(C * kh * kw);
  for (let c = 0; c < C; c++) values[c * kh * kw + k] = 1;
  return tensor(values, { shape: [C, 1, kh, kw] });
}

/** [id, gradient] pairs for the gradients a walk found (none where it found none). */
const pairs = (ids: number[], grads: (Tensor | null)[]): Grads => ids.flatMap((id, k) => (grads[k] ? [[id, grads[k]!] as [number, Tensor]] : []));

/** The output padding that makes a transposed convolution of `y` come out at x's size. */
function outputPadding(x: readonly number[], y: readonly number[], k: number[], s: number[], p: number[], d: number[]): [number, number] {
  return [0, 1].map((a) => x[2 + a] - ((y[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + 1)) as [number, number];
}

/** conv2d's (or, `transposed`, convTranspose2d's) gradients, as convolutions. */
function convRule(r: Rec, g: Tensor, x: Tensor, w: Tensor, transposed: boolean): Grads {
  const [sh, sw, ph, pw, dil, G] = r.i, s = [sh, sw], p = [ph, pw], d = [dil & 0xffff, dil >>> 16];
  const k = [w.dims[2], w.dims[3]];
  const options = { stride: s as [number, number], padding: p as [number, number], dilation: d as [number, number], groups: G };
  const dx = transposed ? conv2d(g, w, null, options)
    : convTranspose2d(g, w, null, { ...options, outputPadding: outputPadding(x.dims, g.dims, k, s, p, d) });
  // the image side and the output side of the correlation that gives the kernel's gradient
  const [image, result] = transposed ? [g, x] : [x, g];
  const ci = image.dims[1] / G, co = result.dims[1] / G, parts: Tensor[] = [];
  for (let grp = 0; grp < G; grp++) {
    const im = transpose(narrow(image, 1, grp * ci, ci), 0, 1), res = transpose(narrow(result, 1, grp * co, co), 0, 1);
    const corr = conv2d(im, res, null, { stride: d as [number, number], padding: p as [number, number], dilation: s as [number, number] }); // [ci, co, ≥kh, ≥kw]
    const kernel = narrow(narrow(corr, 2, 0, k[0]), 3, 0, k[1]);
    parts.push(transpose(kernel, 0, 1)); // [result channels, image channels]: w's layout either way
  }
  const out: Grads = [[r.a, dx], [r.b, G === 1 ? parts[0] : cat(parts, 0)]];
  if (r.c >= 0) out.push([r.c, sum(g, [0, 2, 3])]);
  return out;
}

/**
 * One recurrent layer's gradients: its steps recomputed with tapegrad ops (PyTorch's gate order)
 * from the record's inputs, and that graph walked from g (assembly/ops/recurrent.ts's layout).
 */
function recurrentRule(r: Rec, g: Tensor, input: () => Tensor, hidden: () => Tensor, lstm: boolean): Grads {
  if (r.i[4] !== 0) return []; // the hold record (its b is -1: no node to read)
  const xw = input(), whh = hidden();
  const [T, B] = xw.dims, H = whh.dims[1];
  const h0 = r.c >= 0 ? nodeTensor(r.c) : null, extra = r.i[0] >= 0 ? nodeTensor(r.i[0]) : null;
  let h = h0 ?? zeros([B, H]), c = lstm ? extra ?? zeros([B, H]) : null;
  const hs: Tensor[] = new Array(T), cs: Tensor[] = new Array(T), wt = transpose(whh, 0, 1);
  for (let step = 0; step < T; step++) {
    const t = r.i[2] ? T - 1 - step : step, x = reshape(narrow(xw, 0, t, 1), [B, xw.dims[2]]);
    if (lstm) {
      const [i, f, gg, o] = chunk(add(x, matmul(h, wt)), 4, 1);
      c = add(mul(sigmoid(f), c!), mul(sigmoid(i), tanh(gg)));
      h = mul(sigmoid(o), tanh(c));
      cs[t] = c;
    } else {
      let m = matmul(h, wt);
      if (extra) m = add(m, extra);
      const [xr, xz, xn] = chunk(x, 3, 1), [mr, mz, mn] = chunk(m, 3, 1);
      const rr = sigmoid(add(xr, mr)), z = sigmoid(add(xz, mz)), n = tanh(add(xn, mul(rr, mn)));
      h = add(mul(sub(1, z), n), mul(z, h));
    }
    hs[t] = h;
  }
  const out = lstm ? stack([stack(hs), stack(cs)]) : stack(hs);
  const inputs = [xw, whh, ...(h0 ? [h0] : []), ...(extra ? [extra] : [])];
  return pairs(inputs.map((t) => t.id), gradGraph(out, inputs, g, 'grad'));
}

function whereRule(r: Rec, g: Tensor, B: () => Tensor): Grads {
  const cond = nodeTensor(r.a), out: Grads = [];
  if (r.b >= 0) out.push([r.b, sumTo(where(cond, g, 0), B().dims)]);
  if (r.c >= 0) out.push([r.c, sumTo(where(cond, 0, g), dimsOf(r.c))]);
  return out;
}

/** sort / topk: g (out's [outer, k, inner]) back to a's [outer, R, inner] at the indices in c. */
function sortedBack(r: Rec, g: Tensor, a: Tensor): Tensor {
  const [o, R, inner] = r.i, k = g.size / (o * inner);
  const hot = oneHot(reshape(nodeTensor(r.c), [o, k, inner]), R); // [o, k, inner, R]
  return reshape(permute(sum(mul(hot, unsqueeze(reshape(g, [o, k, inner]), -1)), 1), [0, 2, 1]), a.shape);
}

/** Whether an op has a createGraph rule (the tests check the list against OP_NAMES). */
export function hasGraphRule(op: number): boolean {
  return RULES[op as Op] !== undefined;
}

/**
 * d(root)/d(inputs) as tensors on the tape, seeded with `seed` (ones when null): walks root's
 * records down, applying each op's rule to the gradient of its output. A gradient is complete
 * when its node's records are reached (every consumer comes later on the tape). Inputs the root
 * does not depend on get null.
 */
export function gradGraph(root: Tensor, inputs: Tensor[], seed: Tensor | null, op: string): (Tensor | null)[] {
  const grads = walkGraph(root, new Set(inputs.map((t) => t.id)), seed, op);
  return inputs.map((t) => grads.get(t.id) ?? null);
}

/** The walk of gradGraph: every gradient it finds for `wanted` nodes and for leaves, by node id. */
function walkGraph(root: Tensor, wanted: Set<number>, seed: Tensor | null, op: string): Map<number, Tensor> {
  const grads = new Map<number, Tensor>();
  grads.set(root.id, seed ?? ones(root.shape));
  const [first, count] = recordsOf(root.id);
  const tracked = (id: number) => id >= 0 && (flagsOf(id) & REQUIRES_GRAD) !== 0;
  core.holdTape(1); // the records below must not move while the rules append new ones
  try {
    for (let i = first + count - 1; i >= 0 && count > 0; i--) {
      const r = readRecord(i);
      if (r.op === DEAD) continue;
      const g = grads.get(r.out);
      if (!g) continue;
      // as the core's walk: a record whose nodes were written in place since it ran would give garbage
      if (((version(r.out) + version(r.a) + version(r.b) + version(r.c)) | 0) !== r.stamp) staleGraph(op, OP_NAMES[r.op]);
      const rule = RULES[r.op as Op];
      if (!rule) throw new Error(`${op}: createGraph has no rule yet for ${OP_NAMES[r.op] ?? `opcode ${r.op}`} (gradients of gradients through it)`);
      const memo = new Map<number, Tensor>();
      const node = (id: number) => () => { let t = memo.get(id); if (!t) memo.set(id, (t = nodeTensor(id))); return t; };
      for (const [id, t] of rule(r, g, node(r.a), node(r.b), node(r.out))) {
        if (!tracked(id)) continue;
        const had = grads.get(id);
        grads.set(id, had ? add(had, t) : t);
      }
      // a node's gradient is used up at its first record, unless it is asked for
      if (i === recordsOf(r.out)[0] && !wanted.has(r.out)) grads.delete(r.out);
    }
  } finally {
    core.holdTape(-1);
  }
  return grads;
}

// backward({createGraph: true}): a leaf's .grad becomes the graph tensor of its gradient, here
// (keyed by node, with the node's generation), while its buffer holds the same values for the
// optimizers; anything else that changes the buffer (a plain backward, zeroGrad) forgets it.
const graphGrads = new Map<number, { gen: number; grad: Tensor }>();

/** Leaf `id`'s graph gradient from backward({createGraph: true}), or null. */
export function graphGradOf(id: number): Tensor | null {
  const entry = graphGrads.get(id);
  if (!entry) return null;
  if (entry.gen !== genOf(id) || entry.grad.isDisposed) { forgetGraphGrad(id); return null; }
  return entry.grad;
}

/**
 * Forgets leaf `id`'s graph gradient (all of them with no id): its buffer is changing otherwise.
 * Returns the tensors instead of releasing them when `later` (a backward may be walking from one).
 */
export function forgetGraphGrad(id?: number, later = false): Tensor[] {
  const dropped: Tensor[] = [];
  for (const [key, entry] of graphGrads) {
    if (id !== undefined && key !== id) continue;
    graphGrads.delete(key);
    if (entry.grad.isDisposed) continue;
    if (later) dropped.push(entry.grad);
    else entry.grad.dispose();
  }
  return dropped;
}

/**
 * backward({createGraph: true}): adds each leaf's gradient, as a graph tensor, to its .grad (the
 * graph one from an earlier such backward, else the buffer's values), and writes the values into
 * the buffer too.
 */
export function backwardAsGraph(root: Tensor, seed: Tensor | null): void {
  const found = tidy(() => [...walkGraph(root, new Set(), seed, 'backward')].filter(([id]) => isLeaf(id)));
  for (const [id, g] of found) {
    const prev = graphGradOf(id), at = core.gradOf(id);
    let total = g;
    if (prev) total = add(prev, g);
    else if (at) total = add(tensor(heapF32().slice(at >>> 2, (at >>> 2) + g.size), { shape: g.shape }), g);
    if (total !== g) g.dispose();
    keep(total);
    const buffer = core.ensureGrad(id);
    if (buffer === 0) outOfMemory('backward');
    heapF32().set(total.data(), buffer >>> 2);
    if (prev) prev.dispose();
    graphGrads.set(id, { gen: genOf(id), grad: total });
  }
}
