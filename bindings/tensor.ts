// The Tensor handle and the plumbing every op uses. A Tensor is a node id plus the generation it
// was created with; the numbers live in WebAssembly memory. The ops live by family in ops/<family>.ts,
// as the kernels do in assembly/ops/: each checks its arguments, computes the output shape, and
// makes one call into the core (run), which runs the kernel and records the tape. Tensor's methods
// are one-line calls into them.
import {
  core, issue, genOf, flagsOf, isLeaf, REQUIRES_GRAD, GRAD_VIEW, heapF32, setScratchShape,
  outOfMemory, OUT_OF_MEMORY, NO_RULE, BAD_INDEX, STALE, GRAPH_SPENT, DISPOSED, MAX_RANK, isNodeOf,
} from './core';
import { Op, Cmd, OP_NAMES } from './opcodes';
import { setTensorCheck } from './memory';
import { isRecording } from './trace';
import { type BackwardOptions, backward, detach } from './autograd';
import { registerHook, retainGrad, retainedGradOf, type GradHook, type RemovableHandle } from './custom';
import { graphGradOf, forgetGraphGrad } from './higher';
import { tensor } from './ops/creation';
import {
  abs, add, div, exp, gelu, leakyRelu, log, maximum, minimum, mul, neg, pow, relu, sigmoid, sqrt,
  sub, tanh,
} from './ops/elementwise';
import {
  clamp, clampMax, clampMin, cos, rsqrt, silu, sin, softplus, square, type ClampOptions, type SoftplusOptions,
} from './ops/elementwise';
import { eq, ge, gt, le, lt, maskedFill, ne, tril, triu, where } from './ops/mask';
import { matmul } from './ops/matmul';
import { argmax, argmin, logsumexp, max, mean, min, sum, var as variance, std, cumsum, type VarOptions } from './ops/reduce';
import { sort, topk, type SortResult, type SortOptions, type TopkOptions } from './ops/sort';
import { multinomial, type MultinomialOptions } from './ops/random';
import {
  expand, flatten, gather, indexSelect, narrow, permute, reshape, squeeze, transpose, unsqueeze,
  split, chunk, unbind, clone,
} from './ops/shape';
import { logSoftmax, softmax } from './ops/softmax';
import {
  type Shape, fmt, numel, sameShape, checkBytes, prod, dimsArg, show, setShowTensor, checkBool,
} from './shape';

/** An operand: a tensor, a plain number, or nested arrays of numbers. */
export type TensorLike = Tensor | number | NestedArray;
/** Numbers nested in arrays, one level per dim: `[[1, 2], [3, 4]]`. */
export type NestedArray = number[] | NestedArray[];
/** Integer indices: a tensor of integral values, a number[] or an Int32Array. */
export type Index = Tensor | number[] | Int32Array;

/** The id of the node newTensor or run has just made, until its Tensor is constructed. */
let justMade = -1;

/**
 * An n-dimensional float32 array in the WebAssembly arena, with its gradient and its place in the
 * graph. Make tensors with {@link tensor}, {@link zeros} and the ops; free them with dispose() or {@link tidy}.
 * @example
 * ```ts
 * const x = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const loss = x.mul(x).sum();
 * loss.backward();
 * x.grad!.toArray(); // → [[2, 4], [6, 8]]
 * ```
 */
export class Tensor {
  /** @internal */ readonly id: number;
  /** @internal */ readonly gen: number;
  /** @internal */ readonly dims: Shape;
  /** @internal the tensor `grad` returned last (one object per gradient); set on first read only */
  private declare gradTensor?: Tensor;

  /** @internal use tensor(), zeros() and the ops to make tensors */
  constructor(id: number, dims: Shape) {
    // A handle must match its node: one made up from numbers could point kernels past a buffer.
    // The node the façade has just made (newTensor, run) needs no check: the hot path stays cheap.
    // justMade is -1 when none was: an id of -1 is then checked like any other (and refused).
    if ((id !== justMade || justMade < 0) && !isNodeOf(id, dims)) forgedHandle();
    justMade = -1;
    this.id = id;
    this.gen = genOf(id);
    this.dims = dims;
  }

