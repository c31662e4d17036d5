// The sentinel harness (issue 8): every public function and method, called with hostile inputs,
// eagerly and under tg.trace, next to a ring of sentinel tensors whose values and gradients are
// known. For each call: it returns normally or throws an Error whose message names the op (a
// RangeError only for running out of memory); afterwards every sentinel is bit-identical,
// memory().tensors is what it was (once what the call returned is disposed), and a small
// computation still gives its known answer.
//
// The case table must cover every public name: a new function or method without a case fails
// the coverage test, so it gets its hostile inputs too.
//
// The issue's own repros of the rows that corrupted memory (1, 4, 13, 14) run last, each on a
// fresh engine, so a regression in one cannot decide another's outcome.
//
// SENTINEL_LOG=1 prints every failing call; SENTINEL_MESSAGES=1 prints every error message (to
// read them for quality: does each name its op and argument?).
import { describe, it, expect, beforeAll } from 'vitest';
import * as tgm from '../dist/index.js';

// `let`: the issue's repros each run on a fresh engine (a fresh import of the bundle), since a
// regression in one may corrupt memory for the next.
let tg: typeof tgm = tgm;
let F = tg.nn.functional;
let { nn, optim } = tg;
type T = tgm.Tensor;
async function freshEngine(tag: string): Promise<void> {
  tg = (await import(/* @vite-ignore */ `../dist/index.js?engine=${encodeURIComponent(tag)}`)) as typeof tgm;
  F = tg.nn.functional;
  ({ nn, optim } = tg);
  ring = [];
  engineBroken = false;
  buildRing();
}

// ── hostile values ───────────────────────────────────────────────────────────────────────────
// Thunks: tensors are made fresh for each call (the harness disposes them afterwards).

interface Hostile { label: string; make: () => unknown }
const h = (label: string, make: () => unknown): Hostile => ({ label, make });

let deep10k: unknown = 1;
for (let i = 0; i < 10_000; i++) deep10k = [deep10k];
const cyclic: unknown[] = [];
cyclic.push(cyclic);
const disposedTensor = (): T => {
  const t = tg.tensor([1, 2]);
  t.dispose();
  return t;
};

const COMMON: Hostile[] = [
  h('undefined', () => undefined),
  h('null', () => null),
  h('string', () => 'abc'),
  h('Symbol', () => Symbol('s')),
  h('{}', () => ({})),
  h('[]', () => []),
  h('disposed tensor', disposedTensor),
  h('true', () => true),
  h('bigint', () => 5n),
  h('function', () => () => 1),
];

const NUMBERS: Hostile[] = [
  h('NaN', () => NaN),
  h('Infinity', () => Infinity),
  h('-Infinity', () => -Infinity),
  h('-1', () => -1),
  h('0', () => 0),
  h('1.5', () => 1.5),
  h('2**31', () => 2 ** 31),
  h('2**32+1', () => 2 ** 32 + 1),
  h('2**53', () => 2 ** 53),
  h('-(2**31)-1', () => -(2 ** 31) - 1),
  h('1e308', () => 1e308),
  h('1e9', () => 1e9), // a size whose tensor needs 4 GB: refused before anything is allocated
  h('-0', () => -0),
];

const TENSORS: Hostile[] = [
  h('empty [0]', () => tg.zeros([0])),
  h('empty [0,3]', () => tg.zeros([0, 3])),
  h('empty [3,0]', () => tg.zeros([3, 0])),
  h('empty [0,3,3]', () => tg.zeros([0, 3, 3])),
  h('empty [1,1,0,0]', () => tg.zeros([1, 1, 0, 0])),
  h('0-d', () => tg.tensor(2)),
  h('[2,2]', () => tg.tensor([[1, 2], [3, 4]])),
  h('[5] requiresGrad', () => tg.tensor([1, -2, 3, -4, 5], { requiresGrad: true })),
  h('NaN/Inf tensor', () => tg.tensor([NaN, Infinity, -Infinity])),
  h('Float32Array(0)', () => new Float32Array(0)),
  h('Int32Array', () => Int32Array.of(1, 2)),
  h('deep 8', () => [[[[[[[[9]]]]]]]]),
  h('deep 10000', () => deep10k),
  h('cyclic', () => cyclic),
  h('ragged', () => [[1], [2, 3]]),
  h('[Symbol]', () => [Symbol('x')]),
  h('[string]', () => ['1']),
  h('number 7', () => 7),
  h('number NaN', () => NaN),
  // eslint-disable-next-line no-sparse-arrays
  h('holey array', () => [1, , 3]),
  h('Float64Array', () => new Float64Array(3)),
  h('array-like', () => ({ length: 2, 0: 1, 1: 2 })),
];

const INTS: Hostile[] = [...COMMON, ...NUMBERS, h('tensor 1', () => tg.tensor(1)), h("'1'", () => '1')];
const DIMS: Hostile[] = [
  ...INTS,
  h('[] dims', () => []),
  h('[0,0]', () => [0, 0]),
  h('[1.5]', () => [1.5]),
  h('[2**31]', () => [2 ** 31]),
  h('[NaN]', () => [NaN]),
  h('[Symbol]', () => [Symbol('d')]),
  h('[-100]', () => [-100]),
  h('deep 8', () => [[[[[[[[0]]]]]]]]),
];
const SHAPES: Hostile[] = [
  ...COMMON,
  ...NUMBERS,
  h('[-1]', () => [-1]),
  h('[1.5]', () => [1.5]),
  h('[2**31]', () => [2 ** 31]),
  h('[0,2**32]', () => [0, 2 ** 32]),
  h('[1e6,1e6]', () => [1e6, 1e6]),
  h('rank 8', () => [1, 1, 1, 1, 1, 1, 1, 1]),
  h('[NaN]', () => [NaN]),
  h('[Symbol]', () => [Symbol('s')]),
  h('[[2]]', () => [[2]]),
  h('[-1,-1]', () => [-1, -1]),
  h('deep 10000', () => deep10k),
];
const NUMS: Hostile[] = [...COMMON, ...NUMBERS, h('tensor', () => tg.tensor([1, 2])), h("'1'", () => '1')];
const BOOLS: Hostile[] = [...COMMON, h('0', () => 0), h('1', () => 1), h("'yes'", () => 'yes'), h('tensor', () => tg.tensor(1))];
const INDICES: Hostile[] = [
  ...COMMON,
  ...TENSORS,
  h('[1.5]', () => [1.5]),
  h('[NaN]', () => [NaN]),
  h('[-1]', () => [-1]),
  h('[1e9]', () => [1e9]),
  h('[2**31]', () => [2 ** 31]),
  h('tensor [1.5]', () => tg.tensor([1.5])),
  h('tensor [7]', () => tg.tensor([7])),
  h('tensor [-1]', () => tg.tensor([-1])),
  h('Int32Array [-1]', () => Int32Array.of(-1)),
  h("['0']", () => ['0']),
  h('[[0],[9]]', () => [[0], [9]]),
];
const FNS: Hostile[] = [
  ...COMMON.filter((v) => v.label !== 'function'),
  h('fn → string', () => () => 'abc'),
  h('fn → number', () => () => 5),
  h('fn → disposed', () => () => disposedTensor()),
];
const LISTS: Hostile[] = [
  ...COMMON,
  h('[tensor, string]', () => [tg.tensor([1, 2]), 'abc']),
  h('[tensor, disposed]', () => [tg.tensor([1, 2]), disposedTensor()]),
  h('[deep 8]', () => [[[[[[[[[1]]]]]]]]]),
  h('[empty, [2]]', () => [tg.zeros([0]), tg.tensor([1, 2])]),
  h('[0-d, 0-d]', () => [tg.tensor(1), tg.tensor(2)]),
  h('[null]', () => [null]),
  h('cyclic', () => cyclic),
  h('arrays', () => [[1, 2], [3, 4]]),
  h('[array, string]', () => [[1, 2], 'abc']),
  h('[array, ragged]', () => [[1, 2], [[1], [2, 3]]]),
];
const ANY: Hostile[] = [...COMMON, ...NUMBERS.slice(0, 6), h('cyclic', () => cyclic), h('deep 10000', () => deep10k)];

/** Options objects: not objects, prototype tricks, misspelled keys, and bad values for each key. */
function optionsHostile(keys: string[]): Hostile[] {
  const out: Hostile[] = [
    ...COMMON.filter((v) => v.label !== 'undefined' && v.label !== '{}'),
    h('5', () => 5),
    h('tensor', () => tg.tensor([1])),
    h('{toString}', () => ({ toString: 1 })),
    h('{constructor}', () => ({ constructor: 1 })),
    h('{valueOf}', () => ({ valueOf: () => 1 })),
    h('own __proto__', () => JSON.parse('{"__proto__": {"x": 1}}')),
    h('inherited keys', () => Object.create(Object.fromEntries(keys.map((k) => [k, 1])))),
    h('{misspelled}', () => ({ [`${keys[0] ?? 'x'}s`]: 1 })),
    h('{dilation}', () => ({ dilation: 2 })),
    h('{groups}', () => ({ groups: 2 })),
    h('{[Symbol]}', () => ({ [Symbol('k')]: 1 })),
    h('Map', () => new Map([[keys[0] ?? 'x', 1]])),
  ];
  const values: [string, () => unknown][] = [
    ["'toString'", () => 'toString'], ["'__proto__'", () => '__proto__'], ["'constructor'", () => 'constructor'],
    ["'valueOf'", () => 'valueOf'], ['NaN', () => NaN], ['-1', () => -1], ['1.5', () => 1.5], ['2**31', () => 2 ** 31],
    ['null', () => null], ['{}', () => ({})], ['Symbol', () => Symbol('v')], ['tensor', () => tg.tensor([1])],
    ['[1,2,3]', () => [1, 2, 3]], ['Infinity', () => Infinity], ["'abc'", () => 'abc'], ['[NaN, 1]', () => [NaN, 1]],
  ];
  for (const k of keys) for (const [label, make] of values) out.push(h(`{${k}: ${label}}`, () => ({ [k]: make() })));
  return out;
}

