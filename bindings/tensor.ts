// The Tensor handle and every op. A Tensor is a node id plus the generation it was created with;
// the numbers live in WebAssembly memory. Ops check their arguments, compute the output shape,
// and make one call into the core, which runs the kernel and records the tape.
import { core, issue, genOf, flagsOf, isLeaf, REQUIRES_GRAD, GRAD_VIEW, heapF32, setScratchShape, outOfMemory, OUT_OF_MEMORY, NO_RULE,
  BAD_INDEX, STALE, GRAPH_SPENT, MAX_RANK, isNodeOf } from './core';
import { Op, Cmd, OP_NAMES } from './opcodes';
import { setTensorCheck } from './memory';
import {
  type Shape, fmt, numel, sameShape, checkShape, checkBytes, normAxis, broadcastShape, prod, dimsArg,
  show, setShowTensor, checkInt, checkNumber, checkBool, readOptions, bool, oneOf, INT_MAX,
} from './shape';

/** An operand: a tensor, a plain number, or nested arrays of numbers. */
export type TensorLike = Tensor | number | NestedArray;
export type NestedArray = number[] | NestedArray[];
export type Index = Tensor | number[] | Int32Array;

/** The id of the node newTensor or run has just made, until its Tensor is constructed. */
let justMade = -1;

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
    if (id !== justMade && !isNodeOf(id, dims)) forgedHandle();
    justMade = -1;
    this.id = id;
    this.gen = genOf(id);
    this.dims = dims;
  }

  get shape(): number[] { return this.dims.slice(); }
  get ndim(): number { return this.dims.length; }
  get size(): number { return numel(this.dims); }
  get isDisposed(): boolean { return genOf(this.id) !== this.gen; }
  get requiresGrad(): boolean { return (flagsOf(live(this, 'requiresGrad')) & REQUIRES_GRAD) !== 0; }

  /** A copy of the values, row-major. */
  data(): Float32Array {
    live(this, 'data');
    const p = core.dataOf(this.id) >>> 2;
    return heapF32().slice(p, p + this.size);
  }

  item(): number {
    live(this, 'item');
    if (this.size !== 1) throw new Error(`item: only a tensor with one element can be converted to a number, got shape ${fmt(this.dims)}`);
    return heapF32()[core.dataOf(this.id) >>> 2];
  }

  /** Nested arrays of numbers (a number for a 0-d tensor). */
  toArray(): number | NestedArray {
    live(this, 'toArray');
    const flat = this.data();
    const build = (axis: number, offset: number): number | NestedArray => {
      if (axis === this.dims.length) return flat[offset];
      const stride = prod(this.dims, axis + 1, this.dims.length);
      const out: unknown[] = [];
      for (let i = 0; i < this.dims[axis]; i++) out.push(build(axis + 1, offset + i * stride));
      return out as NestedArray;
    };
    return build(0, 0);
  }

  /**
   * The gradient of a leaf, or null before backward() reached it (and for tensors computed from
   * others, as in PyTorch). It is one tensor per gradient, a view of the gradient buffer that the
   * leaf owns: reading it in a loop makes nothing new, and it lives until the leaf is disposed.
   */
  get grad(): Tensor | null {
    const view = core.gradView(live(this, 'grad'));
    if (view === -1) return null;
    if (view < 0) outOfMemory('grad');
    if (this.gradTensor === undefined || this.gradTensor.id !== view || this.gradTensor.isDisposed) this.gradTensor = new Tensor(view, this.dims);
    return this.gradTensor;
  }

  toString(): string {
    if (this.isDisposed) return 'tensor(<disposed>)';
    const body = JSON.stringify(this.toArray()).replace(/,/g, ', ');
    return `tensor(${body}${this.requiresGrad ? ', requiresGrad=true' : ''})`;
  }

  /** Releases the tensor's memory now; using it afterwards throws. */
  dispose(): void {
    if (!this.isDisposed) core.release(this.id);
  }

  // ── autograd ──
  backward(grad?: TensorLike | BackwardOptions, options?: BackwardOptions): void { backward(this, grad, options); }
  zeroGrad(): void { issue(Cmd.ZERO_GRAD, -1, live(this, 'zeroGrad')); }
  detach(): Tensor { return detach(this); }
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
  add(other: TensorLike): Tensor { return add(this, other); }
  sub(other: TensorLike): Tensor { return sub(this, other); }
  mul(other: TensorLike): Tensor { return mul(this, other); }
  div(other: TensorLike): Tensor { return div(this, other); }
  pow(other: TensorLike): Tensor { return pow(this, other); }
  maximum(other: TensorLike): Tensor { return maximum(this, other); }
  minimum(other: TensorLike): Tensor { return minimum(this, other); }
  neg(): Tensor { return neg(this); }
  abs(): Tensor { return abs(this); }
  exp(): Tensor { return exp(this); }
  log(): Tensor { return log(this); }
  sqrt(): Tensor { return sqrt(this); }
  tanh(): Tensor { return tanh(this); }
  sigmoid(): Tensor { return sigmoid(this); }
  relu(): Tensor { return relu(this); }
  leakyRelu(negativeSlope = 0.01): Tensor { return leakyRelu(this, negativeSlope); }
  gelu(options?: { approximate?: 'none' | 'tanh' }): Tensor { return gelu(this, options); }
  // ── matmul, reductions, softmax ──
  matmul(other: Tensor): Tensor { return matmul(this, other); }
  sum(dim?: number | number[], keepdim = false): Tensor { return sum(this, dim, keepdim); }
  mean(dim?: number | number[], keepdim = false): Tensor { return mean(this, dim, keepdim); }
  max(dim?: number | number[], keepdim = false): Tensor { return max(this, dim, keepdim); }
  min(dim?: number | number[], keepdim = false): Tensor { return min(this, dim, keepdim); }
  logsumexp(dim?: number | number[], keepdim = false): Tensor { return logsumexp(this, dim, keepdim); }
  argmax(dim?: number, keepdim = false): Tensor { return argmax(this, dim, keepdim); }
  argmin(dim?: number, keepdim = false): Tensor { return argmin(this, dim, keepdim); }
  softmax(dim: number): Tensor { return softmax(this, dim); }
  logSoftmax(dim: number): Tensor { return logSoftmax(this, dim); }
  // ── shape ──
  reshape(...shape: number[] | [number[]]): Tensor { return reshape(this, dimsArg(shape) as number[]); }
  view(...shape: number[] | [number[]]): Tensor { return reshape(this, dimsArg(shape) as number[], 'view'); }
  flatten(startDim = 0, endDim = -1): Tensor { return flatten(this, startDim, endDim); }
  transpose(dim0: number, dim1: number): Tensor { return transpose(this, dim0, dim1); }
  permute(...dims: number[] | [number[]]): Tensor { return permute(this, dimsArg(dims) as number[]); }
  squeeze(dim?: number): Tensor { return squeeze(this, dim); }
  unsqueeze(dim: number): Tensor { return unsqueeze(this, dim); }
  expand(...shape: number[] | [number[]]): Tensor { return expand(this, dimsArg(shape) as number[]); }
  narrow(dim: number, start: number, length: number): Tensor { return narrow(this, dim, start, length); }
  indexSelect(dim: number, index: Index): Tensor { return indexSelect(this, dim, index); }
  gather(dim: number, index: Tensor | NestedArray): Tensor { return gather(this, dim, index); }
}

setTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

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
  if (status === BAD_INDEX) {
    const value = core.badValue.value as number, what = name === 'crossEntropy' || name === 'nllLoss' ? 'label' : 'index';
    const problem = Number.isInteger(value) ? `is out of range [0, ${core.badBound.value as number})` : 'is not an integer';
    throw new Error(`${op === name ? op : `${op}: ${name}`}: ${what} ${value} at position ${core.badPosition.value as number} ${problem}`);
  }
  if (status === STALE) {
    throw new Error(`${op}: a tensor that ${name} saved for the gradient was modified in place (copy_, a fill or an optimizer step) after ${name} ran; compute the graph again after modifying it`);
  }
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
  if (shape !== a.dims) { // a new shape (an input's has been checked)
    if (shape.length > MAX_RANK) throw new Error(`${name}: result would have ${shape.length} dims; at most ${MAX_RANK} are supported`);
    checkBytes(shape, name);
  }
  setScratchShape(shape);
  const id = core.runOp(op, shape.length, a.id, b ? b.id : -1, c ? c.id : -1, i0, i1, i2, i3, i4, i5, f0);
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
function dropTemporary(t: Tensor, x: unknown): void {
  if (t !== x) t.dispose();
}

// ── creation ───────────────────────────────────────────────────────────────────────────────────

export interface CreateOptions { requiresGrad?: boolean }
export interface TensorOptions extends CreateOptions { shape?: number[] }

/** Infers the shape of nested arrays and flattens them, or names where they are ragged. */
function flattenNested(data: unknown, op: string): { shape: number[]; values: number[] } {
  // The depth is measured along the first elements and refused past MAX_RANK before any value is
  // read, so nesting of any depth (or a cycle) is an Error here, never a stack overflow later.
  const shape: number[] = [];
  for (let d: unknown = data; Array.isArray(d); d = d[0]) {
    if (shape.length === MAX_RANK) {
      throw new Error(`${op}: nested arrays deeper than ${MAX_RANK} levels (a tensor has at most ${MAX_RANK} dims)`);
    }
    shape.push(d.length);
  }
  const values: number[] = [];
  const walk = (d: unknown, axis: number, path: number[]): void => {
    if (axis === shape.length) {
      if (typeof d !== 'number') throw new Error(`${op}: expected a number at [${path.join('][')}], got ${show(d)}`);
      values.push(d);
      return;
    }
    if (!Array.isArray(d) || d.length !== shape[axis]) {
      throw new Error(`${op}: ragged nested array: expected ${shape[axis]} elements at [${path.join('][')}] (like the first row), got ${Array.isArray(d) ? d.length : show(d)}`);
    }
    for (let i = 0; i < d.length; i++) walk(d[i], axis + 1, [...path, i]);
  };
  walk(data, 0, []);
  return { shape, values };
}