  /** The sizes of the dims (a copy). */
  get shape(): number[] { return this.dims.slice(); }
  /** The number of dims. */
  get ndim(): number { return this.dims.length; }
  /** The number of elements. */
  get size(): number { return numel(this.dims); }
  /** True once the tensor was released (by dispose() or a tidy() scope). */
  get isDisposed(): boolean { return genOf(this.id) !== this.gen; }
  /** True when operations on the tensor are recorded for backward(). */
  get requiresGrad(): boolean { return (flagsOf(live(this, 'requiresGrad')) & REQUIRES_GRAD) !== 0; }

  /** A copy of the values, row-major. */
  data(): Float32Array {
    notRecording('data');
    return valuesOf(this, 'data');
  }

  /**
   * The value of a one-element tensor.
   * @example
   * ```ts
   * tg.tensor([[3]]).item(); // → 3
   * ```
   */
  item(): number {
    notRecording('item');
    live(this, 'item');
    if (this.size !== 1) throw new Error(`item: only a tensor with one element can be converted to a number, got shape ${fmt(this.dims)}`);
    return heapF32()[core.dataOf(this.id) >>> 2];
  }

  /** Nested arrays of numbers (a number for a 0-d tensor). */
  toArray(): number | NestedArray {
    notRecording('toArray');
    return nestedOf(this, 'toArray');
  }

  /**
   * The gradient of a leaf, or null before backward() reached it (and for tensors computed from
   * others, as in PyTorch, unless retainGrad() kept theirs: the same tensor at each read). A leaf's is
   * one tensor per gradient, a view of the gradient buffer that the leaf owns: reading it in a
   * loop makes nothing new, and it lives until the leaf is disposed.
   */
  get grad(): Tensor | null {
    const id = live(this, 'grad'), graph = graphGradOf(id);
    if (graph) return graph;
    const view = core.gradView(id);
    if (view === -1) return isLeaf(id) ? null : retainedGradOf(this);
    if (view < 0) outOfMemory('grad');
    if (this.gradTensor === undefined || this.gradTensor.id !== view || this.gradTensor.isDisposed) this.gradTensor = new Tensor(view, this.dims);
    return this.gradTensor;
  }

  /** `tensor([...])` with the values, as PyTorch prints it. */
  toString(): string {
    if (this.isDisposed) return 'tensor(<disposed>)';
    const body = JSON.stringify(nestedOf(this, 'toString')).replace(/,/g, ', '); // printing is fine while tracing
    return `tensor(${body}${this.requiresGrad ? ', requiresGrad=true' : ''})`;
  }

  /** Releases the tensor's memory now; using it afterwards throws. */
  dispose(): void {
    if (!this.isDisposed) core.release(this.id);
  }

  // ── autograd ──
  /** Method form of {@link backward}. */
  backward(grad?: TensorLike | BackwardOptions, options?: BackwardOptions): void { backward(this, grad, options); }

  /**
   * Calls fn with the gradient flowing into this tensor at each backward; a Tensor fn returns
   * replaces it (PyTorch's register_hook). Returns a handle whose remove() takes the hook off.
   * @example
   * ```ts
   * const x = tg.tensor([1, 2], { requiresGrad: true });
   * x.registerHook((g) => g.mul(10));
   * x.mul(3).sum().backward();
   * x.grad!.toArray(); // → [30, 30]
   * ```
   */
  registerHook(fn: GradHook): RemovableHandle { return registerHook(this, fn); }

  /**
   * Keeps this non-leaf tensor's gradient after backward, as `.grad` (PyTorch's retain_grad).
   * @example
   * ```ts
   * const x = tg.tensor([1, 2], { requiresGrad: true });
   * const y = x.mul(2);
   * y.retainGrad();
   * y.square().sum().backward();
   * y.grad!.toArray(); // → [4, 8]
   * ```
   */
  retainGrad(): void { retainGrad(this); }
  /** Sets the gradient to zero (keeping its buffer). */
  zeroGrad(): void { forgetGraphGrad(live(this, 'zeroGrad')); issue(Cmd.ZERO_GRAD, -1, this.id); }
  /** Method form of {@link detach}. */
  detach(): Tensor { return detach(this); }
  /**
   * Turns gradient recording on (or off, for a leaf) in place; returns this.
   * @example
   * ```ts
   * tg.zeros([2]).requiresGrad_().requiresGrad; // → true
   * ```
   */
  requiresGrad_(flag = true): Tensor {
    checkBool(flag, 'requiresGrad', 'requiresGrad_');
    const id = live(this, 'requiresGrad_');
    if (flag && (flagsOf(id) & GRAD_VIEW)) {
      throw new Error('requiresGrad_: this tensor is a view of a gradient (.grad); make a copy with detach() to differentiate through it');
    }
    if (!flag && this.requiresGrad && !isLeaf(id)) {
      throw new Error('requiresGrad_: only a leaf tensor can stop requiring grad (this one was computed from others); use detach() for a copy outside the graph');
    }
    core.setRequiresGrad(id, flag ? 1 : 0);
    return this;
  }