type Kind = Hostile[];
const SELF_TENSORS: Hostile[] = [
  h('disposed', disposedTensor),
  h('empty [0]', () => tg.zeros([0])),
  h('empty [0,3]', () => tg.zeros([0, 3], { requiresGrad: true })),
  h('0-d', () => tg.tensor(2, { requiresGrad: true })),
  h('NaN/Inf', () => tg.tensor([NaN, Infinity, -Infinity])),
  h('[2,2,2]', () => tg.ones([2, 2, 2])),
];

// ── the case table ─────────────────────────────────────────────────────────────────────────────

interface Case {
  /** `tg.add`, `Tensor#add`, `F.conv2d`, `nn.Linear`, `nn.Linear#forward`, `Module#train`, ... */
  name: string;
  /** What the error message must contain (default: the name's last part). */
  op: string | RegExp;
  /** Fresh valid arguments. */
  args: () => unknown[];
  /** Hostile values for each argument position. */
  kinds: Kind[];
  call: (a: any[]) => unknown;
}
const CASES: Case[] = [];
function add(name: string, kinds: Kind[], args: () => unknown[], call: (a: any[]) => unknown, op?: string | RegExp): void {
  CASES.push({ name, op: op ?? name.replace(/^.*[#.]/, ''), args, kinds, call });
}

const m33 = (): T => tg.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]], { requiresGrad: true });
const v3 = (): T => tg.tensor([0.5, -1, 2], { requiresGrad: true });
const img = (): T => tg.tensor(Array.from({ length: 32 }, (_, i) => (i * 7) % 5 - 2), { shape: [2, 1, 4, 4], requiresGrad: true });
const img4 = (): T => tg.tensor(Array.from({ length: 24 }, (_, i) => (i * 5) % 7 - 3), { shape: [2, 4, 3], requiresGrad: true });
const scores = (): T => tg.tensor([[1, 2, 3], [3, 2, 1]], { requiresGrad: true });

// top-level functions
for (const f of ['abs', 'neg', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'detach'] as const) {
  add(`tg.${f}`, [TENSORS], () => [m33()], (a) => (tg[f] as (x: unknown) => unknown)(a[0]));
}
for (const f of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'matmul'] as const) {
  add(`tg.${f}`, [TENSORS, TENSORS], () => [m33(), m33()], (a) => (tg[f] as (x: unknown, y: unknown) => unknown)(a[0], a[1]));
}
add('tg.arange', [NUMS, NUMS, NUMS, optionsHostile(['requiresGrad'])], () => [0, 5, 1, { requiresGrad: true }], (a) => tg.arange(a[0], a[1], a[2], a[3]));
for (const f of ['argmax', 'argmin'] as const) add(`tg.${f}`, [TENSORS, INTS, BOOLS], () => [m33(), 1, false], (a) => tg[f](a[0], a[1], a[2]));
for (const f of ['sum', 'mean', 'max', 'min', 'logsumexp'] as const) add(`tg.${f}`, [TENSORS, DIMS, BOOLS], () => [m33(), [0, 1], true], (a) => tg[f](a[0], a[1], a[2]));
for (const f of ['softmax', 'logSoftmax'] as const) add(`tg.${f}`, [TENSORS, INTS], () => [m33(), -1], (a) => tg[f](a[0], a[1]));
/** x and Σx² (its graph's intermediate released by tidy; the record keeps it while needed). */
const lossOf = (): [T, T] => { const x = v3(); return [tg.tidy(() => x.mul(x).sum()), x]; };
add('tg.backward', [SELF_TENSORS, TENSORS], () => { const [l, x] = lossOf(); return [l, tg.tensor(1), x]; }, (a) => tg.backward(a[0], a[1]));
for (const f of ['cat', 'stack'] as const) add(`tg.${f}`, [LISTS, INTS], () => [[m33(), m33()], 1], (a) => tg[f](a[0], a[1]));
add('tg.dispose', [ANY], () => [[tg.ones([2]), { x: tg.ones([3]) }]], (a) => tg.dispose(a[0]));
add('tg.expand', [TENSORS, SHAPES], () => [tg.tensor([[1], [2]]), [2, 3]], (a) => tg.expand(a[0], a[1]));
add('tg.flatten', [TENSORS, INTS, INTS], () => [m33(), 0, -1], (a) => tg.flatten(a[0], a[1], a[2]));
add('tg.full', [SHAPES, NUMS, optionsHostile(['requiresGrad'])], () => [[2, 3], 1.5, { requiresGrad: false }], (a) => tg.full(a[0], a[1], a[2]));
add('tg.gather', [TENSORS, INTS, INDICES], () => [m33(), 1, [[0], [2], [1]]], (a) => tg.gather(a[0], a[1], a[2]));
add('tg.gelu', [TENSORS, optionsHostile(['approximate'])], () => [m33(), { approximate: 'tanh' }], (a) => tg.gelu(a[0], a[1]));
// the valid functions accept any inputs (an error of the user's own function is not the op's)
const sumSquares = (...xs: T[]): T => tg.tidy(() => xs.reduce((acc: T, x) => acc.add(x.mul(x).sum()), tg.tensor(0)));
add('tg.grad', [FNS, LISTS, optionsHostile(['createGraph'])], () => [sumSquares, [v3()], { createGraph: true }], (a) => tg.grad(a[0], a[1], a[2]));
add('tg.gradcheck', [FNS, LISTS, optionsHostile(['eps', 'atol', 'rtol'])], () => [sumSquares, [v3()], { eps: 1e-2 }], (a) => tg.gradcheck(a[0], a[1], a[2]));
add('tg.indexSelect', [TENSORS, INTS, INDICES], () => [m33(), 0, [2, 0]], (a) => tg.indexSelect(a[0], a[1], a[2]));
add('tg.keep', [ANY], () => [tg.ones([2])], (a) => tg.keep(a[0]));
add('tg.leakyRelu', [TENSORS, NUMS], () => [m33(), 0.2], (a) => tg.leakyRelu(a[0], a[1]));
const savedBytes = (): Uint8Array => tg.tidy(() => tg.save({ w: tg.tensor([1, 2]) }));
const BYTES: Hostile[] = [
  ...COMMON,
  h('Uint8Array(0)', () => new Uint8Array(0)),
  h('8 zero bytes', () => new Uint8Array(8)),
  h('huge header length', () => Uint8Array.of(255, 255, 255, 255, 255, 255, 255, 255)),
  h('truncated', () => savedBytes().subarray(0, 20)),
  h('Float32Array', () => new Float32Array(4)),
];
add('tg.load', [BYTES], () => [savedBytes()], (a) => tg.load(a[0]));
add('tg.loadMetadata', [BYTES], () => [savedBytes()], (a) => tg.loadMetadata(a[0]), /load/); // its messages say "load:"
add('tg.save', [ANY, ANY], () => [{ w: tg.tensor([1, 2]) }, { note: 'x' }], (a) => tg.save(a[0], a[1]));
add('tg.manualSeed', [INTS], () => [42], (a) => tg.manualSeed(a[0]));
add('tg.memory', [], () => [], () => tg.memory());
add('tg.resetPeakMemory', [], () => [], () => tg.resetPeakMemory());
add('tg.peakMemory', [], () => [], () => tg.peakMemory());
add('tg.checkpoint', [FNS, TENSORS], () => [(t: T) => t.mul(2), v3()], (a) => tg.checkpoint(a[0], a[1]), /checkpoint|Checkpoint|mul|disposed/);
add('tg.setNumThreads', [INTS], () => [2], (a) => tg.setNumThreads(a[0]));
add('tg.getNumThreads', [], () => [], () => tg.getNumThreads());
add('tg.narrow', [TENSORS, INTS, INTS, INTS], () => [m33(), 1, 1, 2], (a) => tg.narrow(a[0], a[1], a[2], a[3]));
const twice = (): T => tg.tidy(() => tg.ones([2]).mul(2));
add('tg.noGrad', [FNS], () => [twice], (a) => tg.noGrad(a[0]));
add('tg.tidy', [FNS], () => [twice], (a) => tg.tidy(a[0]));
add('tg.trace', [FNS], () => [twice], (a) => tg.trace(a[0]));
for (const f of ['zeros', 'ones', 'rand', 'randn'] as const) {
  add(`tg.${f}`, [SHAPES, optionsHostile(['requiresGrad'])], () => [[2, 3], { requiresGrad: true }], (a) => tg[f](a[0], a[1]));
}
add('tg.permute', [TENSORS, DIMS], () => [m33(), [1, 0]], (a) => tg.permute(a[0], a[1]));
add('tg.reshape', [TENSORS, SHAPES], () => [m33(), [9, -1]], (a) => tg.reshape(a[0], a[1]));
add('tg.squeeze', [TENSORS, INTS], () => [tg.ones([3, 1]), 1], (a) => tg.squeeze(a[0], a[1]));
add('tg.unsqueeze', [TENSORS, INTS], () => [m33(), 2], (a) => tg.unsqueeze(a[0], a[1]));
add('tg.tensor', [TENSORS, optionsHostile(['shape', 'requiresGrad'])], () => [[1, 2, 3, 4], { shape: [2, 2], requiresGrad: true }], (a) => tg.tensor(a[0], a[1]));
add('tg.transpose', [TENSORS, INTS, INTS], () => [m33(), 0, 1], (a) => tg.transpose(a[0], a[1], a[2]));
// internal constructors that are exported: a made-up handle must not reach the core
add('tg.Tensor', [INTS, SHAPES], () => [-1, [2]], (a) => new tg.Tensor(a[0], a[1]), 'Tensor');
add('tg.Trace', [ANY, INTS, ANY, ANY], () => [Symbol('trace'), 123456, null, []], (a) => { const tr = new tg.Trace(a[0], a[1], a[2], a[3]); tr.run(); return tr; }, 'Trace');