/** A tensor from a number, nested arrays, or a flat array / Float32Array with `shape`. */
const TENSOR_OPTIONS = { shape: (v: unknown, _name: string, op: string) => checkShape(v, op), requiresGrad: bool };
const CREATE_OPTIONS = { requiresGrad: bool };

export function tensor(data: number | NestedArray | Float32Array, options?: TensorOptions, op = 'tensor'): Tensor {
  const o = readOptions(options, TENSOR_OPTIONS, op);
  let shape: number[];
  let values: ArrayLike<number>;
  if (typeof data === 'number') {
    shape = []; values = [data];
  } else if (data instanceof Float32Array) {
    shape = [data.length]; values = data;
  } else if (Array.isArray(data)) {
    ({ shape, values } = flattenNested(data, op));
  } else {
    throw new Error(`${op}: expected a number, nested arrays of numbers or a Float32Array, got ${show(data)}`);
  }
  if (o.shape !== undefined) {
    const target = o.shape;
    if (numel(target) !== values.length) {
      throw new Error(`${op}: ${values.length} values cannot fill shape ${fmt(target)} (it needs ${numel(target)})`);
    }
    shape = target;
  }
  const t = newTensor(shape, op);
  heapF32().set(values, core.dataOf(t.id) >>> 2);
  if (o.requiresGrad) core.setRequiresGrad(t.id, 1);
  return t;
}

function creationShape(args: unknown[], op: string): { shape: number[]; options: CreateOptions } {
  // undefined options (zeros(shape, opts) with opts unset) are no options, not a size
  while (args.length > 1 && args[args.length - 1] === undefined) args = args.slice(0, -1);
  const last = args[args.length - 1];
  // a final object (or null) is the options: readOptions rejects it if it is not a plain one
  const hasOptions = args.length > 0 && typeof last === 'object' && !Array.isArray(last);
  const options = readOptions(hasOptions ? last : undefined, CREATE_OPTIONS, op);
  const dims = dimsArg(hasOptions ? args.slice(0, -1) : args);
  return { shape: checkShape(dims, op), options };
}

function filled(op: string, args: unknown[], fill: (t: Tensor) => void): Tensor {
  const { shape, options } = creationShape(args, op);
  const t = newTensor(shape, op);
  fill(t);
  if (options.requiresGrad) core.setRequiresGrad(t.id, 1);
  return t;
}

export const zeros = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('zeros', args, (t) => core.fillNode(t.id, 0));
export const ones = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('ones', args, (t) => core.fillNode(t.id, 1));
/** Uniform in [0, 1) from the seeded generator. */
export const rand = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('rand', args, (t) => issue(Cmd.RANDOM, -1, t.id, -1, 0, 0, 0, 0, 0, 0, 1));
/** Standard normal from the seeded generator. */
export const randn = (...args: (number | number[] | CreateOptions | undefined)[]): Tensor => filled('randn', args, (t) => issue(Cmd.RANDOM, -1, t.id, -1, 1, 0, 0, 0, 0, 0, 1));

export function full(shape: number[], value: number, options?: CreateOptions): Tensor {
  if (typeof value !== 'number') throw new Error(`full: value must be a number, got ${show(value)}`);
  if (!Array.isArray(shape) && typeof shape !== 'number') throw new Error(`full: shape must be an array of integers, got ${show(shape)}`);
  return filled('full', [shape, readOptions(options, CREATE_OPTIONS, 'full')], (t) => core.fillNode(t.id, value));
}