  /** Overwrites this tensor's values with src's (same shape), outside any graph; returns this. */
  copy_(src: TensorLike): Tensor {
    const s = asTensor(src, 'copy_');
    try {
      live(this, 'copy_');
      if (!sameShape(s.dims, this.dims)) throw new Error(`copy_: source shape ${fmt(s.dims)} does not match ${fmt(this.dims)}`);
      issue(Cmd.COPY, this.id, s.id);
      return this;
    } finally {
      dropTemporary(s, src);
    }
  }

  // ── elementwise ──
  /** Method form of {@link add}. */
  add(other: TensorLike): Tensor { return runScalar(Op.ADD, this, other) ?? add(this, other); }
  /** Method form of {@link sub}. */
  sub(other: TensorLike): Tensor { return runScalar(Op.SUB, this, other) ?? sub(this, other); }
  /** Method form of {@link mul}. */
  mul(other: TensorLike): Tensor { return runScalar(Op.MUL, this, other) ?? mul(this, other); }
  /** Method form of {@link div}. */
  div(other: TensorLike): Tensor { return runScalar(Op.DIV, this, other) ?? div(this, other); }
  /** Method form of {@link pow}. */
  pow(other: TensorLike): Tensor { return runScalar(Op.POW, this, other) ?? pow(this, other); }
  /** Method form of {@link maximum}. */
  maximum(other: TensorLike): Tensor { return runScalar(Op.MAXIMUM, this, other) ?? maximum(this, other); }
  /** Method form of {@link minimum}. */
  minimum(other: TensorLike): Tensor { return runScalar(Op.MINIMUM, this, other) ?? minimum(this, other); }
  /** Method form of {@link neg}. */
  neg(): Tensor { return runScalar(Op.NEG, this, 0) ?? neg(this); }
  /** Method form of {@link abs}. */
  abs(): Tensor { return runScalar(Op.ABS, this, 0) ?? abs(this); }
  /** Method form of {@link exp}. */
  exp(): Tensor { return runScalar(Op.EXP, this, 0) ?? exp(this); }
  /** Method form of {@link log}. */
  log(): Tensor { return runScalar(Op.LOG, this, 0) ?? log(this); }
  /** Method form of {@link sqrt}. */
  sqrt(): Tensor { return runScalar(Op.SQRT, this, 0) ?? sqrt(this); }
  /** Method form of {@link tanh}. */
  tanh(): Tensor { return runScalar(Op.TANH, this, 0) ?? tanh(this); }
  /** Method form of {@link sigmoid}. */
  sigmoid(): Tensor { return runScalar(Op.SIGMOID, this, 0) ?? sigmoid(this); }
  /** Method form of {@link relu}. */
  relu(): Tensor { return runScalar(Op.RELU, this, 0) ?? relu(this); }
  /** Method form of {@link leakyRelu}. */
  leakyRelu(negativeSlope = 0.01): Tensor { return leakyRelu(this, negativeSlope); }
  /** Method form of {@link gelu}. */
  gelu(options?: { approximate?: 'none' | 'tanh' }): Tensor { return gelu(this, options); }
  /** Method form of {@link sin}. */
  sin(): Tensor { return runScalar(Op.SIN, this, 0) ?? sin(this); }
  /** Method form of {@link cos}. */
  cos(): Tensor { return runScalar(Op.COS, this, 0) ?? cos(this); }
  /** Method form of {@link square}. */
  square(): Tensor { return runScalar(Op.SQUARE, this, 0) ?? square(this); }
  /** Method form of {@link rsqrt}. */
  rsqrt(): Tensor { return runScalar(Op.RSQRT, this, 0) ?? rsqrt(this); }
  /** Method form of {@link silu}. */
  silu(): Tensor { return runScalar(Op.SILU, this, 0) ?? silu(this); }
  /** Method form of {@link softplus}. */
  softplus(options?: SoftplusOptions): Tensor { return softplus(this, options); }
  /** Method form of {@link clamp}. */
  clamp(min?: number | null | ClampOptions, max?: number | null): Tensor { return clamp(this, min, max); }
  /** Method form of {@link clampMin}. */
  clampMin(min: number): Tensor { return clampMin(this, min); }
  /** Method form of {@link clampMax}. */
  clampMax(max: number): Tensor { return clampMax(this, max); }
  // ── selection, masking, comparison ──
  /** torch's x.where(condition, other): this where condition is nonzero, else other. */
  where(condition: TensorLike, other: TensorLike): Tensor { return where(condition, this, other); }
  /** Method form of {@link maskedFill}. */
  maskedFill(mask: TensorLike, value: number | Tensor): Tensor { return maskedFill(this, mask, value); }
  /** Method form of {@link tril}. */
  tril(diagonal = 0): Tensor { return tril(this, diagonal); }
  /** Method form of {@link triu}. */
  triu(diagonal = 0): Tensor { return triu(this, diagonal); }
  /** Method form of {@link eq}. */
  eq(other: TensorLike): Tensor { return eq(this, other); }
  /** Method form of {@link ne}. */
  ne(other: TensorLike): Tensor { return ne(this, other); }
  /** Method form of {@link lt}. */
  lt(other: TensorLike): Tensor { return lt(this, other); }
  /** Method form of {@link le}. */
  le(other: TensorLike): Tensor { return le(this, other); }
  /** Method form of {@link gt}. */
  gt(other: TensorLike): Tensor { return gt(this, other); }
  /** Method form of {@link ge}. */
  ge(other: TensorLike): Tensor { return ge(this, other); }
  // ── matmul, reductions, softmax ──
  /** Method form of {@link matmul}. */
  matmul(other: Tensor): Tensor { return matmul(this, other); }
  /** Method form of {@link sum}. */
  sum(dim?: number | number[], keepdim = false): Tensor { return sum(this, dim, keepdim); }
  /** Method form of {@link mean}. */
  mean(dim?: number | number[], keepdim = false): Tensor { return mean(this, dim, keepdim); }
  /** Method form of {@link max}. */
  max(dim?: number | number[], keepdim = false): Tensor { return max(this, dim, keepdim); }
  /** Method form of {@link min}. */
  min(dim?: number | number[], keepdim = false): Tensor { return min(this, dim, keepdim); }
  /** Method form of {@link logsumexp}. */
  logsumexp(dim?: number | number[], keepdim = false): Tensor { return logsumexp(this, dim, keepdim); }
  /** Method form of {@link argmax}. */
  argmax(dim?: number, keepdim = false): Tensor { return argmax(this, dim, keepdim); }
  /** Method form of {@link argmin}. */
  argmin(dim?: number, keepdim = false): Tensor { return argmin(this, dim, keepdim); }
  /** Method form of {@link softmax}. */
  softmax(dim: number): Tensor { return softmax(this, dim); }
  /** Method form of {@link logSoftmax}. */
  logSoftmax(dim: number): Tensor { return logSoftmax(this, dim); }
  // ── shape ──
  /** Method form of {@link reshape}. */
  reshape(...shape: number[] | [number[]]): Tensor { return reshape(this, dimsArg(shape) as number[]); }
  /** Method form of {@link reshape} (tensors here are always contiguous). */
  view(...shape: number[] | [number[]]): Tensor { return reshape(this, dimsArg(shape) as number[], 'view'); }
  /** Method form of {@link flatten}. */
  flatten(startDim = 0, endDim = -1): Tensor { return flatten(this, startDim, endDim); }
  /** Method form of {@link transpose}. */
  transpose(dim0: number, dim1: number): Tensor { return transpose(this, dim0, dim1); }
  /** Method form of {@link permute}. */
  permute(...dims: number[] | [number[]]): Tensor { return permute(this, dimsArg(dims) as number[]); }
  /** Method form of {@link squeeze}. */
  squeeze(dim?: number): Tensor { return squeeze(this, dim); }
  /** Method form of {@link unsqueeze}. */
  unsqueeze(dim: number): Tensor { return unsqueeze(this, dim); }
  /** Method form of {@link expand}. */
  expand(...shape: number[] | [number[]]): Tensor { return expand(this, dimsArg(shape) as number[]); }
  /** Method form of {@link narrow}. */
  narrow(dim: number, start: number, length: number): Tensor { return narrow(this, dim, start, length); }
  /** Method form of {@link indexSelect}. */
  indexSelect(dim: number, index: Index): Tensor { return indexSelect(this, dim, index); }
  /** Method form of {@link gather}. */
  gather(dim: number, index: Tensor | NestedArray): Tensor { return gather(this, dim, index); }
  /** Method form of {@link split}. */
  split(splitSizeOrSections: number | number[], dim = 0): Tensor[] { return split(this, splitSizeOrSections, dim); }
  /** Method form of {@link chunk}. */
  chunk(chunks: number, dim = 0): Tensor[] { return chunk(this, chunks, dim); }
  /** Method form of {@link unbind}. */
  unbind(dim = 0): Tensor[] { return unbind(this, dim); }
  /** Method form of {@link clone}. */
  clone(): Tensor { return clone(this); }
  // ── statistics, scans, sorting, sampling ──
  /** Method form of {@link var}. */
  var(dim?: number | number[], options?: VarOptions): Tensor { return variance(this, dim, options); }
  /** Method form of {@link std}. */
  std(dim?: number | number[], options?: VarOptions): Tensor { return std(this, dim, options); }
  /** Method form of {@link cumsum}. */
  cumsum(dim: number): Tensor { return cumsum(this, dim); }
  /** Method form of {@link sort}. */
  sort(options?: SortOptions): SortResult { return sort(this, options); }
  /** Method form of {@link topk}. */
  topk(k: number, options?: TopkOptions): SortResult { return topk(this, k, options); }
  /** Method form of {@link multinomial}. */
  multinomial(numSamples: number, options?: MultinomialOptions): Tensor { return multinomial(this, numSamples, options); }
}

setTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

/** The values, row-major (a copy). */
function valuesOf(t: Tensor, op: string): Float32Array {
  live(t, op);
  const p = core.dataOf(t.id) >>> 2;
  return heapF32().slice(p, p + t.size);
}

/** The values as nested arrays (a number for a 0-d tensor). */
function nestedOf(t: Tensor, op: string): number | NestedArray {
  const flat = valuesOf(t, op);
  const build = (axis: number, offset: number): number | NestedArray => {
    if (axis === t.dims.length) return flat[offset];
    const stride = prod(t.dims, axis + 1, t.dims.length);
    const out: unknown[] = [];
    for (let i = 0; i < t.dims[axis]; i++) out.push(build(axis + 1, offset + i * stride));
    return out as NestedArray;
  };
  return build(0, 0);
}

/**
 * Reading values into JavaScript while tg.trace records: a replay runs no JavaScript, so a number
 * read now would stay the first step's forever. The values belong in what fn returns.
 */
export function notRecording(op: string): void {
  if (isRecording()) {
    throw new Error(`${op}: reading a tensor's values inside tg.trace(fn) would give the recorded step's values on every replay; return the tensor from fn and read it from step.output after step.run()`);
  }
}

/** The Error for a graph that read a tensor since modified in place (the core's walk and createGraph's). */
export function staleGraph(op: string, name: string): never {
  throw new Error(`${op}: a tensor that ${name} saved for the gradient was modified in place (copy_, a fill or an optimizer step) after ${name} ran; compute the graph again after modifying it`);
}