// Tensor methods: the receiver is the first argument
const method = (name: string, kinds: Kind[], args: () => unknown[], op?: string): void =>
  add(`Tensor#${name}`, [SELF_TENSORS, ...kinds], args, (a) => {
    const self = a[0] as Record<string, unknown>;
    const member = Object.getOwnPropertyDescriptor(tg.Tensor.prototype, name)!;
    if (member.get) return member.get.call(self);
    return (member.value as (...xs: unknown[]) => unknown).apply(self, a.slice(1));
  }, op);
for (const g of ['shape', 'ndim', 'size', 'isDisposed', 'requiresGrad', 'grad', 'data', 'item', 'toArray', 'toString', 'dispose', 'zeroGrad', 'detach']) {
  method(g, [], () => [g === 'item' ? tg.tensor(3) : m33()]);
}
method('backward', [TENSORS], () => { const [l, x] = lossOf(); return [l, tg.tensor(1), x]; });
method('requiresGrad_', [BOOLS], () => [tg.ones([2]), true]);
method('registerHook', [FNS], () => [tg.ones([2]).requiresGrad_(), (g: T) => g.mul(2)]);
method('retainGrad', [], () => { const x = tg.ones([2]).requiresGrad_(); return [x.mul(2), x]; });
method('copy_', [TENSORS], () => [tg.zeros([3, 3]), m33()]);
for (const f of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'matmul']) method(f, [TENSORS], () => [m33(), m33()]);
for (const f of ['neg', 'abs', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu']) method(f, [], () => [m33()]);
method('leakyRelu', [NUMS], () => [m33(), 0.1]);
method('gelu', [optionsHostile(['approximate'])], () => [m33(), { approximate: 'none' }]);
for (const f of ['sum', 'mean', 'max', 'min', 'logsumexp']) method(f, [DIMS, BOOLS], () => [m33(), 0, true]);
for (const f of ['argmax', 'argmin']) method(f, [INTS, BOOLS], () => [m33(), 0, true]);
for (const f of ['softmax', 'logSoftmax']) method(f, [INTS], () => [m33(), 0]);
for (const f of ['reshape', 'view', 'expand']) method(f, [SHAPES, INTS], () => [tg.ones([3, 1]), f === 'expand' ? 3 : 1, 3]);
method('permute', [DIMS, INTS], () => [m33(), 1, 0]);
method('flatten', [INTS, INTS], () => [m33(), 0, 1]);
method('transpose', [INTS, INTS], () => [m33(), 1, 0]);
method('squeeze', [INTS], () => [tg.ones([3, 1]), 1]);
method('unsqueeze', [INTS], () => [m33(), 0]);
method('narrow', [INTS, INTS, INTS], () => [m33(), 0, 1, 1]);
method('indexSelect', [INTS, INDICES], () => [m33(), 1, Int32Array.of(0, 2)]);
method('gather', [INTS, INDICES], () => [m33(), 0, tg.tensor([[0, 1, 2]])]);

// issue 9: selection, masking, comparison, clamp, more unary (functions, then methods)
const cond3 = (): T => tg.tensor([1, 0, 2]);
for (const f of ['sin', 'cos', 'square', 'rsqrt', 'silu'] as const) add(`tg.${f}`, [TENSORS], () => [m33()], (a) => (tg[f] as (x: unknown) => unknown)(a[0]));
add('tg.softplus', [TENSORS, optionsHostile(['beta', 'threshold'])], () => [m33(), { beta: 2, threshold: 5 }], (a) => tg.softplus(a[0], a[1]));
add('tg.clamp', [TENSORS, NUMS, NUMS], () => [m33(), -1, 1], (a) => tg.clamp(a[0], a[1], a[2]));
add('tg.clamp', [TENSORS, optionsHostile(['min', 'max'])], () => [m33(), { min: -1, max: 1 }], (a) => tg.clamp(a[0], a[1]));
add('tg.clampMin', [TENSORS, NUMS], () => [m33(), -1], (a) => tg.clampMin(a[0], a[1]));
add('tg.clampMax', [TENSORS, NUMS], () => [m33(), 1], (a) => tg.clampMax(a[0], a[1]));
add('tg.where', [TENSORS, TENSORS, TENSORS], () => [cond3(), m33(), v3()], (a) => tg.where(a[0], a[1], a[2]));
add('tg.maskedFill', [TENSORS, TENSORS, [...NUMS, ...TENSORS]], () => [m33(), cond3(), -Infinity], (a) => tg.maskedFill(a[0], a[1], a[2]));
for (const f of ['tril', 'triu'] as const) add(`tg.${f}`, [TENSORS, INTS], () => [m33(), -1], (a) => tg[f](a[0], a[1]));
for (const f of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) add(`tg.${f}`, [TENSORS, TENSORS], () => [m33(), v3()], (a) => tg[f](a[0], a[1]));
for (const f of ['sin', 'cos', 'square', 'rsqrt', 'silu']) method(f, [], () => [m33()]);
method('softplus', [optionsHostile(['beta', 'threshold'])], () => [m33(), { threshold: 1 }]);
method('clamp', [NUMS, NUMS], () => [m33(), null, 2]);
method('clamp', [optionsHostile(['min', 'max'])], () => [m33(), { max: 2 }]);
method('clampMin', [NUMS], () => [m33(), 0]);
method('clampMax', [NUMS], () => [m33(), 0]);
method('where', [TENSORS, TENSORS], () => [m33(), cond3(), 0]);
method('maskedFill', [TENSORS, [...NUMS, ...TENSORS]], () => [m33(), cond3(), 7]);
for (const f of ['tril', 'triu']) method(f, [INTS], () => [m33(), 1]);
for (const f of ['eq', 'ne', 'lt', 'le', 'gt', 'ge']) method(f, [TENSORS], () => [m33(), 2]);

// nn.functional
for (const f of ['maxPool2d', 'avgPool2d'] as const) {
  add(`F.${f}`, [TENSORS, INTS, optionsHostile(['stride', 'padding'])], () => [img(), 2, { stride: 1, padding: 1 }], (a) => F[f](a[0], a[1], a[2]));
}
add('F.conv2d', [TENSORS, TENSORS, TENSORS, optionsHostile(['stride', 'padding', 'dilation', 'groups'])],
  () => [img(), tg.ones([2, 1, 3, 3], { requiresGrad: true }), tg.ones([2]), { stride: [1, 2], padding: 1, dilation: 1, groups: 1 }], (a) => F.conv2d(a[0], a[1], a[2], a[3]));
add('F.convTranspose2d', [TENSORS, TENSORS, TENSORS, optionsHostile(['stride', 'padding', 'outputPadding', 'dilation', 'groups'])],
  () => [img(), tg.ones([1, 2, 3, 3], { requiresGrad: true }), tg.ones([2]), { stride: 2, padding: 1, outputPadding: 1, dilation: 1, groups: 1 }], (a) => F.convTranspose2d(a[0], a[1], a[2], a[3]));
add('F.conv1d', [TENSORS, TENSORS, TENSORS, optionsHostile(['stride', 'padding', 'dilation', 'groups'])],
  () => [img4(), tg.ones([2, 2, 2], { requiresGrad: true }), tg.ones([2]), { stride: 1, padding: 1, dilation: 1, groups: 2 }], (a) => F.conv1d(a[0], a[1], a[2], a[3]));
add('F.crossEntropy', [TENSORS, INDICES, optionsHostile(['reduction', 'labelSmoothing'])], () => [scores(), [2, 0], { reduction: 'sum', labelSmoothing: 0.1 }], (a) => F.crossEntropy(a[0], a[1], a[2]));
add('F.nllLoss', [TENSORS, INDICES, optionsHostile(['reduction'])], () => [scores(), [2, 0], { reduction: 'none' }], (a) => F.nllLoss(a[0], a[1], a[2]));
for (const f of ['mseLoss', 'binaryCrossEntropyWithLogits'] as const) {
  add(`F.${f}`, [TENSORS, TENSORS, optionsHostile(['reduction'])], () => [m33(), tg.ones([3, 3]), { reduction: 'mean' }], (a) => F[f](a[0], a[1], a[2]));
}
add('F.dropout', [TENSORS, NUMS, BOOLS], () => [m33(), 0.5, true], (a) => F.dropout(a[0], a[1], a[2]));
add('F.layerNorm', [TENSORS, DIMS, TENSORS, TENSORS, NUMS], () => [m33(), [3], tg.ones([3]), tg.zeros([3]), 1e-5], (a) => F.layerNorm(a[0], a[1], a[2], a[3], a[4]));
add('F.groupNorm', [TENSORS, INTS, TENSORS, TENSORS, NUMS], () => [img4(), 2, tg.ones([4]), tg.zeros([4]), 1e-5], (a) => F.groupNorm(a[0], a[1], a[2], a[3], a[4]));
add('F.rmsNorm', [TENSORS, DIMS, TENSORS, NUMS], () => [m33(), [3], tg.ones([3]), 1e-5], (a) => F.rmsNorm(a[0], a[1], a[2], a[3]));
add('F.interpolate', [TENSORS, optionsHostile(['scaleFactor', 'mode', 'alignCorners'])], () => [img(), { scaleFactor: 2, mode: 'bilinear', alignCorners: false }], (a) => F.interpolate(a[0], a[1]));
add('F.linear', [TENSORS, TENSORS, TENSORS], () => [m33(), tg.ones([2, 3], { requiresGrad: true }), tg.ones([2])], (a) => F.linear(a[0], a[1], a[2]));
add('F.scaledDotProductAttention', [TENSORS, TENSORS, TENSORS, optionsHostile(['attnMask', 'isCausal', 'scale', 'dropoutP'])],
  () => [tg.ones([1, 2, 3, 2], { requiresGrad: true }), tg.ones([1, 2, 4, 2], { requiresGrad: true }), tg.ones([1, 2, 4, 3]), { isCausal: true, scale: 0.5, dropoutP: 0.1 }],
  (a) => F.scaledDotProductAttention(a[0], a[1], a[2], a[3]));

// nn: constructors, then each layer's forward (and other own methods) with hostile inputs
add('nn.Linear', [INTS, INTS, optionsHostile(['bias'])], () => [3, 2, { bias: true }], (a) => new nn.Linear(a[0], a[1], a[2]));
add('nn.Sequential', [ANY, ANY], () => [new nn.ReLU(), new nn.Tanh()], (a) => new nn.Sequential(a[0], a[1]));
add('nn.MLP', [INTS, LISTS, INTS, optionsHostile(['activation', 'bias'])], () => [3, [4], 2, { activation: 'tanh', bias: false }], (a) => new nn.MLP(a[0], a[1], a[2], a[3]));
add('nn.Embedding', [INTS, INTS], () => [5, 3], (a) => new nn.Embedding(a[0], a[1]));
add('nn.LayerNorm', [DIMS, optionsHostile(['eps', 'elementwiseAffine'])], () => [[3], { eps: 1e-3, elementwiseAffine: true }], (a) => new nn.LayerNorm(a[0], a[1]));
add('nn.GroupNorm', [INTS, INTS, optionsHostile(['eps', 'affine'])], () => [2, 4, { eps: 1e-3, affine: true }], (a) => new nn.GroupNorm(a[0], a[1], a[2]));
add('nn.RMSNorm', [DIMS, optionsHostile(['eps', 'elementwiseAffine'])], () => [[3], { eps: 1e-3, elementwiseAffine: true }], (a) => new nn.RMSNorm(a[0], a[1]));
for (const c of ['BatchNorm1d', 'BatchNorm2d'] as const) {
  add(`nn.${c}`, [INTS, optionsHostile(['eps', 'momentum', 'affine', 'trackRunningStats'])], () => [3, { eps: 1e-3, momentum: null, affine: true, trackRunningStats: true }], (a) => new nn[c](a[0], a[1]));
  for (const g of ['runningMean', 'runningVar', 'numBatchesTracked'] as const) add(`nn.${c}#${g}`, [], () => [new nn[c](3)], (a) => (a[0] as tgm.nn.BatchNorm1d)[g]);
}
for (const c of ['LSTM', 'GRU'] as const) {
  add(`nn.${c}`, [INTS, INTS, optionsHostile(['numLayers', 'bias', 'batchFirst', 'dropout', 'bidirectional'])],
    () => [3, 2, { numLayers: 2, bias: true, batchFirst: true, dropout: 0.1, bidirectional: true }], (a) => new nn[c](a[0], a[1], a[2]));
  add(`nn.${c}Cell`, [INTS, INTS, optionsHostile(['bias'])], () => [3, 2, { bias: false }], (a) => new nn[`${c}Cell`](a[0], a[1], a[2]));
}
add('nn.Upsample', [optionsHostile(['size', 'mode'])], () => [{ size: [3, 5], mode: 'nearest' }], (a) => new nn.Upsample(a[0]));
add('nn.Dropout', [NUMS], () => [0.25], (a) => new nn.Dropout(a[0]));
add('nn.Conv2d', [INTS, INTS, INTS, optionsHostile(['stride', 'padding', 'dilation', 'groups', 'bias'])], () => [2, 2, 3, { stride: 1, padding: 1, dilation: 1, groups: 2, bias: true }], (a) => new nn.Conv2d(a[0], a[1], a[2], a[3]));
add('nn.ConvTranspose2d', [INTS, INTS, INTS, optionsHostile(['stride', 'padding', 'outputPadding', 'dilation', 'groups', 'bias'])], () => [2, 2, 3, { stride: 2, padding: 1, outputPadding: 1, dilation: 1, groups: 2, bias: true }], (a) => new nn.ConvTranspose2d(a[0], a[1], a[2], a[3]));
add('nn.Conv1d', [INTS, INTS, INTS, optionsHostile(['stride', 'padding', 'dilation', 'groups', 'bias'])], () => [2, 2, 3, { stride: 1, padding: 1, dilation: 2, groups: 2, bias: true }], (a) => new nn.Conv1d(a[0], a[1], a[2], a[3]));
for (const c of ['MaxPool2d', 'AvgPool2d'] as const) {
  add(`nn.${c}`, [INTS, optionsHostile(['stride', 'padding'])], () => [2, { stride: 2, padding: 1 }], (a) => new nn[c](a[0], a[1]));
}
add('nn.Flatten', [INTS, INTS], () => [1, -1], (a) => new nn.Flatten(a[0], a[1]));
for (const c of ['Identity', 'ReLU', 'Tanh', 'Sigmoid', 'Module'] as const) add(`nn.${c}`, [], () => [], () => new nn[c]());
add('nn.GELU', [optionsHostile(['approximate'])], () => [{ approximate: 'tanh' }], (a) => new nn.GELU(a[0]));
add('nn.LeakyReLU', [NUMS], () => [0.2], (a) => new nn.LeakyReLU(a[0]));
add('nn.parameter', [TENSORS], () => [tg.ones([2])], (a) => nn.parameter(a[0]));

/** A fresh instance of each layer with a valid input for its forward. */
const LAYERS: Record<string, () => [unknown, unknown]> = {
  Linear: () => [new nn.Linear(3, 2), m33()],
  Sequential: () => [new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU()), m33()],
  MLP: () => [new nn.MLP(3, [4], 2), m33()],
  Embedding: () => [new nn.Embedding(5, 2), [[0, 4], [1, 1]]],
  LayerNorm: () => [new nn.LayerNorm(3), m33()],
  GroupNorm: () => [new nn.GroupNorm(2, 4), img4()],
  RMSNorm: () => [new nn.RMSNorm(3), m33()],
  BatchNorm1d: () => [new nn.BatchNorm1d(3), m33()],
  BatchNorm2d: () => [new nn.BatchNorm2d(1), img()],
  Dropout: () => [new nn.Dropout(0.5), m33()],
  LSTM: () => [new nn.LSTM(3, 2), m33()],
  GRU: () => [new nn.GRU(3, 2, { bidirectional: true }), m33()],
  LSTMCell: () => [new nn.LSTMCell(3, 2), m33()],
  GRUCell: () => [new nn.GRUCell(3, 2), m33()],
  Conv2d: () => [new nn.Conv2d(1, 2, 3, { padding: 1 }), img()],
  Conv1d: () => [new nn.Conv1d(4, 2, 2, { groups: 2 }), img4()],
  ConvTranspose2d: () => [new nn.ConvTranspose2d(1, 2, 3, { stride: 2 }), img()],
  Upsample: () => [new nn.Upsample({ scaleFactor: 2, mode: 'bilinear' }), img()],
  MaxPool2d: () => [new nn.MaxPool2d(2), img()],
  AvgPool2d: () => [new nn.AvgPool2d(2), img()],
  Flatten: () => [new nn.Flatten(), img()],
  Identity: () => [new nn.Identity(), m33()],
  ReLU: () => [new nn.ReLU(), m33()],
  Tanh: () => [new nn.Tanh(), m33()],
  Sigmoid: () => [new nn.Sigmoid(), m33()],
  GELU: () => [new nn.GELU(), m33()],
  LeakyReLU: () => [new nn.LeakyReLU(), m33()],
  Module: () => [new nn.Module(), m33()],
  ModuleList: () => [new nn.ModuleList([new nn.ReLU()]), m33()],
  ModuleDict: () => [new nn.ModuleDict({ a: new nn.ReLU() }), m33()],
};
const MODULE_SELVES: Hostile[] = [h('disposed module', () => { const m = new nn.Linear(3, 2); m.dispose(); return m; })];
for (const [cls, make] of Object.entries(LAYERS)) {
  const forwardOp = new RegExp(`${cls}|forward|interpolate|indexSelect|linear|matmul|conv1d|conv2d|convTranspose2d|Pool2d|layerNorm|groupNorm|rmsNorm|var|flatten|indexSelect|Embedding|relu|tanh|sigmoid|gelu|leakyRelu|dropout|mul|sub|mean|lstm|gru|add|narrow|reshape|cat|stack|transpose|disposed`);
  add(`nn.${cls}#forward`, [MODULE_SELVES, cls === 'Embedding' ? INDICES : TENSORS], make, (a) => (a[0] as tgm.nn.Module).forward(a[1]), forwardOp);
  add(`nn.${cls}#extraRepr`, [], make, (a) => (a[0] as tgm.nn.Module).extraRepr());
}
// attention and transformer layers (forward takes several inputs, so not in LAYERS below)
const seq = (): T => tg.tensor(Array.from({ length: 24 }, (_, i) => Math.sin(i)), { shape: [3, 2, 4], requiresGrad: true });
const causal3 = (): T => tg.tensor([[0, -Infinity, -Infinity], [0, 0, -Infinity], [0, 0, 0]]);
const mha = (): tgm.nn.MultiheadAttention => new nn.MultiheadAttention(4, 2, { dropout: 0.1 });
const encoderLayer = (): tgm.nn.TransformerEncoderLayer => new nn.TransformerEncoderLayer(4, 2, { dimFeedforward: 8 });
add('nn.MultiheadAttention', [INTS, INTS, optionsHostile(['dropout', 'bias', 'batchFirst'])], () => [4, 2, { dropout: 0.1, bias: true, batchFirst: false }],
  (a) => new nn.MultiheadAttention(a[0], a[1], a[2]));
add('nn.MultiheadAttention#forward', [MODULE_SELVES, TENSORS, TENSORS, TENSORS, optionsHostile(['attnMask', 'keyPaddingMask', 'needWeights', 'averageAttnWeights'])],
  () => [mha(), seq(), seq(), seq(), { attnMask: causal3(), keyPaddingMask: tg.zeros([2, 3]), needWeights: true, averageAttnWeights: false }],
  (a) => (a[0] as tgm.nn.MultiheadAttention).forward(a[1], a[2], a[3], a[4]), /MultiheadAttention|linear|matmul|narrow|reshape|permute|add|mul|softmax|mean|disposed/);
for (const g of ['inProjWeight', 'inProjBias', 'outProj'] as const) {
  add(`nn.MultiheadAttention#${g}`, [], () => [mha()], (a) => (a[0] as tgm.nn.MultiheadAttention)[g]);
}
add('nn.TransformerEncoderLayer', [INTS, INTS, optionsHostile(['dimFeedforward', 'dropout', 'activation', 'layerNormEps', 'batchFirst', 'normFirst', 'bias'])],
  () => [4, 2, { dimFeedforward: 8, dropout: 0.1, activation: 'gelu', layerNormEps: 1e-5, batchFirst: false, normFirst: true, bias: true }],
  (a) => new nn.TransformerEncoderLayer(a[0], a[1], a[2]));
add('nn.TransformerEncoderLayer#forward', [MODULE_SELVES, TENSORS, optionsHostile(['srcMask', 'srcKeyPaddingMask'])],
  () => [encoderLayer(), seq(), { srcMask: causal3(), srcKeyPaddingMask: tg.zeros([2, 3]) }],
  (a) => (a[0] as tgm.nn.TransformerEncoderLayer).forward(a[1], a[2]), /TransformerEncoderLayer|MultiheadAttention|linear|layerNorm|matmul|add|disposed/);
for (const g of ['selfAttn', 'linear1', 'dropout', 'linear2', 'norm1', 'norm2', 'dropout1', 'dropout2'] as const) {
  add(`nn.TransformerEncoderLayer#${g}`, [], () => [encoderLayer()], (a) => (a[0] as tgm.nn.TransformerEncoderLayer)[g]);
}
add('nn.TransformerEncoder', [ANY, INTS, optionsHostile(['norm'])], () => [encoderLayer(), 2, { norm: new nn.LayerNorm(4) }],
  (a) => new nn.TransformerEncoder(a[0], a[1], a[2]));
add('nn.TransformerEncoder#forward', [MODULE_SELVES, TENSORS, optionsHostile(['mask', 'srcKeyPaddingMask'])],
  () => { const l = encoderLayer(); return [new nn.TransformerEncoder(l, 2), seq(), { mask: causal3(), srcKeyPaddingMask: tg.zeros([2, 3]) }, l]; },
  (a) => (a[0] as tgm.nn.TransformerEncoder).forward(a[1], a[2]), /TransformerEncoder|MultiheadAttention|linear|layerNorm|matmul|add|disposed/);

add('nn.Sequential#append', [[], ANY], () => [new nn.Sequential(), new nn.ReLU()], (a) => (a[0] as tgm.nn.Sequential).append(a[1]), 'Sequential');
add('nn.Sequential#at', [[], INTS], () => [new nn.Sequential(new nn.ReLU()), 0], (a) => (a[0] as tgm.nn.Sequential).at(a[1]), 'Sequential.at');
add('nn.Sequential#length', [], () => [new nn.Sequential(new nn.ReLU())], (a) => (a[0] as tgm.nn.Sequential).length);
add('nn.Sequential#Symbol.iterator', [], () => [new nn.Sequential(new nn.ReLU())], (a) => [...(a[0] as tgm.nn.Sequential)]);

const list = (): tgm.nn.ModuleList => new nn.ModuleList([new nn.ReLU(), new nn.Tanh()]);
const L = (a: unknown[]): tgm.nn.ModuleList => a[0] as tgm.nn.ModuleList;
add('nn.ModuleList', [ANY], () => [[new nn.ReLU()]], (a) => new nn.ModuleList(a[0]), 'ModuleList');
add('nn.ModuleList#append', [[], ANY], () => [list(), new nn.ReLU()], (a) => L(a).append(a[1]), 'ModuleList.append');
add('nn.ModuleList#extend', [[], ANY], () => [list(), [new nn.ReLU()]], (a) => L(a).extend(a[1]), 'ModuleList.extend');
add('nn.ModuleList#insert', [[], INTS, ANY], () => [list(), 1, new nn.ReLU()], (a) => L(a).insert(a[1], a[2]), 'ModuleList.insert');
add('nn.ModuleList#at', [[], INTS], () => [list(), -1], (a) => L(a).at(a[1]), 'ModuleList.at');
add('nn.ModuleList#pop', [[], INTS], () => [list(), 0], (a) => L(a).pop(a[1]), 'ModuleList.pop');
add('nn.ModuleList#length', [], () => [list()], (a) => L(a).length);
add('nn.ModuleList#Symbol.iterator', [], () => [list()], (a) => [...L(a)]);
const dict = (): tgm.nn.ModuleDict => new nn.ModuleDict({ a: new nn.ReLU(), b: new nn.Tanh() });
const D = (a: unknown[]): tgm.nn.ModuleDict => a[0] as tgm.nn.ModuleDict;
add('nn.ModuleDict', [ANY], () => [{ a: new nn.ReLU() }], (a) => new nn.ModuleDict(a[0]), 'ModuleDict');
add('nn.ModuleDict#get', [[], ANY], () => [dict(), 'a'], (a) => D(a).get(a[1]), 'ModuleDict.get');
add('nn.ModuleDict#set', [[], ANY, ANY], () => [dict(), 'c', new nn.ReLU()], (a) => D(a).set(a[1], a[2]), 'ModuleDict.set');
add('nn.ModuleDict#delete', [[], ANY], () => [dict(), 'a'], (a) => D(a).delete(a[1]), 'ModuleDict.delete');
add('nn.ModuleDict#has', [[], ANY], () => [dict(), 'a'], (a) => D(a).has(a[1]), 'ModuleDict.has');
add('nn.ModuleDict#update', [[], ANY], () => [dict(), { c: new nn.ReLU() }], (a) => D(a).update(a[1]), 'ModuleDict.update');
for (const m of ['keys', 'values', 'items', 'length'] as const) add(`nn.ModuleDict#${m}`, [], () => [dict()], (a) => (m === 'length' ? D(a).length : D(a)[m]()));
add('nn.ModuleDict#Symbol.iterator', [], () => [dict()], (a) => [...D(a)]);

// Module's methods on a fresh Linear
const lin = (): tgm.nn.Linear => new nn.Linear(3, 2);
const moduleMethod = (name: string, kinds: Kind[], args: () => unknown[], op?: string | RegExp): void =>
  add(`Module#${name}`, [MODULE_SELVES, ...kinds], args, (a) => ((a[0] as unknown as Record<string, (...xs: unknown[]) => unknown>)[name])(...a.slice(1)), op);
for (const m of ['namedChildren', 'children', 'namedModules', 'modules', 'namedParameters', 'parameters', 'namedBuffers', 'eval', 'zeroGrad', 'dispose', 'stateDict', 'extraRepr', 'toString']) {
  moduleMethod(m, [], () => [lin()]);
}
moduleMethod('forward', [TENSORS], () => [lin(), m33()], /Linear|linear|matmul|forward|disposed/);
moduleMethod('call', [TENSORS], () => [lin(), m33()], /Linear|linear|matmul|forward|disposed/);
moduleMethod('train', [BOOLS], () => [lin(), false]);
moduleMethod('registerParameter', [ANY, TENSORS], () => [lin(), 'extra', tg.ones([2])]);
moduleMethod('registerBuffer', [ANY, TENSORS], () => [lin(), 'running', tg.ones([2])]);
moduleMethod('registerModule', [ANY, ANY], () => [lin(), 'child', new nn.ReLU()]);
moduleMethod('loadStateDict', [ANY, optionsHostile(['strict'])], () => {
  const m = lin();
  return [m, Object.fromEntries(Object.entries(tg.tidy(() => m.stateDict())).map(([k, t]) => [k, t.mul(0.5)])), { strict: true }];
});

// optim
const params = (): T[] => [tg.tensor([1, 2], { requiresGrad: true }), tg.tensor([[3]], { requiresGrad: true })];
add('optim.SGD', [LISTS, optionsHostile(['lr', 'momentum', 'dampening', 'nesterov', 'weightDecay'])],
  () => [params(), { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0.01 }], (a) => new optim.SGD(a[0], a[1]));
add('optim.Adam', [LISTS, optionsHostile(['lr', 'betas', 'eps', 'weightDecay'])],
  () => [params(), { lr: 0.1, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.01 }], (a) => new optim.Adam(a[0], a[1]));
add('optim.AdamW', [LISTS, optionsHostile(['lr', 'betas', 'eps', 'weightDecay'])],
  () => [params(), { lr: 0.1, weightDecay: 0.1 }], (a) => new optim.AdamW(a[0], a[1]));
add('optim.Optimizer', [LISTS, NUMS, ANY], () => [params(), 0.1, 'Mine'], (a) => new (optim.Optimizer as unknown as new (...xs: unknown[]) => unknown)(a[0], a[1], a[2]), 'Optimizer');
const sgd = (): [tgm.optim.SGD, T[]] => { const p = params(); return [new optim.SGD(p, { lr: 0.1, momentum: 0.9 }), p]; };
add('optim.StepLR', [ANY, optionsHostile(['stepSize', 'gamma'])], () => { const [o, p] = sgd(); return [o, { stepSize: 2, gamma: 0.5 }, p]; }, (a) => new optim.StepLR(a[0], a[1]));
add('optim.CosineAnnealingLR', [ANY, optionsHostile(['tMax', 'etaMin'])], () => { const [o, p] = sgd(); return [o, { tMax: 10, etaMin: 0.01 }, p]; }, (a) => new optim.CosineAnnealingLR(a[0], a[1]));
add('optim.clipGradNorm', [LISTS, NUMS, NUMS], () => {
  const p = params();
  tg.tidy(() => p[0].sum().add(p[1].sum()).backward());
  return [p, 1, 2];
}, (a) => optim.clipGradNorm(a[0], a[1], a[2]));
const OPT_SELVES: Hostile[] = [h('disposed optimizer', () => { const [o, p] = sgd(); o.dispose(); tg.dispose(p); return o; })];
const withGrads = <O>(make: (p: T[]) => O) => (): unknown[] => {
  const p = params();
  tg.tidy(() => p[0].mul(p[0]).sum().add(p[1].sum()).backward());
  return [make(p), p];
};
const optimizers: Record<string, (p: T[]) => tgm.optim.Optimizer> = {
  SGD: (p) => new optim.SGD(p, { lr: 0.1, momentum: 0.9 }),
  Adam: (p) => new optim.Adam(p, { lr: 0.1 }),
  AdamW: (p) => new optim.AdamW(p),
};
for (const [cls, make] of Object.entries(optimizers)) {
  for (const m of ['step', 'zeroGrad', 'stateDict', 'dispose']) {
    add(`optim.${cls}#${m}`, [OPT_SELVES], withGrads(make), (a) => (a[0] as unknown as Record<string, () => unknown>)[m](), new RegExp(`${cls}|${m}|disposed`));
  }
  add(`optim.${cls}#lr`, [OPT_SELVES, NUMS], () => { const [o, p] = withGrads(make)(); return [o, 0.05, p]; }, (a) => { (a[0] as tgm.optim.Optimizer).lr = a[1]; }, new RegExp(`${cls}|lr`));
  add(`optim.${cls}#weightDecay`, [OPT_SELVES], withGrads(make), (a) => (a[0] as tgm.optim.Optimizer).weightDecay);
  add(`optim.${cls}#steps`, [OPT_SELVES], withGrads(make), (a) => (a[0] as tgm.optim.Optimizer).steps);
  add(`optim.${cls}#loadStateDict`, [OPT_SELVES, ANY], () => {
    const [o, p] = withGrads(make)() as [tgm.optim.Optimizer, T[]];
    return [o, o.stateDict(), p];
  }, (a) => (a[0] as tgm.optim.Optimizer).loadStateDict(a[1]), new RegExp(`${cls}|loadStateDict|copy_`));
}
for (const cls of ['StepLR', 'CosineAnnealingLR'] as const) {
  const make = (): unknown[] => {
    const [o, p] = sgd();
    return [cls === 'StepLR' ? new optim.StepLR(o, { stepSize: 1 }) : new optim.CosineAnnealingLR(o, { tMax: 3 }), o, p];
  };
  add(`optim.${cls}#step`, [], make, (a) => (a[0] as { step(): void }).step());
  add(`optim.${cls}#getLastLr`, [], make, (a) => (a[0] as { getLastLr(): number[] }).getLastLr());
}
// issue 9: buffers (a second registerBuffer case for its options, and its property setter)
moduleMethod('buffers', [], () => [lin()]);
moduleMethod('registerBuffer', [ANY, TENSORS, optionsHostile(['persistent'])], () => [lin(), 'running', tg.ones([2]), { persistent: false }]);
add('Module#registerBuffer', [[], TENSORS], () => {
  const m = lin(), old = tg.zeros([2]);
  m.registerBuffer('running', old);
  return [m, tg.ones([2]), old];
}, (a) => { (a[0] as unknown as Record<string, unknown>).running = a[1]; }, /Linear|running|disposed/);
// issue 9: parameter groups
const leaf = (): T => tg.tensor([1, 2], { requiresGrad: true });
/** One hostile group (what addParamGroup takes). */
const GROUP: Hostile[] = [
  h('{params: []}', () => ({ params: [] })),
  h('{params: [p, p]}', () => { const p = leaf(); return { params: [p, p] }; }),
  h('{params, lr: -1}', () => ({ params: [leaf()], lr: -1 })),
  h('{params, lr: NaN}', () => ({ params: [leaf()], lr: NaN })),
  h('{params, bogus: 1}', () => ({ params: [leaf()], bogus: 1 })),
  h('{params, betas: [1, 0]}', () => ({ params: [leaf()], betas: [1, 0] })),
  h('{params, nesterov: "yes"}', () => ({ params: [leaf()], nesterov: 'yes' })),
  h('{params: "abc"}', () => ({ params: 'abc' })),
  h('{params: [disposed]}', () => ({ params: [disposedTensor()] })),
  h('{params: cyclic}', () => ({ params: cyclic })),
  h('{lr: 0.1}', () => ({ lr: 0.1 })),
  h('{own __proto__}', () => JSON.parse('{"__proto__": {"params": []}}')),
  h('{params: deep 10000}', () => ({ params: deep10k })),
];
/** Hostile lists of groups (what the constructors take). */
const GROUPS: Hostile[] = [
  ...GROUP.map((g) => h(`[${g.label}]`, () => [g.make()])),
  h('one tensor in two groups', () => { const p = leaf(); return [{ params: [p] }, { params: [p] }]; }),
  h('[group, tensor]', () => [{ params: [leaf()] }, leaf()]),
  h('[group, null]', () => [{ params: [leaf()] }, null]),
];
const GROUP_OPTIONS: Record<string, [string, Kind][]> = {
  SGD: [['lr', NUMS], ['momentum', NUMS], ['dampening', NUMS], ['nesterov', BOOLS], ['weightDecay', NUMS]],
  Adam: [['lr', NUMS], ['betas', ANY], ['eps', NUMS], ['weightDecay', NUMS]],
};
for (const [cls, make] of Object.entries(optimizers)) {
  const Cls = (optim as unknown as Record<string, new (...xs: unknown[]) => tgm.optim.Optimizer>)[cls];
  add(`optim.${cls}`, [GROUPS], () => [[{ params: [leaf()] }, { params: [leaf()], lr: 0.01, weightDecay: 0 }]], (a) => new Cls(a[0], { lr: 0.1 }), cls);
  add(`optim.${cls}#paramGroups`, [OPT_SELVES], withGrads(make), (a) => (a[0] as tgm.optim.Optimizer).paramGroups.map((g) => ({ ...g })));
  for (const [key, kind] of GROUP_OPTIONS[cls === 'SGD' ? 'SGD' : 'Adam']) {
    add(`optim.${cls}#paramGroups`, [kind], () => { const [o, p] = withGrads(make)(); return [(o as unknown as Record<string, unknown>)[key], o, p]; },
      (a) => { (a[1] as tgm.optim.Optimizer).paramGroups[0][key] = a[0]; }, new RegExp(`${cls}|${key}`));
  }
  add(`optim.${cls}#addParamGroup`, [OPT_SELVES, [...ANY, ...GROUP]],
    () => { const [o, p] = withGrads(make)(); return [o, { params: [leaf()], lr: 0.01 }, p]; },
    (a) => (a[0] as tgm.optim.Optimizer).addParamGroup(a[1]), new RegExp(`${cls}|addParamGroup|disposed`));
  add(`optim.${cls}#weightDecay`, [OPT_SELVES, NUMS], () => { const [o, p] = withGrads(make)(); return [o, 0.05, p]; },
    (a) => { (a[0] as tgm.optim.Optimizer).weightDecay = a[1]; }, new RegExp(`${cls}|weightDecay`));
  for (const key of cls === 'SGD' ? ['momentum', 'dampening', 'nesterov'] : ['betas', 'eps']) {
    add(`optim.${cls}#${key}`, [OPT_SELVES], withGrads(make), (a) => (a[0] as unknown as Record<string, unknown>)[key]);
  }
}
// Trace methods
add('Trace#run', [], () => [tg.trace(twice)], (a) => (a[0] as tgm.Trace<T>).run(), 'trace');
add('Trace#dispose', [], () => [tg.trace(twice)], (a) => (a[0] as tgm.Trace<T>).dispose(), 'trace');

// issue 9 (ops-shape): var std cumsum split chunk unbind clone sort topk multinomial randint randperm oneHot
const VAR_OPTIONS = optionsHostile(['correction', 'keepdim', 'unbiased']);
const SORT_OPTIONS = optionsHostile(['dim', 'descending', 'stable']);
const TOPK_OPTIONS = optionsHostile(['dim', 'largest', 'sorted']);
const weights = (): T => tg.tensor([[1, 2, 0], [0, 3, 1]]);
for (const f of ['var', 'std'] as const) {
  add(`tg.${f}`, [TENSORS, DIMS, VAR_OPTIONS], () => [m33(), 1, { correction: 0, keepdim: true }], (a) => tg[f](a[0], a[1], a[2]));
  method(f, [DIMS, VAR_OPTIONS], () => [m33(), [0, 1], { correction: 2 }]);
}
add('tg.cumsum', [TENSORS, INTS], () => [m33(), -1], (a) => tg.cumsum(a[0], a[1]));
add('tg.split', [TENSORS, DIMS, INTS], () => [m33(), [1, 2], 1], (a) => tg.split(a[0], a[1], a[2]));
add('tg.chunk', [TENSORS, INTS, INTS], () => [m33(), 2, 1], (a) => tg.chunk(a[0], a[1], a[2]));
add('tg.unbind', [TENSORS, INTS], () => [m33(), -1], (a) => tg.unbind(a[0], a[1]));
add('tg.clone', [TENSORS], () => [m33()], (a) => tg.clone(a[0]));
add('tg.sort', [TENSORS, SORT_OPTIONS], () => [m33(), { dim: 0, descending: true, stable: true }], (a) => tg.sort(a[0], a[1]));
add('tg.topk', [TENSORS, INTS, TOPK_OPTIONS], () => [m33(), 2, { dim: 0, largest: false, sorted: true }], (a) => tg.topk(a[0], a[1], a[2]));
add('tg.multinomial', [TENSORS, INTS, optionsHostile(['replacement'])], () => [weights(), 2, { replacement: false }], (a) => tg.multinomial(a[0], a[1], a[2]));
add('tg.randint', [INTS, INTS, SHAPES], () => [-2, 5, [2, 3]], (a) => tg.randint(a[0], a[1], a[2]));
add('tg.randperm', [INTS], () => [7], (a) => tg.randperm(a[0]));
add('F.oneHot', [INDICES, INTS], () => [tg.tensor([[0, 2], [1, 1]]), 4], (a) => F.oneHot(a[0], a[1]));
method('cumsum', [INTS], () => [m33(), 0]);
method('split', [DIMS, INTS], () => [m33(), 2, -1]);
method('chunk', [INTS, INTS], () => [m33(), 3, 0]);
method('unbind', [INTS], () => [m33(), 1]);
method('clone', [], () => [m33()]);
method('sort', [SORT_OPTIONS], () => [m33(), { descending: true }]);
method('topk', [INTS, TOPK_OPTIONS], () => [m33(), 1, { dim: -1 }]);
method('multinomial', [INTS, optionsHostile(['replacement'])], () => [weights(), 3, { replacement: true }]);

// ── coverage: every public name has a case ───────────────────────────────────────────────────

/**
 * Methods on Module's and the optimizers' prototypes that are private or protected in TypeScript
 * (not public API). By name: the bundle is minified, so class names are not what the source says.
 */
const PRIVATE = new Set([
  'checkName', 'ownParameters', 'ownBuffers', 'setModules', // Module
  'position', 'renumber', 'key', 'sync', // ModuleList, ModuleDict
  'runLayers', 'runStep', // LSTM and GRU, their cells
  'checkNotDisposed', 'checkLive', 'holdWhileTraced', 'freeWhenUnused', 'loadBuffers', 'ensureBuffers', 'stateTensors', // optimizers
  'addGroups', 'makeGroup', 'checkOption', // optimizers' parameter groups
  'checkState', 'checkBuffers', 'commitState', // optimizers' loadStateDict
  'lrAt', // schedulers
]);

function publicNames(): string[] {
  const names: string[] = [];
  const fns = (prefix: string, o: object) => {
    for (const k of Object.keys(o)) if (typeof (o as Record<string, unknown>)[k] === 'function') names.push(`${prefix}.${k}`);
  };
  fns('tg', tg);
  fns('F', F);
  fns('nn', nn);
  fns('optim', optim);
  const protoNames = (p: object): string[] => Reflect.ownKeys(p).filter((k) => k !== 'constructor').map((k) => (typeof k === 'symbol' ? k.description! : k));
  for (const k of protoNames(tg.Tensor.prototype)) names.push(`Tensor#${k}`);
  for (const k of protoNames(tg.Trace.prototype)) names.push(`Trace#${k}`);
  for (const k of protoNames(nn.Module.prototype)) if (!PRIVATE.has(k)) names.push(`Module#${k}`);
  for (const cls of Object.keys(nn)) {
    const C = (nn as Record<string, unknown>)[cls];
    if (typeof C !== 'function' || !(C.prototype instanceof nn.Module)) continue;
    // each layer's own methods, and those of an abstract base between it and Module (Pool2d)
    for (let p = C.prototype; p !== nn.Module.prototype; p = Object.getPrototypeOf(p)) {
      for (const k of protoNames(p)) if (!PRIVATE.has(k)) names.push(`nn.${cls}#${k}`);
    }
  }
  for (const cls of ['SGD', 'Adam', 'AdamW']) {
    for (let p = (optim as Record<string, { prototype: object }>)[cls].prototype; p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const k of protoNames(p)) if (!PRIVATE.has(k)) names.push(`optim.${cls}#${k}`);
    }
  }
  for (const cls of ['StepLR', 'CosineAnnealingLR']) {
    for (let p = (optim as Record<string, { prototype: object }>)[cls].prototype; p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      for (const k of protoNames(p)) if (!PRIVATE.has(k)) names.push(`optim.${cls}#${k}`);
    }
  }
  return [...new Set(names)];
}