/** arange(end) or arange(start, end, step = 1), like PyTorch. */
export function arange(start: number, end?: number, step = 1, options?: CreateOptions): Tensor {
  readOptions(options, CREATE_OPTIONS, 'arange');
  if (end === undefined) { end = start; start = 0; }
  for (const [name, v] of [['start', start], ['end', end], ['step', step]] as const) checkNumber(v, name, 'arange');
  if (step === 0) throw new Error('arange: step must be nonzero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  checkBytes([n], 'arange');
  if (n > INT_MAX) throw new RangeError(`arange: ${n} elements are more than a tensor can hold`);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return tensor(values, options, 'arange');
}

/** Seeds the generator behind rand and randn; the same seed gives the same numbers everywhere. */
export function manualSeed(seed: number): void {
  checkInt(seed, 'seed', 'manualSeed', 0, Number.MAX_SAFE_INTEGER);
  core.seed(seed);
}

// ── elementwise ────────────────────────────────────────────────────────────────────────────────

function binary(op: Op, name: string, x: TensorLike, y: TensorLike): Tensor {
  // A plain number rides in the record (i0 = 1 when it is the left operand): no tensor is made.
  if (typeof y === 'number' && x instanceof Tensor) {
    live(x, name);
    return run(op, name, x.dims, x, null, null, 0, 0, 0, 0, 0, 0, y);
  }
  if (typeof x === 'number' && y instanceof Tensor) {
    live(y, name);
    return run(op, name, y.dims, y, null, null, 1, 0, 0, 0, 0, 0, x);
  }
  const a = asTensor(x, name, 'input');
  let b: Tensor | undefined;
  try {
    b = asTensor(y, name, 'other');
    return run(op, name, broadcastShape(a.dims, b.dims, name), a, b, null);
  } finally {
    dropTemporary(a, x);
    if (b !== undefined) dropTemporary(b, y);
  }
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary(Op.ADD, 'add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary(Op.SUB, 'sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MUL, 'mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary(Op.DIV, 'div', a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary(Op.POW, 'pow', a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MAXIMUM, 'maximum', a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary(Op.MINIMUM, 'minimum', a, b);

function unary(op: Op, name: string, x: TensorLike, f0 = 0): Tensor {
  const a = asTensor(x, name);
  try {
    return run(op, name, a.dims, a, null, null, 0, 0, 0, 0, 0, 0, f0);
  } finally {
    dropTemporary(a, x);
  }
}

export const neg = (a: TensorLike): Tensor => unary(Op.NEG, 'neg', a);
export const abs = (a: TensorLike): Tensor => unary(Op.ABS, 'abs', a);
export const exp = (a: TensorLike): Tensor => unary(Op.EXP, 'exp', a);
export const log = (a: TensorLike): Tensor => unary(Op.LOG, 'log', a);
export const sqrt = (a: TensorLike): Tensor => unary(Op.SQRT, 'sqrt', a);
export const tanh = (a: TensorLike): Tensor => unary(Op.TANH, 'tanh', a);
export const sigmoid = (a: TensorLike): Tensor => unary(Op.SIGMOID, 'sigmoid', a);
export const relu = (a: TensorLike): Tensor => unary(Op.RELU, 'relu', a);

export function leakyRelu(a: TensorLike, negativeSlope = 0.01): Tensor {
  checkNumber(negativeSlope, 'negativeSlope', 'leakyRelu');
  return unary(Op.LEAKY_RELU, 'leakyRelu', a, negativeSlope);
}

/** GELU, exact (erf) by default; `{approximate: 'tanh'}` for the tanh approximation, like PyTorch. */
const GELU_OPTIONS = { approximate: oneOf(['none', 'tanh'] as const) };

export function gelu(a: TensorLike, options?: { approximate?: 'none' | 'tanh' }): Tensor {
  const approximate = readOptions(options, GELU_OPTIONS, 'gelu').approximate ?? 'none';
  return unary(approximate === 'tanh' ? Op.GELU_TANH : Op.GELU, 'gelu', a);
}

// ── matmul ─────────────────────────────────────────────────────────────────────────────────────

const MATMUL_OPERANDS = ['input', 'other'];

/** Matrix product with PyTorch's rules for 1-D, 2-D and batched (broadcast) operands. */
export function matmul(x: TensorLike, y: TensorLike): Tensor {
  return withTensors('matmul', [x, y], ([a, b]) => matmulWith(a, b, false, 'matmul'), MATMUL_OPERANDS);
}

/**
 * a · b, or a · bᵀ for a 2-D b when `transposeB` (nn.linear's weight is [out, in]): the kernel
 * reads b through strides, so no transposed copy is made. A `bias` of N values (the caller checks
 * its shape) is added to every output row inside the same op.
 */
export function matmulWith(a: Tensor, y: Tensor, transposeB: boolean, name: string, bias: Tensor | null = null): Tensor {
  const b = y;
  const sa = a.dims, sb = transposeB ? [b.dims[1], b.dims[0]] : b.dims;
  if (sa.length === 0 || sb.length === 0) {
    throw new Error(`${name}: both operands need at least 1 dim, got shapes ${fmt(sa)} and ${fmt(sb)}`);
  }
  const M = sa.length === 1 ? 1 : sa[sa.length - 2];
  const K = sa[sa.length - 1];
  const Kb = sb.length === 1 ? sb[0] : sb[sb.length - 2];
  const N = sb.length === 1 ? 1 : sb[sb.length - 1];
  if (K !== Kb) {
    throw new Error(`${name}: shapes ${fmt(a.dims)} and ${fmt(b.dims)} cannot be multiplied (${K} columns vs ${Kb} rows${transposeB ? ' of the transposed weight' : ''})`);
  }
  const batchA = sa.slice(0, Math.max(0, sa.length - 2)), batchB = sb.slice(0, Math.max(0, sb.length - 2));
  let batch: Shape;
  try {
    batch = broadcastShape(batchA, batchB, 'matmul');
  } catch {
    throw new Error(`matmul: batch dims of shapes ${fmt(sa)} and ${fmt(sb)} cannot be broadcast (${fmt(batchA)} vs ${fmt(batchB)})`);
  }
  const shape = [...batch];
  if (sa.length > 1) shape.push(M);
  if (sb.length > 1) shape.push(N);
  return run(Op.MATMUL, name, shape, a, b, bias, M, K, N, numel(batch), batch.length, transposeB ? 1 : 0);
}

// ── reductions ─────────────────────────────────────────────────────────────────────────────────

/** Sorted, de-duplicated axes of a dim argument (undefined: every axis). */
function reduceAxes(a: Tensor, dim: number | number[] | undefined, op: string): number[] {
  const rank = a.dims.length;
  if (dim === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = Array.isArray(dim) ? dim : [dim];
  const axes = [...new Set(list.map((d) => normAxis(d, rank, op, a.dims)))].sort((p, q) => p - q);
  // an empty list reduces every dim, as PyTorch's x.sum(dim=[]) does
  if (list.length === 0) return Array.from({ length: rank }, (_, i) => i);
  return rank === 0 ? [] : axes;
}

function reduce(op: Op, name: string, x: TensorLike, dim: number | number[] | undefined, keepdim: boolean): Tensor {
  checkBool(keepdim, 'keepdim', name);
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => reduce(op, name, t, dim, keepdim));
  const a = x;
  live(a, name);
  const axes = reduceAxes(a, dim, name);
  const shape = a.dims;
  const outShape = keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
  if (axes.length > 0 && axes.some((ax) => shape[ax] === 0) && (op === Op.MAX || op === Op.MIN)) {
    throw new Error(`${name}: cannot reduce an empty dim of shape ${fmt(shape)}`);
  }
  // Split the axes into runs of adjacent axes; each run is one [outer, R, inner] reduction.
  const runs: [number, number][] = [];
  for (const ax of axes) {
    const lastRun = runs[runs.length - 1];
    if (lastRun && lastRun[1] === ax - 1) lastRun[1] = ax;
    else runs.push([ax, ax]);
  }
  if (runs.length === 0) runs.push([0, -1]); // nothing to reduce: a copy through [size, 1, 1]
  // max()/min() over everything or a list of dims share a tie's gradient (like amax); over one dim
  // the first extreme takes it (like max(dim), whose gradient follows the index it returns)
  const shareTies = typeof dim === 'number' ? 0 : 1;
  if (runs.length > 1 && op !== Op.SUM && op !== Op.MEAN) {
    // max, min and logsumexp of separate runs are not a chain of single reductions (ties would
    // split their gradient per run, an all −∞ slice would give NaN): gather the reduced dims last
    const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const gathered = permute(a, [...kept, ...axes], name);
    const out = run(op, name, outShape, gathered, null, null, numel(kept.map((i) => shape[i])), numel(axes.map((i) => shape[i])), 1, shareTies);
    gathered.dispose(); // its record keeps it for the graph
    return out;
  }
  let cur = a;
  let curShape: number[] = shape.slice();
  for (let r = runs.length - 1; r >= 0; r--) {
    const [first, last] = runs[r];
    const outer = prod(curShape, 0, first), R = prod(curShape, first, last + 1), inner = prod(curShape, last + 1, curShape.length);
    const isLast = r === 0;
    const nextShape = curShape.map((d, i) => (i >= first && i <= last ? 1 : d));
    const next = run(op, name, isLast ? outShape : nextShape, cur, null, null, outer, R, inner, shareTies);
    if (cur !== a) cur.dispose(); // an intermediate of a multi-run reduction: its record keeps it
    cur = next;
    curShape = nextShape;
  }
  return cur;
}

export const sum = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.SUM, 'sum', a, dim, keepdim);
export const mean = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.MEAN, 'mean', a, dim, keepdim);
export const max = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.MAX, 'max', a, dim, keepdim);
export const min = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.MIN, 'min', a, dim, keepdim);
export const logsumexp = (a: TensorLike, dim?: number | number[], keepdim = false): Tensor => reduce(Op.LOGSUMEXP, 'logsumexp', a, dim, keepdim);