/** The Tensor constructor's refusal, out of line so the constructor stays small enough to inline. */
function forgedHandle(): never {
  throw new Error('Tensor: the constructor is internal; make tensors with tg.tensor(), tg.zeros() or an op');
}
setShowTensor((v) => (v instanceof Tensor ? (v.isDisposed ? 'a disposed Tensor' : `a Tensor of shape ${fmt(v.dims)}`) : null));

// ── plumbing ───────────────────────────────────────────────────────────────────────────────────

/** The node id of a live tensor, or an error that names the op. */
export function live(t: Tensor, op: string): number {
  if (genOf(t.id) !== t.gen) {
    throw new Error(`${op}: the tensor was disposed (by dispose() or by the tidy() scope that created it) and cannot be used`);
  }
  return t.id;
}

/** Throws the Error for a status the core returned (assembly/errors.ts). */
export function fail(status: number, op: string): never {
  if (status === OUT_OF_MEMORY) outOfMemory(op);
  const code = core.failedOp.value as number;
  const name = OP_NAMES[code] ?? `opcode ${code}`;
  if (status === BAD_INDEX && code === Cmd.MULTINOMIAL) { // assembly/random.ts: bound 1 = a bad weight, 0 = a zero row
    const at = core.badPosition.value as number;
    throw new Error(`${op}: ${core.badBound.value ? `weight ${core.badValue.value as number} at position ${at} is negative, infinite or NaN` : `the weights of row ${at} sum to 0`}`);
  }
  if (status === BAD_INDEX) {
    const value = core.badValue.value as number, what = name === 'crossEntropy' || name === 'nllLoss' ? 'label' : 'index';
    const problem = Number.isInteger(value) ? `is out of range [0, ${core.badBound.value as number})` : 'is not an integer';
    throw new Error(`${op === name ? op : `${op}: ${name}`}: ${what} ${value} at position ${core.badPosition.value as number} ${problem}`);
  }
  if (status === STALE) staleGraph(op, name);
  if (status === GRAPH_SPENT) {
    throw new Error(`${op}: this graph (through ${name}) was already walked by backward(); pass {retainGraph: true} to the first backward() to walk it again`);
  }
  if (status === NO_RULE) throw new Error(`${op}: the core has no kernel for ${name}`);
  throw new Error(`${op}: failed with status ${status}`);
}