// ── the sentinel ring ──────────────────────────────────────────────────────────────────────────

interface Sentinel { name: string; t: T; bits: Uint32Array; gradBits: Uint32Array | null }
let ring: Sentinel[] = [];
let module: tgm.nn.Linear;
let adam: tgm.optim.Adam;

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
const gradBitsOf = (t: T): Uint32Array | null => tg.tidy(() => {
  const g = t.grad;
  return g ? bitsOf(g.data()) : null;
});

function buildRing(): void {
  tg.manualSeed(8);
  const mk = (name: string, t: T): void => { ring.push({ name, t, bits: bitsOf(t.data()), gradBits: null }); };
  mk('scalar', tg.tensor(3.25));
  mk('small', tg.tensor([1, -2, 3.5, NaN, -Infinity]));
  mk('empty', tg.zeros([0, 4]));
  const withGrad = tg.randn([4, 8], { requiresGrad: true });
  mk('withGrad', withGrad);
  mk('big', tg.arange(0, 5000, 1));
  const scalarGrad = tg.tensor(-0.5, { requiresGrad: true });
  mk('scalarGrad', scalarGrad);
  module = new nn.Linear(8, 3);
  mk('module.weight', module.weight);
  mk('module.bias', module.bias!);
  tg.tidy(() => {
    module.forward(withGrad.tanh()).sum().mul(scalarGrad).backward();
  });
  adam = new optim.Adam(module.parameters(), { lr: 0.01 });
  for (const s of ring) s.gradBits = gradBitsOf(s.t);
}

