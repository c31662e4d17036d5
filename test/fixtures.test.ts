// Replays the PyTorch fixtures in test/fixtures/ops*.json (made by scripts/gen_fixtures.py):
// for every case, build the inputs, call the op, compare the forward value, run
// backward(upstream) and compare every input's gradient.
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = ReturnType<typeof tg.tensor>;

interface Data {
  shape: number[];
  data: number[];
}
type InputSpec = (Data & { requiresGrad: boolean }) | { number: number } | { index: Data };
interface Case {
  name: string;
  op: string;
  inputs: InputSpec[];
  args: unknown[];
  kwargs: Record<string, unknown>;
  out: Data;
  upstream: Data | null;
  grads: (Data | null)[];
}
interface FixtureFile {
  count: number;
  totalCount: number;
  cases: Case[];
}

const RTOL = 1e-4;
const ATOL = 1e-5;

// ----------------------------------------------------------------------------- inputs

/** An integer index operand; each op's forms choose how to pass it (tensor, array, ...). */
class Index {
  constructor(
    readonly shape: number[],
    readonly values: number[],
  ) {}
  tensor(): Tensor {
    return tg.tensor(this.values, { shape: this.shape });
  }
  array(): number[] {
    return [...this.values];
  }
  int32(): Int32Array {
    return Int32Array.from(this.values);
  }
  nested(): unknown {
    const build = (dim: number, offset: number): unknown => {
      if (dim === this.shape.length) return this.values[offset];
      const stride = this.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }
}

type Input = Tensor | number | Index;

const isTensorSpec = (s: InputSpec): s is Data & { requiresGrad: boolean } => 'data' in s;

function buildInput(s: InputSpec): Input {
  if ('number' in s) return s.number;
  if ('index' in s) return new Index(s.index.shape, s.index.data);
  return tg.tensor(s.data, { shape: s.shape, requiresGrad: s.requiresGrad });
}

// ----------------------------------------------------------------------------- op table

/** One spelling of an op. Returns null when the spelling does not apply to the case
 * (e.g. the method form of `2 - x`). args: the fixture's args, then its kwargs as a final
 * options object when there are any. */
type Form = (inputs: any, args: unknown[]) => Tensor | null;
interface OpEntry {
  forms: Record<string, Form>;
  /** Length of an inner contraction (matmul's K, softmax's dim): widens atol. */
  inner?: (c: Case) => number;
}

type Keys<T> = Extract<keyof T, string>;
type MethodName = { [K in Keys<Tensor>]: Tensor[K] extends (...a: any[]) => any ? K : never }[Keys<Tensor>];
type FunctionName = { [K in Keys<typeof tg>]: (typeof tg)[K] extends (...a: any[]) => any ? K : never }[Keys<typeof tg>];

/** x.name(...args) with exactly the fixture's arguments (undefined is not passed for a missing one). */
function callMethod(x: Tensor, name: MethodName, args: unknown[]): Tensor {
  return Reflect.apply(x[name] as (...a: unknown[]) => unknown, x, args) as Tensor;
}
/** tg.name(...args). */
function callFn(name: FunctionName, args: unknown[]): Tensor {
  return Reflect.apply(tg[name] as (...a: unknown[]) => unknown, tg, args) as Tensor;
}

/** tg.op(a, b) and, when a is a tensor, a.op(b). */
const binary = (name: MethodName & FunctionName): OpEntry => ({
  forms: {
    [`tg.${name}(a, b)`]: ([a, b]: Input[]) => callFn(name, [a, b]),
    [`a.${name}(b)`]: ([a, b]: Input[]) => (typeof a === 'number' ? null : callMethod(a as Tensor, name, [b])),
  },
});
/** tg.op(x, ...args) and x.op(...args). */
const both = (name: MethodName & FunctionName): OpEntry => ({
  forms: {
    [`tg.${name}(x, ...)`]: ([x]: Tensor[], args) => callFn(name, [x, ...args]),
    [`x.${name}(...)`]: ([x]: Tensor[], args) => callMethod(x, name, args),
  },
});
/** x.op(...args). */
const method = (name: MethodName): OpEntry => ({
  forms: { [`x.${name}(...)`]: ([x]: Tensor[], args) => callMethod(x, name, args) },
});
/** x.op(shape) and x.op(...shape) (varargs; not for an empty shape). */
const shapeArg = (name: MethodName): OpEntry => ({
  forms: {
    [`x.${name}(shape)`]: ([x]: Tensor[], [shape]) => callMethod(x, name, [shape]),
    [`x.${name}(...shape)`]: ([x]: Tensor[], [shape]) =>
      (shape as number[]).length === 0 ? null : callMethod(x, name, shape as number[]),
  },
});
/** tg.op(tensors, ...args). */
const listFn = (name: FunctionName): OpEntry => ({
  forms: { [`tg.${name}(tensors, ...)`]: (xs: Tensor[], args) => callFn(name, [xs, ...args]) },
});

const shapeOf = (s: InputSpec): number[] => (isTensorSpec(s) ? s.shape : []);
const dimLength = (c: Case): number => {
  const shape = shapeOf(c.inputs[0]);
  const d = c.args[0] as number;
  return shape[d < 0 ? d + shape.length : d];
};

/** The composites of scripts/gen_fixtures.py (COMPOSITES), spelled with tapegrad's API. */
const COMPOSITES: Record<string, (...xs: any[]) => Tensor> = {
  fanout: (x: Tensor) => x.mul(x).add(x.exp().mul(x)),
  broadcast_reuse: (x: Tensor, b: Tensor) => x.add(b).mul(x.sub(b).sigmoid()),
  sq_error: (a: Tensor, b: Tensor, c: Tensor) => a.mul(b).sum(1).sub(c).pow(2).mean(),
  detach: (x: Tensor) => x.mul(x.detach()).add(x),
  self_matmul: (x: Tensor) => x.matmul(x.transpose(0, 1)).tanh().sum(),
  attention: (q: Tensor, k: Tensor, v: Tensor) =>
    q
      .matmul(k.transpose(-1, -2))
      .div(Math.sqrt(q.shape[q.shape.length - 1]))
      .softmax(-1)
      .matmul(v),
  layernorm: (x: Tensor, g: Tensor, b: Tensor) => {
    const centered = x.sub(x.mean(-1, true));
    const variance = centered.pow(2).mean(-1, true);
    return centered.div(variance.add(1e-5).sqrt()).mul(g).add(b);
  },
  shape_chain: (x: Tensor, w: Tensor) =>
    x.permute(2, 0, 1).reshape(4, 6).narrow(1, 1, 4).transpose(0, 1).mul(w).sum(0),
  cat_fanout: (x: Tensor, y: Tensor) => tg.cat([x, x.mul(2), y], 1).narrow(1, 2, 4).tanh(),
  max_min_lse: (x: Tensor) => x.max(1).sub(x.min(1)).add(x.logsumexp(1)),
  embedding: (e: Tensor, ids: Index, w: Tensor) => e.indexSelect(0, ids.array()).mul(w).sum(-1),
  expand_chain: (x: Tensor, y: Tensor) => x.unsqueeze(1).expand([3, 4, 2]).mul(y).sum(1),
  activations: (x: Tensor) => x.relu().mul(x.gelu()).add(x.leakyRelu(0.2).abs()),
  mlp_xent: (x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, labels: Index) =>
    x.matmul(w1).add(b1).tanh().matmul(w2).add(b2).logSoftmax(-1).gather(1, labels.tensor()).mean().neg(),
};

// issue 9 (ops-shape): ops returning several tensors are spelled as one, as scripts/gen_fixtures.py does
/** [count, each piece's dims..., piece k flattened times k + 1 ...]. */
const encodePieces = (ps: Tensor[]): Tensor =>
  tg.cat([tg.tensor([ps.length, ...ps.flatMap((p) => p.shape)]), ...ps.map((p, k) => p.flatten().mul(k + 1))]);
const pieces = (name: 'split' | 'chunk' | 'unbind'): OpEntry => ({
  forms: {
    [`tg.${name}(x, ...)`]: ([x]: Tensor[], args) => encodePieces(Reflect.apply(tg[name], tg, [x, ...args]) as Tensor[]),
    [`x.${name}(...)`]: ([x]: Tensor[], args) => encodePieces(Reflect.apply(x[name], x, args) as Tensor[]),
  },
});
const sorted = (name: 'sort' | 'topk'): OpEntry => ({
  forms: {
    [`tg.${name}(x, ...).values/.indices`]: ([x]: Tensor[], args) => {
      const r = Reflect.apply(tg[name], tg, [x, ...args]) as ReturnType<typeof tg.sort>;
      return tg.stack([r.values, r.indices]);
    },
    [`[values, indices] = x.${name}(...)`]: ([x]: Tensor[], args) => {
      const [values, indices] = Reflect.apply(x[name], x, args) as ReturnType<typeof tg.sort>;
      return tg.stack([values, indices]);
    },
  },
});
/** var/std: the fixture's dim is null for every element. */
const spread = (name: 'var' | 'std'): OpEntry => ({
  forms: {
    [`tg.${name}(x, dim, options)`]: ([x]: Tensor[], [dim, o]) => callFn(name, [x, dim ?? undefined, o]),
    [`x.${name}(dim, options)`]: ([x]: Tensor[], [dim, o]) => callMethod(x, name, [dim ?? undefined, o]),
  },
});
const ISSUE9_SHAPE: Record<string, OpEntry> = {
  var: spread('var'),
  std: spread('std'),
  cumsum: { ...both('cumsum'), inner: dimLength },
  clone: both('clone'),
  split: pieces('split'),
  chunk: pieces('chunk'),
  unbind: pieces('unbind'),
  sort: sorted('sort'),
  topk: sorted('topk'),
  oneHot: {
    forms: {
      'F.oneHot(Tensor, ...)': ([i]: Index[], args) => Reflect.apply(tg.nn.functional.oneHot, null, [i.tensor(), ...args]) as Tensor,
      'F.oneHot(nested array, ...)': ([i]: Index[], args) => Reflect.apply(tg.nn.functional.oneHot, null, [i.nested(), ...args]) as Tensor,
    },
  },
};

const OPS: Record<string, OpEntry> = {
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div'),
  pow: binary('pow'),
  maximum: binary('maximum'),
  minimum: binary('minimum'),
  neg: both('neg'),
  abs: both('abs'),
  exp: both('exp'),
  log: both('log'),
  sqrt: both('sqrt'),
  tanh: both('tanh'),
  sigmoid: both('sigmoid'),
  relu: both('relu'),
  leakyRelu: both('leakyRelu'),
  gelu: both('gelu'),
  matmul: { ...binary('matmul'), inner: (c) => shapeOf(c.inputs[0]).slice(-1)[0] },
  sum: both('sum'),
  mean: method('mean'),
  max: method('max'),
  min: method('min'),
  logsumexp: method('logsumexp'),
  argmax: method('argmax'),
  argmin: method('argmin'),
  reshape: shapeArg('reshape'),
  view: shapeArg('view'),
  flatten: method('flatten'),
  transpose: method('transpose'),
  permute: shapeArg('permute'),
  squeeze: method('squeeze'),
  unsqueeze: method('unsqueeze'),
  expand: method('expand'),
  cat: listFn('cat'),
  stack: listFn('stack'),
  narrow: method('narrow'),
  indexSelect: {
    forms: {
      'x.indexSelect(dim, Tensor)': ([x, i]: [Tensor, Index], [dim]) => x.indexSelect(dim as number, i.tensor()),
      'x.indexSelect(dim, number[])': ([x, i]: [Tensor, Index], [dim]) => x.indexSelect(dim as number, i.array()),
      'tg.indexSelect(x, dim, Int32Array)': ([x, i]: [Tensor, Index], [dim]) =>
        tg.indexSelect(x, dim as number, i.int32()),
    },
  },
  gather: {
    forms: {
      'x.gather(dim, Tensor)': ([x, i]: [Tensor, Index], [dim]) => x.gather(dim as number, i.tensor()),
      'tg.gather(x, dim, nested array)': ([x, i]: [Tensor, Index], [dim]) =>
        callFn('gather', [x, dim, i.nested()]),
    },
  },
  // issue 9: selection, masking, comparison, clamp, more unary
  where: {
    forms: {
      'tg.where(c, x, y)': ([c, x, y]: Input[]) => callFn('where', [c, x, y]),
      'x.where(c, y)': ([c, x, y]: Input[]) => (typeof x === 'number' ? null : (x as Tensor).where(c as Tensor, y as Tensor)),
    },
  },
  maskedFill: {
    forms: {
      'tg.maskedFill(x, mask, value)': ([x, m, v]: Input[]) => callFn('maskedFill', [x, m, v]),
      'x.maskedFill(mask, value)': ([x, m, v]: [Tensor, Tensor, number | Tensor]) => x.maskedFill(m, v),
    },
  },
  tril: both('tril'),
  triu: both('triu'),
  ...Object.fromEntries((['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const).map((op) => [op, binary(op)])),
  ...Object.fromEntries((['clamp', 'clampMin', 'clampMax', 'sin', 'cos', 'square', 'rsqrt', 'silu', 'softplus'] as const).map((op) => [op, both(op)])),
  softmax: { ...both('softmax'), inner: dimLength },
  logSoftmax: { ...both('logSoftmax'), inner: dimLength },
  ...ISSUE9_SHAPE,
  ...Object.fromEntries(
    Object.entries(COMPOSITES).map(([name, f]): [string, OpEntry] => [
      `composite:${name}`,
      {
        forms: { [name]: (inputs) => f(...inputs) },
        inner: (c) => Math.max(1, ...c.inputs.flatMap(shapeOf)),
      },
    ]),
  ),
};

// ----------------------------------------------------------------------------- runner

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
/** atol for a value that sums about n rounded terms. */
const atolFor = (n: number): number => ATOL * Math.sqrt(Math.max(1, n));

function runForm(c: Case, entry: OpEntry, formName: string, form: Form): boolean {
  const where = `${c.name} [${formName}]`;
  const args = Object.keys(c.kwargs).length > 0 ? [...c.args, c.kwargs] : c.args;
  const inner = entry.inner?.(c) ?? 1;
  const outSize = size(c.out.shape);
  const firstSize = isTensorSpec(c.inputs[0]) ? size(c.inputs[0].shape) : 1;
  let ran = false;
  tg.tidy(() => {
    const inputs = c.inputs.map(buildInput);
    const out = form(inputs, args);
    if (out === null) return;
    ran = true;
    expect(out.shape, `${where}: output shape`).toEqual(c.out.shape);
    const fwdAtol = atolFor(Math.max(firstSize / outSize, inner));
    expectClose(out.data(), c.out.data, RTOL, fwdAtol, `${where}: forward`, c.out.shape);

    if (c.grads.some((g) => g !== null)) {
      if (c.upstream) out.backward(tg.tensor(c.upstream.data, { shape: c.upstream.shape }));
      else out.backward();
    }
    c.inputs.forEach((spec, i) => {
      if (!isTensorSpec(spec)) return;
      const expected = c.grads[i];
      const grad = (inputs[i] as Tensor).grad;
      const label = `${where}: grad of input ${i} ${JSON.stringify(spec.shape)}`;
      if (expected === null) {
        expect(grad, `${label} should be null`).toBeNull();
        return;
      }
      expect(grad, `${label} is missing`).not.toBeNull();
      expect(grad!.shape, `${label}: shape`).toEqual(expected.shape);
      const n = Math.max(1, outSize / size(spec.shape)) * inner;
      expectClose(grad!.data(), expected.data, RTOL, atolFor(n), label, expected.shape);
    });
  });
  return ran;
}

function loadCases(): { files: FixtureFile[]; cases: Case[] } {
  const dir = new URL('./fixtures/', import.meta.url);
  const names = readdirSync(dir)
    .filter((f) => /^ops(-\d+)?\.json$/.test(f))
    .sort((a, b) => a.length - b.length || a.localeCompare(b));
  const files = names.map((f) => JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as FixtureFile);
  return { files, cases: files.flatMap((f) => f.cases) };
}

const { files, cases } = loadCases();

describe('PyTorch fixtures', () => {
  let liveBefore = 0;
  beforeAll(() => {
    liveBefore = tg.memory().tensors;
  });

  it('fixture files are complete', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f.cases.length).toBe(f.count);
    expect(cases.length).toBe(files[0].totalCount);
  });

  it('every op in the table has fixture cases', () => {
    const covered = new Set(cases.map((c) => c.op));
    expect(Object.keys(OPS).filter((op) => !covered.has(op))).toEqual([]);
  });

  for (const c of cases) {
    it(c.name, () => {
      const entry = OPS[c.op];
      if (!entry) throw new Error(`no entry for op "${c.op}" in test/fixtures.test.ts`);
      let ran = 0;
      for (const [formName, form] of Object.entries(entry.forms)) {
        if (runForm(c, entry, formName, form)) ran++;
      }
      expect(ran, `${c.name}: no form of ${c.op} applies`).toBeGreaterThan(0);
    });
  }

  it('releases every tensor the cases created', () => {
    expect(tg.memory().tensors, 'live tensors after all cases (tidy should release them)').toBe(liveBefore);
  });
});