function argReduce(isMax: boolean, name: string, x: TensorLike, dim: number | undefined, keepdim: boolean): Tensor {
  checkBool(keepdim, 'keepdim', name);
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => argReduce(isMax, name, t, dim, keepdim));
  const a = x;
  live(a, name);
  let shape: number[], outer: number, R: number, inner: number;
  if (dim === undefined) {
    shape = []; outer = 1; R = a.size; inner = 1;
  } else {
    const ax = normAxis(dim, a.dims.length, name, a.dims);
    outer = prod(a.dims, 0, ax); R = a.dims.length ? a.dims[ax] : 1; inner = prod(a.dims, ax + 1, a.dims.length);
    shape = keepdim ? a.dims.map((d, i) => (i === ax ? 1 : d)) : a.dims.filter((_, i) => i !== ax);
  }
  // Like PyTorch: an empty reduced dim has no index to return; an empty other dim gives an empty result.
  if (R === 0) throw new Error(`${name}: cannot reduce an empty ${dim === undefined ? 'tensor' : `dim ${dim}`} of shape ${fmt(a.dims)}`);
  const out = newTensor(shape, name);
  issue(Cmd.ARG_REDUCE, out.id, a.id, -1, isMax ? 1 : 0, outer, R, inner);
  return out;
}

export const argmax = (a: TensorLike, dim?: number, keepdim = false): Tensor => argReduce(true, 'argmax', a, dim, keepdim);
export const argmin = (a: TensorLike, dim?: number, keepdim = false): Tensor => argReduce(false, 'argmin', a, dim, keepdim);

function softmaxLike(op: Op, name: string, x: TensorLike, dim: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => softmaxLike(op, name, t, dim));
  const a = x;
  live(a, name);
  if (dim === undefined) throw new Error(`${name}: dim is required (the axis to normalise over)`);
  const ax = normAxis(dim, a.dims.length, name, a.dims);
  const R = a.dims.length ? a.dims[ax] : 1;
  return run(op, name, a.dims, a, null, null, prod(a.dims, 0, ax), R, prod(a.dims, ax + 1, a.dims.length));
}