function ringDiff(): string | null {
  try {
    return ringDiffUnsafe();
  } catch (err) {
    return `reading the sentinels threw ${String(err)}`;
  }
}

function ringDiffUnsafe(): string | null {
  for (const s of ring) {
    if (s.t.isDisposed) return `sentinel ${s.name} was disposed`;
    const now = bitsOf(s.t.data());
    if (now.length !== s.bits.length || now.some((b, i) => b !== s.bits[i])) return `sentinel ${s.name} changed`;
    const g = gradBitsOf(s.t);
    if ((g === null) !== (s.gradBits === null) || (g && g.some((b, i) => b !== s.gradBits![i]))) return `sentinel ${s.name}'s gradient changed`;
  }
  return null;
}

/** [[1,2],[3,4]] @ [[5],[6]] summed is 56; dA = [[5,6],[5,6]], dB = [[4],[6]]. */
function computationWorks(): string | null {
  try {
    return tg.tidy(() => {
      const A = tg.tensor([[1, 2], [3, 4]], { requiresGrad: true });
      const B = tg.tensor([[5], [6]], { requiresGrad: true });
      const L = A.matmul(B).sum();
      if (L.item() !== 56) return `computation gave ${L.item()}`;
      L.backward();
      const ga = Array.from(A.grad!.data()).join(), gb = Array.from(B.grad!.data()).join();
      return ga === '5,6,5,6' && gb === '4,6' ? null : `gradients ${ga} / ${gb}`;
    });
  } catch (err) {
    return `computation threw ${String(err)}`;
  }
}