/** A new uninitialised (or zeroed) node of `shape`. */
export function newTensor(shape: Shape, op: string, zeroed = false): Tensor {
  checkBytes(shape, op);
  setScratchShape(shape);
  const id = core.newNode(shape.length, zeroed ? 1 : 0);
  if (id < 0) outOfMemory(op);
  justMade = id;
  return new Tensor(id, shape);
}

/** Runs one op in the core: a new output of `shape` from inputs a, b, c and attributes. */
export function run(op: Op, name: string, shape: Shape, a: Tensor, b: Tensor | null, c: Tensor | null,
  i0 = 0, i1 = 0, i2 = 0, i3 = 0, i4 = 0, i5 = 0, f0 = 0): Tensor {
  outputShape(shape, a, name);
  return made(core.runOp(op, shape.length, a.id, b ? b.id : -1, c ? c.id : -1, i0, i1, i2, i3, i4, i5, f0), shape, name);
}

/**
 * An elementwise op of a 0-d tensor `a` and a 0-d tensor or a number `b`, with a 0-d result: one
 * call into the core, which checks that the operands are live, and the new handle. A number rides
 * in the record (on the left when i0 = 1; a unary op's attribute rides there too). null for any
 * other operand: the op's general path runs it. Errors name the op by `name`, else by its opcode.
 * Tensor's methods call it before the op's function: a scalar graph (micrograd's) makes one node a
 * call, and this path, with nothing around it that V8 does not inline, made micrograd's step
 * 5% faster than the same call behind binary() and made() (scripts/perf/micrograd.mjs --rounds 3).
 */
export function runScalar(op: Op, a: Tensor, b: TensorLike, i0 = 0, name?: string): Tensor | null {
  if (a.dims.length !== 0) return null;
  let id: number;
  if (b instanceof Tensor) {
    if (b.dims.length !== 0) return null;
    id = core.runScalarOp(op, a.id, a.gen, b.id, b.gen, i0, 0);
  } else if (typeof b === 'number') {
    id = core.runScalarOp(op, a.id, a.gen, -1, 0, i0, b);
  } else {
    return null;
  }
  if (id < 0) scalarFailed(id, name ?? OP_NAMES[op], a, b);
  justMade = id;
  return new Tensor(id, a.dims);
}