export const softmax = (a: TensorLike, dim: number): Tensor => softmaxLike(Op.SOFTMAX, 'softmax', a, dim);
export const logSoftmax = (a: TensorLike, dim: number): Tensor => softmaxLike(Op.LOG_SOFTMAX, 'logSoftmax', a, dim);

// ── shape ──────────────────────────────────────────────────────────────────────────────────────

export function reshape(x: TensorLike, shape: number[], name = 'reshape'): Tensor {
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => reshape(t, shape, name));
  const a = x;
  live(a, name);
  if (!Array.isArray(shape)) throw new Error(`${name}: shape must be an array of integers, got ${show(shape)}`);
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new Error(`${name}: only one dim can be -1, got shape ${fmt(shape)}`);
  const target = checkShape(shape.map((d) => (d === -1 ? 0 : d)), name);
  const known = numel(target.filter((_, i) => shape[i] !== -1));
  if (free === 1) {
    const i = shape.indexOf(-1);
    if (known === 0 || a.size % known !== 0) throw new Error(`${name}: shape ${fmt(shape)} is invalid for a tensor of shape ${fmt(a.dims)} (${a.size} elements)`);
    target[i] = a.size / known;
  }
  if (numel(target) !== a.size) throw new Error(`${name}: shape ${fmt(shape)} is invalid for a tensor of shape ${fmt(a.dims)} (${a.size} elements)`);
  return run(Op.RESHAPE, name, target, a, null, null);
}

export function flatten(x: TensorLike, startDim = 0, endDim = -1): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('flatten', x, (t) => flatten(t, startDim, endDim));
  const a = x;
  live(a, 'flatten');
  if (a.dims.length === 0) return reshape(a, [1], 'flatten');
  const s = normAxis(startDim, a.dims.length, 'flatten', a.dims), e = normAxis(endDim, a.dims.length, 'flatten', a.dims);
  if (s > e) throw new Error(`flatten: startDim ${startDim} comes after endDim ${endDim} for shape ${fmt(a.dims)}`);
  return reshape(a, [...a.dims.slice(0, s), prod(a.dims, s, e + 1), ...a.dims.slice(e + 1)], 'flatten');
}

export function squeeze(x: TensorLike, dim?: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('squeeze', x, (t) => squeeze(t, dim));
  const a = x;
  live(a, 'squeeze');
  if (dim === undefined) return reshape(a, a.dims.filter((d) => d !== 1), 'squeeze');
  const ax = normAxis(dim, a.dims.length, 'squeeze', a.dims);
  return reshape(a, a.dims.filter((d, i) => i !== ax || d !== 1), 'squeeze');
}

export function unsqueeze(x: TensorLike, dim: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('unsqueeze', x, (t) => unsqueeze(t, dim));
  const a = x;
  live(a, 'unsqueeze');
  const ax = normAxis(dim, a.dims.length + 1, 'unsqueeze', a.dims);
  return reshape(a, [...a.dims.slice(0, ax), 1, ...a.dims.slice(ax)], 'unsqueeze');
}

export function permute(x: TensorLike, dims: number[], name = 'permute'): Tensor {
  if (!(x instanceof Tensor)) return viaTensor(name, x, (t) => permute(t, dims, name));
  const a = x;
  live(a, name);
  const rank = a.dims.length;
  if (!Array.isArray(dims) || dims.length !== rank) {
    throw new Error(`${name}: dims ${fmt(dims)} must list each of the ${rank} dims of shape ${fmt(a.dims)} once`);
  }
  const perm = dims.map((d) => normAxis(d, rank, name, a.dims));
  if (new Set(perm).size !== rank) throw new Error(`${name}: dims ${fmt(dims)} repeat a dim of shape ${fmt(a.dims)}`);
  let packed = 0;
  perm.forEach((p, i) => { packed |= p << (4 * i); });
  return run(Op.PERMUTE, name, perm.map((p) => a.dims[p]), a, null, null, packed);
}

export function transpose(x: TensorLike, dim0: number, dim1: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('transpose', x, (t) => transpose(t, dim0, dim1));
  const a = x;
  live(a, 'transpose');
  const rank = a.dims.length;
  const d0 = normAxis(dim0, rank, 'transpose', a.dims), d1 = normAxis(dim1, rank, 'transpose', a.dims);
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[d0] = d1; perm[d1] = d0;
  return permute(a, perm, 'transpose');
}