// ── running a call ─────────────────────────────────────────────────────────────────────────────

/** Disposes tensors, modules, optimizers and traces in whatever a call returned or was given. */
function release(v: unknown, depth = 0): void {
  if (depth > 4 || v === null || typeof v !== 'object') return;
  if (v instanceof tg.Tensor) v.dispose();
  else if (v instanceof tg.Trace) { release(v.output, depth + 1); v.dispose(); }
  else if (v instanceof nn.Module) v.dispose();
  else if (v instanceof optim.Optimizer) v.dispose();
  else if (Array.isArray(v)) { if (v !== cyclic && v !== deep10k) for (const x of v) release(x, depth + 1); }
  else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) for (const x of Object.values(v)) release(x, depth + 1);
  else if ('optimizer' in v && (v as { optimizer: unknown }).optimizer instanceof optim.Optimizer) release((v as { optimizer: unknown }).optimizer, depth + 1);
}

function errorProblem(err: unknown, op: string | RegExp, traced: boolean): string | null {
  if (!(err instanceof Error)) return `threw a non-Error ${String(err)}`;
  const msg = err.message;
  if (err.constructor !== Error && !(err instanceof RangeError && /out of memory|bytes/.test(msg))) {
    return `threw ${err.constructor.name}: ${msg}`;
  }
  const names = (typeof op === 'string' ? msg.includes(op) : op.test(msg)) || (traced && msg.startsWith('trace'));
  return names ? null : `message does not name ${String(op)}: ${msg}`;
}