/** runScalar's errors, out of line: a stale operand named, else the core's status. */
function scalarFailed(status: number, name: string, a: Tensor, b: TensorLike): never {
  if (status === DISPOSED) { live(a, name); if (b instanceof Tensor) live(b, name); }
  fail(status, name);
}

/**
 * run() for a reshape or a narrow (i0..i3: outer, row, length, start) whose result shares a's
 * buffer where its elements are a run of a's (the core decides; else it copies).
 */
export function runView(op: Op.RESHAPE | Op.NARROW, name: string, shape: Shape, a: Tensor, i0 = 0, i1 = 0, i2 = 0, i3 = 0): Tensor {
  outputShape(shape, a, name);
  const out = core.viewFor(op, shape.length, a.id, i0, i2, i3);
  if (out === NO_VIEW) return made(core.runOp(op, shape.length, a.id, -1, -1, i0, i1, i2, i3, 0, 0, 0), shape, name);
  const status = out < 0 ? out : core.runOpInto(op, out, a.id, -1, -1, i0, i1, i2, i3, 0, 0, 0);
  if (status < 0 && out >= 0) core.release(out);
  return made(status < 0 ? status : out, shape, name);
}
/** viewFor's answer when the op must copy (assembly/scopes.ts). */
const NO_VIEW = -100;

function outputShape(shape: Shape, a: Tensor, name: string): void {
  if (shape !== a.dims) { // a new shape (an input's has been checked)
    if (shape.length > MAX_RANK) throw new Error(`${name}: result would have ${shape.length} dims; at most ${MAX_RANK} are supported`);
    checkBytes(shape, name);
  }
  setScratchShape(shape);
}

function made(id: number, shape: Shape, name: string): Tensor {
  if (id < 0) fail(id, name);
  justMade = id;
  return new Tensor(id, shape);
}

/** Turns numbers and nested arrays into a (constant) tensor; checks a tensor is live. */
export function asTensor(x: unknown, op: string, arg?: string): Tensor {
  if (x instanceof Tensor) { // the hot path: no message is built unless it is needed
    if (genOf(x.id) !== x.gen) live(x, arg === undefined ? op : `${op}: ${arg}`);
    return x;
  }
  const where = arg === undefined ? op : `${op}: ${arg}`; // names the argument when there are several
  if (typeof x === 'number' || Array.isArray(x) || x instanceof Float32Array) return tensor(x as NestedArray, undefined, where);
  throw new Error(`${where}: expected a Tensor, a number or nested arrays of numbers, got ${show(x)}`);
}

/**
 * Runs fn on the operands as tensors. Those made here from numbers or arrays are released when fn
 * returns (the op's record keeps what a graph needs) or when fn or a later conversion throws,
 * unless fn returned one of them.
 */
export function withTensors<R>(op: string, xs: unknown[], fn: (ts: Tensor[]) => R, names?: string[]): R {
  let allTensors = true;
  for (const x of xs) if (!(x instanceof Tensor)) allTensors = false;
  if (allTensors) { // the common case: nothing to convert or release
    for (let i = 0; i < xs.length; i++) if ((xs[i] as Tensor).isDisposed) live(xs[i] as Tensor, names ? `${op}: ${names[i]}` : op);
    return fn(xs as Tensor[]);
  }
  const made: Tensor[] = [];
  let result: R | undefined;
  try {
    const ts = xs.map((x, i) => {
      const t = asTensor(x, op, names?.[i]);
      if (t !== x) made.push(t);
      return t;
    });
    result = fn(ts);
    return result;
  } finally {
    for (const t of made) if ((t as unknown) !== result) t.dispose();
  }
}

/**
 * The slow path of an op given numbers or nested arrays instead of a Tensor: converts them, runs
 * the op again on the tensor (`again`), and releases the tensor afterwards unless it was returned.
 * The ops test `x instanceof Tensor` first, so the fast path allocates nothing.
 */
export function viaTensor<R>(op: string, x: unknown, again: (t: Tensor) => R): R {
  return withTensors(op, [x], ([t]) => again(t));
}

/**
 * Releases a tensor asTensor made from numbers or arrays (`t` is not the argument `x` itself) once
 * its op has run: the op's tape record keeps it for as long as a graph needs it.
 */
export function dropTemporary(t: Tensor, x: unknown): void {
  if (t !== x) t.dispose();
}