export function expand(x: TensorLike, shape: number[]): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('expand', x, (t) => expand(t, shape));
  const a = x;
  live(a, 'expand');
  if (!Array.isArray(shape) || shape.length < a.dims.length) {
    throw new Error(`expand: shape ${fmt(shape)} must have at least the ${a.dims.length} dims of ${fmt(a.dims)}`);
  }
  const lead = shape.length - a.dims.length;
  const target = shape.map((d, i) => {
    const own = i < lead ? -1 : a.dims[i - lead];
    if (d === -1) {
      if (i < lead) throw new Error(`expand: -1 is not allowed for the new leading dim ${i} in ${fmt(shape)}`);
      return own;
    }
    if (!Number.isInteger(d) || d < 0 || (i >= lead && own !== 1 && own !== d)) {
      throw new Error(`expand: cannot expand shape ${fmt(a.dims)} to ${fmt(shape)} (dim ${i})`);
    }
    return d;
  });
  return run(Op.EXPAND, 'expand', checkShape(target, 'expand'), a, null, null);
}

/** fn on the list's items as tensors; items made from arrays are released afterwards. */
function withTensorList<R>(tensors: unknown, op: string, fn: (parts: Tensor[]) => R): R {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error(`${op}: expected a non-empty array of tensors, got ${show(tensors)}`);
  return withTensors(op, tensors, fn, tensors.map((_, i) => `tensors[${i}]`));
}

/** Writes each input into its slice of a new output, one CAT_PART record per input. */
function joinParts(name: string, shape: number[], parts: Tensor[], outer: number, rowOut: number, rowOf: (t: Tensor) => number): Tensor {
  const out = newTensor(shape, name);
  let offset = 0;
  for (const t of parts) {
    const row = rowOf(t);
    const status = core.runOpInto(Op.CAT_PART, out.id, t.id, -1, -1, outer, rowOut, row, offset, 0, 0, 0);
    if (status < 0) { out.dispose(); fail(status, name); }
    offset += row;
  }
  return out;
}

export function cat(tensors: Tensor[], dim = 0): Tensor {
  return withTensorList(tensors, 'cat', (parts) => catOf(parts, dim));
}

function catOf(parts: Tensor[], dim: number): Tensor {
  const first = parts[0].dims;
  if (first.length === 0) throw new Error('cat: zero-dimensional tensors cannot be concatenated');
  const ax = normAxis(dim, first.length, 'cat', first);
  for (const t of parts) {
    if (t.dims.length !== first.length || t.dims.some((d, i) => i !== ax && d !== first[i])) {
      throw new Error(`cat: shapes ${fmt(first)} and ${fmt(t.dims)} differ outside dim ${ax}`);
    }
  }
  const shape = first.slice();
  shape[ax] = parts.reduce((s, t) => s + t.dims[ax], 0);
  const inner = prod(first, ax + 1, first.length);
  return joinParts('cat', checkShape(shape, 'cat'), parts, prod(first, 0, ax), shape[ax] * inner, (t) => t.dims[ax] * inner);
}

export function stack(tensors: Tensor[], dim = 0): Tensor {
  return withTensorList(tensors, 'stack', (parts) => stackOf(parts, dim));
}

function stackOf(parts: Tensor[], dim: number): Tensor {
  const first = parts[0].dims;
  for (const t of parts) {
    if (!sameShape(t.dims, first)) throw new Error(`stack: all tensors must have the same shape, got ${fmt(first)} and ${fmt(t.dims)}`);
  }
  const ax = normAxis(dim, first.length + 1, 'stack', first);
  const shape = [...first.slice(0, ax), parts.length, ...first.slice(ax)];
  const inner = prod(first, ax, first.length);
  return joinParts('stack', checkShape(shape, 'stack'), parts, prod(first, 0, ax), parts.length * inner, () => inner);
}

export function narrow(x: TensorLike, dim: number, start: number, length: number): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('narrow', x, (t) => narrow(t, dim, start, length));
  const a = x;
  live(a, 'narrow');
  if (a.dims.length === 0) throw new Error('narrow: cannot narrow a 0-d tensor');
  const ax = normAxis(dim, a.dims.length, 'narrow', a.dims);
  const n = a.dims[ax];
  checkInt(start, 'start', 'narrow', -INT_MAX);
  checkInt(length, 'length', 'narrow', 0);
  if (start < -n || start > n) throw new Error(`narrow: start ${start} is out of range for dim ${ax} of shape ${fmt(a.dims)}`);
  const s = start < 0 ? start + n : start;
  if (s + length > n) {
    throw new Error(`narrow: start ${start} + length ${length} exceeds dim ${ax} of size ${n} in shape ${fmt(a.dims)}`);
  }
  const inner = prod(a.dims, ax + 1, a.dims.length);
  const shape = a.dims.slice();
  shape[ax] = length;
  return run(Op.NARROW, 'narrow', shape, a, null, null, prod(a.dims, 0, ax), n * inner, length * inner, s * inner);
}

/**
 * An index argument as a tensor, and whether we made it (to release). Plain indices are checked
 * here, where they are, before they are copied into the arena; a tensor's values (and nested
 * arrays, once flattened) are checked by the kernel that reads them, which it does anyway.
 */
export function indexTensor(index: unknown, bound: number, op: string): { t: Tensor; owned: boolean } {
  if (index instanceof Int32Array || (Array.isArray(index) && (index.length === 0 || typeof index[0] === 'number'))) {
    checkIndices(index as ArrayLike<number>, bound, op);
    return { t: tensor(index instanceof Int32Array ? Float32Array.from(index) : (index as number[]), undefined, op), owned: true };
  }
  if (Array.isArray(index)) return { t: tensor(index as NestedArray, undefined, op), owned: true }; // nested (gather)
  if (!(index instanceof Tensor)) throw new Error(`${op}: index must be a Tensor, number[] or Int32Array, got ${show(index)}`);
  return { t: asTensor(index, op), owned: false };
}