interface Call { label: string; c: Case; index: number; hostile: Hostile | null; traced: boolean }

function allCalls(): Call[] {
  const calls: Call[] = [];
  for (const c of CASES) {
    for (const traced of [false, true]) {
      calls.push({ label: `${c.name}()${traced ? ' [trace]' : ''}`, c, index: -1, hostile: null, traced });
      c.kinds.forEach((kind, index) => {
        for (const hostile of kind) calls.push({ label: `${c.name}(arg ${index} = ${hostile.label})${traced ? ' [trace]' : ''}`, c, index, hostile, traced });
      });
    }
  }
  return calls;
}

/** Runs one call and every check after it; returns what went wrong, or null. */
function runCall({ c, index, hostile, traced }: Call): string | null {
  const before = tg.memory().tensors;
  const given: unknown[] = [];
  let result: unknown;
  let problem: string | null = null;
  try {
    const args = c.args();
    given.push(...args);
    if (hostile) {
      const v = hostile.make();
      given.push(v);
      args[index] = v;
    }
    if (traced) {
      const tr = tg.trace(() => c.call(args));
      result = tr;
      tr.run();
    } else {
      result = c.call(args);
    }
  } catch (err) {
    problem = errorProblem(err, c.op, traced);
    if (process.env.SENTINEL_MESSAGES && !traced) messages.push(`${c.name} [${hostile?.label ?? 'valid'}] ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    release(result);
    release(given);
  } catch (err) {
    problem ??= `disposing the result threw ${String(err)}`;
  }
  const after = tg.memory().tensors;
  if (after !== before) problem ??= `tensors ${before} → ${after}`;
  const broken = ringDiff() ?? computationWorks();
  if (broken) {
    engineBroken = true;
    problem = `${problem ? `${problem}; ` : ''}${broken}`;
  }
  return problem;
}

/** With SENTINEL_MESSAGES set, every error message is printed at the end (to read them). */
const messages: string[] = [];

/** Set when a call corrupted the sentinels or the engine: later calls would only repeat it. */
let engineBroken = false;

function runAll(calls: Call[]): { failures: string[]; count: number } {
  const failures: string[] = [];
  let count = 0;
  for (const call of calls) {
    count++;
    const problem = runCall(call);
    if (problem) failures.push(`${call.label}: ${problem}`);
    if (engineBroken) {
      failures.push(`(stopped after ${count} of ${calls.length} calls: the engine is no longer trustworthy)`);
      break;
    }
  }
  if (process.env.SENTINEL_LOG) {
    // eslint-disable-next-line no-console
    console.log(failures.join('\n'));
  }
  return { failures, count };
}

// ── the issue's repros (issue 8) ─────────────────────────────────────────────────────────────────

interface Repro {
  row: string;
  why: string;
  /** The issue's own repro: returns what went wrong, or null while the bug stays fixed. */
  scenario: () => string | null;
}

/** null when fn throws an Error (a RangeError only for memory) naming one of `ops`; else the problem. */
function throwsNaming(fn: () => unknown, ops: RegExp): string | null {
  try {
    fn();
  } catch (err) {
    return errorProblem(err, ops, false);
  }
  return `did not throw (expected an error naming ${String(ops)})`;
}

const gradOf = (t: T): number[] | null => tg.tidy(() => { const g = t.grad; return g ? Array.from(g.data()) : null; });

const REPROS: Repro[] = [
  {
    row: '1',
    why: 'a broadcast with an empty result writes nothing past its buffer ([3,3] op [0,3,3], expand, layerNorm on an empty batch)',
    scenario: () => {
      // the issue's repro, then the other ops the row names: operands first, then a hole and a
      // neighbour right after it (where the op's output lands), then the op
      const cases: [string, () => T[], (xs: T[]) => void][] = [
        ['[0,3,3] + [3,3]', () => [tg.zeros([0, 3, 3]), tg.full([3, 3], 5)], ([a, b]) => { a.add(b); }],
        ['[3,3] * [0,3,3], backward', () => [tg.full([3, 3], 2, { requiresGrad: true }), tg.zeros([0, 3, 3])],
          ([w, e]) => { w.mul(e).sum().backward(); }],
        ['expand [1,3] to [0,3]', () => [tg.ones([1, 3])], ([a]) => { a.expand([0, 3]); }],
        ['layerNorm with weight on an empty batch, backward', () => [tg.zeros([0, 3], { requiresGrad: true }), tg.ones([3], { requiresGrad: true })],
          ([x, w]) => { F.layerNorm(x, [3], w).sum().backward(); }],
      ];
      for (const [what, prepare, op] of cases) {
        const xs = prepare();
        const A = tg.zeros([4]), S = tg.full([4], 7);
        A.dispose();
        tg.tidy(() => op(xs)); // releases what the op made
        const values = Array.from(S.data());
        tg.dispose([...xs, S]);
        if (!values.every((v) => v === 7)) return `${what}: a neighbour reads ${values.join(',')} instead of 7,7,7,7`;
      }
      return null;
    },
  },
  {
    row: '4',
    why: 'index and label tensors refilled with copy_ after the op was built are refused by backward and by a replay',
    scenario: () => {
      const problems: string[] = [];
      const x = tg.tensor([1, 2, 3], { requiresGrad: true });
      const idx = tg.tensor([0, 1]);
      const y = x.gather(0, idx);
      const l = tg.tidy(() => y.sum());
      idx.copy_([4, 5]);
      const p1 = throwsNaming(() => l.backward(), /gather|backward|index/);
      if (p1) problems.push(`gather backward: ${p1}`);
      if (gradOf(x) !== null && gradOf(x)!.some((v) => v !== 0)) problems.push('gather backward wrote a gradient');
      tg.dispose([x, idx, y, l]);
      const lp = tg.tensor([[-1, -2], [-3, -4]], { requiresGrad: true });
      const labels = tg.tensor([0, 1]);
      const loss = F.nllLoss(lp, labels);
      labels.copy_([1e6, 0]);
      const p2 = throwsNaming(() => loss.backward(), /nllLoss|backward|label/);
      if (p2) problems.push(`nllLoss backward: ${p2}`);
      tg.dispose([lp, labels, loss]);
      const logits = tg.tensor([[1, 2, 3], [3, 2, 1]], { requiresGrad: true });
      const lab = tg.tensor([0, 1]);
      const tr = tg.trace(() => { const ce = F.crossEntropy(logits, lab); ce.backward(); return ce; });
      lab.copy_([5, -3]);
      const p3 = throwsNaming(() => tr.run(), /crossEntropy|trace|label/);
      if (p3) problems.push(`traced crossEntropy: ${p3}`);
      tr.dispose();
      tg.dispose([logits, lab]);
      return problems.length ? problems.join('; ') : null;
    },
  },
  {
    row: '13',
    why: 'copy_ into a tensor between forward and backward makes backward throw, as in PyTorch (version counters)',
    scenario: () => {
      const w = tg.tensor([1, 2], { requiresGrad: true });
      const x = tg.tensor([3, 4]);
      const y = tg.tidy(() => w.mul(x).sum());
      x.copy_([30, 40]);
      const p = throwsNaming(() => y.backward(), /backward|version|modified|copy_/);
      const g = gradOf(w);
      tg.dispose([w, x, y]);
      return p ?? (g === null ? null : `w.grad became ${g.join(',')}`);
    },
  },
  {
    row: '14',
    why: 'a second backward through the same graph throws unless the first retained it, as in PyTorch',
    scenario: () => {
      const w = tg.tensor([1, 2], { requiresGrad: true });
      const y = tg.tidy(() => w.mul(w).sum());
      y.backward();
      const p = throwsNaming(() => y.backward(), /backward|retain/);
      const g = gradOf(w);
      tg.dispose([w, y]);
      return p ?? (g!.join() === '2,4' ? null : `w.grad became ${g!.join(',')} (expected 2,4)`);
    },
  },
];

// ── the tests ──────────────────────────────────────────────────────────────────────────────────

describe('sentinel harness', () => {
  beforeAll(buildRing);

  it('every public function, method and constructor has a case', () => {
    const covered = new Set(CASES.map((c) => c.name));
    const missing = publicNames().filter((n) => !covered.has(n.replace(/^tg\.(.*)$/, 'tg.$1')));
    expect(missing, 'public names without a case in the sentinel table').toEqual([]);
  });

  it('the ring is intact and the computation works before any call', () => {
    expect(ringDiff()).toBeNull();
    expect(computationWorks()).toBeNull();
  });

  it('hostile calls: an Error naming the op or a result; nothing else changes', () => {
    const { failures, count } = runAll(allCalls());
    expect(count).toBeGreaterThan(1000);
    // eslint-disable-next-line no-console
    if (process.env.SENTINEL_MESSAGES) console.log(messages.join('\n'));
    expect(failures.slice(0, 60), `${failures.length} of ${count} calls failed`).toEqual([]);
  });
});

describe('sentinel harness: the issue\'s repros, each on a fresh engine', () => {
  for (const repro of REPROS) {
    it(`row ${repro.row}: ${repro.why}`, async () => {
      await freshEngine(repro.row);
      const before = tg.memory().tensors;
      let problem: string | null;
      try {
        problem = repro.scenario();
      } catch (err) {
        problem = `the repro threw ${String(err)}`;
      }
      if (tg.memory().tensors !== before) problem ??= `tensors ${before} → ${tg.memory().tensors}`;
      problem ??= ringDiff() ?? computationWorks();
      if (problem) engineBroken = true;
      expect(problem).toBeNull();
    });
  }
});