function checkIndices(values: ArrayLike<number>, bound: number, op: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isInteger(v)) throw new Error(`${op}: index ${show(v)} at position ${i} is not an integer`);
    if (v < 0 || v >= bound) throw new Error(`${op}: index ${v} at position ${i} is out of range [0, ${bound})`);
  }
}

export function indexSelect(x: TensorLike, dim: number, index: Index): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('indexSelect', x, (t) => indexSelect(t, dim, index));
  const a = x;
  live(a, 'indexSelect');
  const ax = normAxis(dim, a.dims.length, 'indexSelect', a.dims);
  const R = a.dims.length ? a.dims[ax] : 1;
  const { t, owned } = indexTensor(index, R, 'indexSelect');
  try {
    if (t.dims.length > 1) throw new Error(`indexSelect: index must be 1-D, got shape ${fmt(t.dims)}`);
    const count = t.size;
    const shape = a.dims.length ? a.dims.slice() : [];
    if (shape.length) shape[ax] = count;
    return run(Op.INDEX_SELECT, 'indexSelect', shape, a, null, t, prod(a.dims, 0, ax), R, prod(a.dims, ax + 1, a.dims.length), count);
  } finally {
    if (owned) t.dispose(); // the tape record keeps the index node alive while it needs it
  }
}

export function gather(x: TensorLike, dim: number, index: Tensor | NestedArray): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('gather', x, (t) => gather(t, dim, index));
  const a = x;
  live(a, 'gather');
  const ax = normAxis(dim, a.dims.length, 'gather', a.dims);
  const R = a.dims.length ? a.dims[ax] : 1;
  const { t, owned } = indexTensor(index, R, 'gather');
  try {
    if (t.dims.length !== a.dims.length || t.dims.some((d, i) => i !== ax && d > a.dims[i])) {
      throw new Error(`gather: index of shape ${fmt(t.dims)} does not fit input of shape ${fmt(a.dims)} along dim ${ax}`);
    }
    return run(Op.GATHER, 'gather', t.dims, a, null, t, ax);
  } finally {
    if (owned) t.dispose();
  }
}

// ── autograd ───────────────────────────────────────────────────────────────────────────────────

export interface BackwardOptions {
  /** Keep the graph walkable: without it a second backward() through the same graph throws, as in PyTorch. */
  retainGraph?: boolean;
}

/**
 * Accumulates d(root)/d(leaf) into every leaf's `.grad`. `grad` is the gradient of root (needed
 * unless root has one element); `backward(options)` and `backward(grad, options)` both work.
 */
export function backward(root: Tensor, grad?: TensorLike | BackwardOptions, options?: BackwardOptions): void {
  const id = live(root, 'backward');
  if (options === undefined && isOptionsObject(grad)) { options = grad as BackwardOptions; grad = undefined; }
  const retain = options !== undefined && readOptions(options, BACKWARD_OPTIONS, 'backward').retainGraph === true;
  if (!root.requiresGrad) throw new Error(`backward: the tensor of shape ${fmt(root.dims)} does not require grad (no input had requiresGrad, or it was made under noGrad)`);
  let seed = -1;
  let owned: Tensor | null = null;
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new Error(`backward: a gradient can be implied only for a tensor with one element, got shape ${fmt(root.dims)}; pass backward(grad) with a gradient of that shape`);
    }
  } else {
    const g = grad instanceof Tensor ? asTensor(grad, 'backward') : (owned = asTensor(grad, 'backward'));
    if (g.size !== root.size || (g.dims.length > 0 && !sameShape(g.dims, root.dims))) {
      owned?.dispose();
      throw new Error(`backward: gradient of shape ${fmt(g.dims)} does not match the tensor's shape ${fmt(root.dims)}`);
    }
    seed = g.id;
  }
  const status = issue(Cmd.BACKWARD, -1, id, seed, retain ? 1 : 0);
  owned?.dispose();
  if (status < 0) fail(status, 'backward');
}

const BACKWARD_OPTIONS = { retainGraph: bool };

/** backward(options): a plain object that is not an operand (backward(grad) takes tensors and arrays). */
function isOptionsObject(x: unknown): boolean {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Tensor) && !ArrayBuffer.isView(x);
}

/** Runs fn with gradient tracking off: nothing is recorded and results do not require grad. */
export function noGrad<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw new Error(`noGrad: expected a function, got ${typeof fn}`);
  const was = core.setGradEnabled(0);
  try {
    return fn();
  } finally {
    core.setGradEnabled(was);
  }
}

/** A new tensor with the same values that is not part of any graph. */
export function detach(x: TensorLike): Tensor {
  if (!(x instanceof Tensor)) return viaTensor('detach', x, (t) => detach(t));
  const a = x;
  live(a, 'detach');
  return noGrad(() => run(Op.RESHAPE, 'detach', a.dims, a, null, null));
}
