// Property tests (fast-check): broadcasting and shape ops against naive JS references written
// here. All values are small integers (or integers + 0.5), so float32 results are exact and the
// comparisons below are exact. Every property body runs inside tg.tidy so memory stays bounded.
import { describe, it, expect, beforeAll } from 'vitest';
import fc from 'fast-check';
import * as tg from '../dist/index.js';

type T = tg.Tensor;
const RUNS = { numRuns: 150 };

// ---------------------------------------------------------------- naive n-d helpers

const prod = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);

function ravel(idx: readonly number[], shape: readonly number[]): number {
  let f = 0;
  for (let k = 0; k < shape.length; k++) f = f * shape[k] + idx[k];
  return f;
}

/** calls cb for every multi-index of shape in row-major order (once, with [], for a 0-d shape) */
function forEachIndex(shape: readonly number[], cb: (idx: number[], flat: number) => void) {
  const n = prod(shape);
  const idx = new Array(shape.length).fill(0);
  for (let f = 0; f < n; f++) {
    cb(idx.slice(), f);
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
}

/** nested arrays from a flat row-major list; a number for a 0-d shape */
function toNested(shape: readonly number[], data: readonly number[]): unknown {
  if (shape.length === 0) return data[0];
  const build = (dim: number, offset: number): unknown => {
    const stride = prod(shape.slice(dim + 1));
    const out: unknown[] = [];
    for (let i = 0; i < shape[dim]; i++) {
      out.push(dim === shape.length - 1 ? data[offset + i] : build(dim + 1, offset + i * stride));
    }
    return out;
  };
  return build(0, 0);
}

/** -0 -> 0, recursively (toEqual distinguishes them) */
function norm(x: unknown): unknown {
  if (typeof x === 'number') return x + 0;
  if (x instanceof Float32Array) return Array.from(x, (v) => v + 0);
  if (Array.isArray(x)) return x.map(norm);
  return x;
}

function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const da = a[a.length - n + k] ?? 1;
    const db = b[b.length - n + k] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(Math.max(da, db));
  }
  return out;
}

/** flat index in an operand of shape `inShape` read by output multi-index `outIdx` */
function broadcastSource(outIdx: readonly number[], inShape: readonly number[]): number {
  const lead = outIdx.length - inShape.length;
  return ravel(inShape.map((d, k) => (d === 1 ? 0 : outIdx[lead + k])), inShape);
}

/** deterministic small-integer weights in [-3, 3] */
function weights(n: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s % 7) - 3;
  });
}

/** distinct integer values for input k */
const iota = (n: number, k = 0) => Array.from({ length: n }, (_, i) => i - (n >> 1) + 1000 * k);

const normDim = (d: number, rank: number) => (d < 0 ? d + rank : d);

// The engine may allocate bookkeeping (e.g. the op tape) once, on first use: warm it up so that
// the per-property memory checks below measure only what the properties themselves leave behind.
beforeAll(() => {
  tg.tidy(() => tg.tensor([1, 2], { requiresGrad: true }).mul(2).sum().backward());
});

function expectMemoryBounded(body: () => void) {
  const before = tg.memory();
  body();
  const after = tg.memory();
  expect(after.tensors).toBe(before.tensors);
  expect(after.bytes).toBe(before.bytes);
}

// ---------------------------------------------------------------- arbitraries

const dimArb = fc.integer({ min: 1, max: 4 });
/** dims 1-4, with extra weight on 1 (to exercise broadcasting and squeeze) */
const dim1Arb = fc.oneof(fc.constant(1), dimArb);
const shapeArb = (minLength = 0, maxLength = 4, d = dimArb) => fc.array(d, { minLength, maxLength });

/** a shape that broadcasts to `out`: drop some leading dims, set some dims to 1 */
const broadcastableTo = (out: number[]) =>
  fc
    .tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));

const intArray = (n: number, lo = -5, hi = 5) => fc.array(fc.integer({ min: lo, max: hi }), { minLength: n, maxLength: n });

const pairArb = shapeArb()
  .chain((out) => fc.tuple(broadcastableTo(out), broadcastableTo(out)))
  .chain(([sa, sb]) =>
    fc.record({
      sa: fc.constant(sa),
      sb: fc.constant(sb),
      a: intArray(prod(sa)),
      b: intArray(prod(sb)).map((v) => v.map((x) => x + 0.5)), // never equal to an a value
      seed: fc.integer(),
      functional: fc.boolean(),
    }),
  );

// ---------------------------------------------------------------- broadcasting

type BinOp = 'add' | 'mul' | 'maximum';
const binRef: Record<BinOp, { f: (a: number, b: number) => number; da: (a: number, b: number) => number; db: (a: number, b: number) => number }> = {
  add: { f: (a, b) => a + b, da: () => 1, db: () => 1 },
  mul: { f: (a, b) => a * b, da: (_a, b) => b, db: (a) => a },
  maximum: { f: (a, b) => Math.max(a, b), da: (a, b) => (a > b ? 1 : 0), db: (a, b) => (b > a ? 1 : 0) },
};

describe('broadcasting binary ops against a naive reference', () => {
  for (const op of ['add', 'mul', 'maximum'] as BinOp[]) {
    it(`${op}: value, broadcast shape, and gradient = sum over broadcast axes`, () => {
      expectMemoryBounded(() =>
        fc.assert(
          fc.property(pairArb, ({ sa, sb, a, b, seed, functional }) => {
            tg.tidy(() => {
              const ref = binRef[op];
              const outShape = broadcastShape(sa, sb)!;
              const A = tg.tensor(a, { shape: sa, requiresGrad: true });
              const B = tg.tensor(b, { shape: sb, requiresGrad: true });
              const Y = functional ? (tg[op] as (x: T, y: T) => T)(A, B) : (A[op] as (y: T) => T).call(A, B);
              expect(Y.shape).toEqual(outShape);
              const expVal: number[] = [];
              const W = weights(prod(outShape), seed);
              const gA = new Array(a.length).fill(0);
              const gB = new Array(b.length).fill(0);
              forEachIndex(outShape, (idx, f) => {
                const ia = broadcastSource(idx, sa);
                const ib = broadcastSource(idx, sb);
                expVal.push(ref.f(a[ia], b[ib]));
                gA[ia] += W[f] * ref.da(a[ia], b[ib]);
                gB[ib] += W[f] * ref.db(a[ia], b[ib]);
              });
              expect(norm(Y.toArray())).toEqual(norm(toNested(outShape, expVal)));
              Y.backward(tg.tensor(W, { shape: outShape }));
              expect(A.grad!.shape).toEqual(sa);
              expect(B.grad!.shape).toEqual(sb);
              expect(norm(A.grad!.data())).toEqual(norm(gA));
              expect(norm(B.grad!.data())).toEqual(norm(gB));
            });
          }),
          RUNS,
        ),
      );
    });
  }

  it('a plain number operand broadcasts like a 0-d tensor', () => {
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(
          shapeArb().chain((s) => fc.tuple(fc.constant(s), intArray(prod(s)), fc.integer({ min: -5, max: 5 }))),
          ([s, a, c]) => {
            tg.tidy(() => {
              const A = tg.tensor(a, { shape: s });
              expect(norm(A.add(c).toArray())).toEqual(norm(toNested(s, a.map((v) => v + c))));
              expect(norm(tg.mul(c, A).toArray())).toEqual(norm(toNested(s, a.map((v) => v * c))));
              expect(norm(tg.sub(c, A).toArray())).toEqual(norm(toNested(s, a.map((v) => c - v))));
              expect(A.maximum(c).shape).toEqual(s);
            });
          },
        ),
        RUNS,
      ),
    );
  });

  it('incompatible shapes throw an error naming the op and both shapes', () => {
    const badArb = shapeArb(1, 4).chain((out) =>
      fc
        .record({
          axis: fc.integer({ min: 0, max: out.length - 1 }),
          p: fc.integer({ min: 2, max: 4 }),
          q: fc.integer({ min: 2, max: 4 }),
          onesA: fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
          onesB: fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }),
          dropA: fc.nat(),
          dropB: fc.nat(),
        })
        .filter(({ p, q }) => p !== q)
        .map(({ axis, p, q, onesA, onesB, dropA, dropB }) => {
          const make = (drop: number, ones: boolean[], v: number) =>
            out.map((d, i) => (i === axis ? v : ones[i] ? 1 : d)).slice(drop % (axis + 1));
          return { sa: make(dropA, onesA, p), sb: make(dropB, onesB, q) };
        }),
    );
    const fmt = (s: number[]) => `\\[${s.join(',\\s*')}\\]`;
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(badArb, ({ sa, sb }) => {
          expect(broadcastShape(sa, sb)).toBeNull();
          tg.tidy(() => {
            const A = tg.zeros(sa);
            const B = tg.zeros(sb);
            expect(() => A.add(B)).toThrow(new RegExp(`add.*${fmt(sa)}.*${fmt(sb)}`));
          });
        }),
        RUNS,
      ),
    );
  });
});

// ---------------------------------------------------------------- shape ops as gather maps

/**
 * A shape op is checked through its gather map: output element i reads input `src[i][0]` at flat
 * index `src[i][1]`. The forward value is input[src[i]]; the gradient of y.backward(W) is
 * the scatter-add of W through the same map.
 */
function checkGatherOp(
  inputShapes: number[][],
  apply: (xs: T[]) => T,
  outShape: number[],
  src: [number, number][],
  seed: number,
) {
  tg.tidy(() => {
    const datas = inputShapes.map((s, k) => iota(prod(s), k));
    const xs = inputShapes.map((s, k) => tg.tensor(datas[k], { shape: s, requiresGrad: true }));
    const y = apply(xs);
    expect(y.shape).toEqual(outShape);
    expect(src.length).toBe(prod(outShape));
    const expVal = src.map(([k, f]) => datas[k][f]);
    expect(norm(y.toArray())).toEqual(norm(toNested(outShape, expVal)));
    const W = weights(src.length, seed);
    y.backward(tg.tensor(W, { shape: outShape }));
    const expGrad = datas.map((d) => new Array(d.length).fill(0));
    src.forEach(([k, f], i) => {
      expGrad[k][f] += W[i];
    });
    xs.forEach((x, k) => {
      expect(x.grad!.shape).toEqual(inputShapes[k]);
      expect(norm(x.grad!.data())).toEqual(norm(expGrad[k]));
    });
  });
}

function identityMap(n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => [0, i]);
}

/** gather map of a single-input op: out multi-index -> input multi-index */
function mapOf(inShape: number[], outShape: number[], inIdx: (outIdx: number[]) => number[]): [number, number][] {
  const src: [number, number][] = [];
  forEachIndex(outShape, (idx) => src.push([0, ravel(inIdx(idx), inShape)]));
  return src;
}

function primeFactors(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; n > 1; p++) while (n % p === 0) (out.push(p), (n /= p));
  return out;
}

describe('shape ops against naive references (values and gradients)', () => {
  it('reshape / view (array, varargs, one -1)', () => {
    const arb = shapeArb().chain((s) => {
      const primes = primeFactors(prod(s));
      const n = primes.length;
      return fc.record({
        s: fc.constant(s),
        order: fc.shuffledSubarray(
          primes.map((_, i) => i),
          { minLength: n, maxLength: n },
        ),
        groups: fc.integer({ min: 0, max: 4 }),
        assign: fc.array(fc.nat(), { minLength: n, maxLength: n }),
        minus: fc.option(fc.nat()),
        form: fc.constantFrom('reshape', 'reshapeVarargs', 'view', 'viewVarargs'),
        seed: fc.integer(),
      });
    });
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, order, groups, assign, minus, form, seed }) => {
          const primes = primeFactors(prod(s));
          const g = groups === 0 && primes.length > 0 ? 1 : groups;
          const target = new Array(g).fill(1);
          order.forEach((pi, j) => {
            target[assign[j] % g] *= primes[pi];
          });
          const arg = target.slice();
          if (minus !== null && g > 0) arg[minus % g] = -1;
          const varargs = form.endsWith('Varargs') && arg.length > 0;
          const method = form.startsWith('view') ? 'view' : 'reshape';
          checkGatherOp(
            [s],
            ([x]) => (varargs ? (x[method] as (...d: number[]) => T)(...arg) : (x[method] as (d: number[]) => T)(arg)),
            target,
            identityMap(prod(s)),
            seed,
          );
        }),
        RUNS,
      ),
    );
  });

  it('flatten(startDim, endDim)', () => {
    const arb = shapeArb(1).chain((s) =>
      fc.record({
        s: fc.constant(s),
        a: fc.integer({ min: 0, max: s.length - 1 }),
        b: fc.integer({ min: 0, max: s.length - 1 }),
        negA: fc.boolean(),
        negB: fc.boolean(),
        useDefault: fc.boolean(),
        seed: fc.integer(),
      }),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, a, b, negA, negB, useDefault, seed }) => {
          const r = s.length;
          const [lo, hi] = a <= b ? [a, b] : [b, a];
          const outShape = useDefault ? [prod(s)] : [...s.slice(0, lo), prod(s.slice(lo, hi + 1)), ...s.slice(hi + 1)];
          checkGatherOp(
            [s],
            ([x]) => (useDefault ? x.flatten() : x.flatten(negA ? lo - r : lo, negB ? hi - r : hi)),
            outShape,
            identityMap(prod(s)),
            seed,
          );
        }),
        RUNS,
      ),
    );
  });

  it('transpose(d0, d1)', () => {
    const arb = shapeArb(1).chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.integer({ min: -s.length, max: s.length - 1 }),
        fc.integer({ min: -s.length, max: s.length - 1 }),
        fc.integer(),
      ),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ([s, d0, d1, seed]) => {
          const a = normDim(d0, s.length);
          const b = normDim(d1, s.length);
          const outShape = s.slice();
          [outShape[a], outShape[b]] = [s[b], s[a]];
          const src = mapOf(s, outShape, (idx) => {
            const j = idx.slice();
            [j[a], j[b]] = [idx[b], idx[a]];
            return j;
          });
          checkGatherOp([s], ([x]) => x.transpose(d0, d1), outShape, src, seed);
        }),
        RUNS,
      ),
    );
  });

  it('permute(dims) (array and varargs)', () => {
    const arb = shapeArb(1).chain((s) =>
      fc.tuple(
        fc.constant(s),
        fc.shuffledSubarray(
          s.map((_, i) => i),
          { minLength: s.length, maxLength: s.length },
        ),
        fc.boolean(),
        fc.integer(),
      ),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ([s, perm, varargs, seed]) => {
          const outShape = perm.map((p) => s[p]);
          const src = mapOf(s, outShape, (idx) => {
            const j = new Array(s.length);
            perm.forEach((p, i) => {
              j[p] = idx[i];
            });
            return j;
          });
          checkGatherOp([s], ([x]) => (varargs ? x.permute(...perm) : x.permute(perm)), outShape, src, seed);
        }),
        RUNS,
      ),
    );
  });

  it('squeeze(dim?) and unsqueeze(dim)', () => {
    const arb = shapeArb(0, 4, dim1Arb).chain((s) =>
      fc.record({
        s: fc.constant(s),
        sq: s.length === 0 ? fc.constant(undefined) : fc.option(fc.integer({ min: -s.length, max: s.length - 1 }), { nil: undefined }),
        unsq: fc.integer({ min: -(s.length + 1), max: s.length }),
        seed: fc.integer(),
      }),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, sq, unsq, seed }) => {
          let sqShape: number[];
          if (sq === undefined) sqShape = s.filter((d) => d !== 1);
          else {
            const d = normDim(sq, s.length);
            sqShape = s[d] === 1 ? s.filter((_, i) => i !== d) : s.slice();
          }
          checkGatherOp([s], ([x]) => (sq === undefined ? x.squeeze() : x.squeeze(sq)), sqShape, identityMap(prod(s)), seed);
          const u = unsq < 0 ? unsq + s.length + 1 : unsq;
          const unShape = [...s.slice(0, u), 1, ...s.slice(u)];
          checkGatherOp([s], ([x]) => x.unsqueeze(unsq), unShape, identityMap(prod(s)), seed + 1);
        }),
        RUNS,
      ),
    );
  });

  it('expand(shape) (new leading dims, -1 keeps a dim)', () => {
    const arb = shapeArb(0, 3, dim1Arb).chain((s) =>
      fc.record({
        s: fc.constant(s),
        lead: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        choices: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: s.length, maxLength: s.length }),
        seed: fc.integer(),
      }),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, lead, choices, seed }) => {
          // for a dim of size 1: choice 0 -> -1 (stays 1), else the new size; otherwise keep or -1
          const arg = [...lead, ...s.map((d, i) => (d === 1 ? (choices[i] === 0 ? -1 : choices[i]) : choices[i] % 2 ? -1 : d))];
          const outShape = [...lead, ...s.map((d, i) => (d === 1 ? Math.max(1, choices[i]) : d))];
          const src = mapOf(s, outShape, (idx) => s.map((d, k) => (d === 1 ? 0 : idx[lead.length + k])));
          checkGatherOp([s], ([x]) => x.expand(arg), outShape, src, seed);
        }),
        RUNS,
      ),
    );
  });

  it('tg.cat(tensors, dim)', () => {
    const arb = shapeArb(1).chain((s) =>
      fc.record({
        s: fc.constant(s),
        dim: fc.integer({ min: 0, max: s.length - 1 }),
        sizes: fc.array(dimArb, { minLength: 1, maxLength: 3 }),
        negative: fc.boolean(),
        seed: fc.integer(),
      }),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, dim, sizes, negative, seed }) => {
          const shapes = sizes.map((n) => s.map((d, i) => (i === dim ? n : d)));
          const outShape = s.map((d, i) => (i === dim ? sizes.reduce((p, q) => p + q, 0) : d));
          const src: [number, number][] = [];
          forEachIndex(outShape, (idx) => {
            let k = 0;
            let off = idx[dim];
            while (off >= sizes[k]) off -= sizes[k++];
            const j = idx.slice();
            j[dim] = off;
            src.push([k, ravel(j, shapes[k])]);
          });
          checkGatherOp(shapes, (xs) => tg.cat(xs, negative ? dim - s.length : dim), outShape, src, seed);
        }),
        RUNS,
      ),
    );
  });

  it('tg.cat with the default dim 0', () => {
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(shapeArb(1, 3), dimArb, fc.integer(), (s, n, seed) => {
          const s2 = [n, ...s.slice(1)];
          const outShape = [s[0] + n, ...s.slice(1)];
          const src: [number, number][] = [...identityMap(prod(s)), ...identityMap(prod(s2)).map(([, f]) => [1, f] as [number, number])];
          checkGatherOp([s, s2], (xs) => tg.cat(xs), outShape, src, seed);
        }),
        RUNS,
      ),
    );
  });

  it('tg.stack(tensors, dim)', () => {
    const arb = shapeArb(0, 3).chain((s) =>
      fc.record({
        s: fc.constant(s),
        count: fc.integer({ min: 1, max: 3 }),
        dim: fc.integer({ min: -(s.length + 1), max: s.length }),
        useDefault: fc.boolean(),
        seed: fc.integer(),
      }),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, count, dim, useDefault, seed }) => {
          const d = useDefault ? 0 : dim < 0 ? dim + s.length + 1 : dim;
          const outShape = [...s.slice(0, d), count, ...s.slice(d)];
          const src: [number, number][] = [];
          forEachIndex(outShape, (idx) => {
            const j = idx.filter((_, i) => i !== d);
            src.push([idx[d], ravel(j, s)]);
          });
          const shapes = new Array(count).fill(s);
          checkGatherOp(shapes, (xs) => (useDefault ? tg.stack(xs) : tg.stack(xs, dim)), outShape, src, seed);
        }),
        RUNS,
      ),
    );
  });

  it('narrow(dim, start, length)', () => {
    const arb = shapeArb(1)
      .chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 }), fc.boolean()))
      .chain(([s, dim, negative]) =>
        fc.tuple(fc.constant(s), fc.constant(dim), fc.constant(negative), fc.integer({ min: 0, max: s[dim] - 1 })),
      )
      .chain(([s, dim, negative, start]) =>
        fc.record({
          s: fc.constant(s),
          dim: fc.constant(dim),
          negative: fc.constant(negative),
          start: fc.constant(start),
          length: fc.integer({ min: 1, max: s[dim] - start }),
          seed: fc.integer(),
        }),
      );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, dim, negative, start, length, seed }) => {
          const outShape = s.map((d, i) => (i === dim ? length : d));
          const src = mapOf(s, outShape, (idx) => idx.map((v, i) => (i === dim ? v + start : v)));
          checkGatherOp([s], ([x]) => x.narrow(negative ? dim - s.length : dim, start, length), outShape, src, seed);
        }),
        RUNS,
      ),
    );
  });

  it('indexSelect(dim, index) with number[], Int32Array and tensor indices', () => {
    const arb = shapeArb(1)
      .chain((s) => fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length - 1 })))
      .chain(([s, dim]) =>
        fc.record({
          s: fc.constant(s),
          dim: fc.constant(dim),
          index: fc.array(fc.integer({ min: 0, max: s[dim] - 1 }), { minLength: 1, maxLength: 5 }),
          form: fc.constantFrom('array', 'int32', 'tensor'),
          negative: fc.boolean(),
          seed: fc.integer(),
        }),
      );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, dim, index, form, negative, seed }) => {
          const outShape = s.map((d, i) => (i === dim ? index.length : d));
          const src = mapOf(s, outShape, (idx) => idx.map((v, i) => (i === dim ? index[v] : v)));
          checkGatherOp(
            [s],
            ([x]) => {
              const ix = form === 'array' ? index : form === 'int32' ? Int32Array.from(index) : tg.tensor(index);
              return x.indexSelect(negative ? dim - s.length : dim, ix);
            },
            outShape,
            src,
            seed,
          );
        }),
        RUNS,
      ),
    );
  });
});

// ---------------------------------------------------------------- reductions

describe('sum over dims against a naive reference', () => {
  it('sum(), sum(dim), sum(dims), keepdim, negative dims: value and gradient', () => {
    const arb = shapeArb().chain((s) =>
      fc.record({
        s: fc.constant(s),
        dims: fc.subarray(s.map((_, i) => i)),
        negs: fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }),
        form: fc.constantFrom('all', 'single', 'array'),
        keepdim: fc.boolean(),
        values: intArray(prod(s)),
        seed: fc.integer(),
      }),
    );
    expectMemoryBounded(() =>
      fc.assert(
        fc.property(arb, ({ s, dims, negs, form, keepdim, values, seed }) => {
          const r = s.length;
          let reduced: number[]; // normalized dims being summed
          let call: (x: T) => T;
          if (form === 'all' || dims.length === 0) {
            reduced = s.map((_, i) => i);
            keepdim = false;
            call = (x) => x.sum();
          } else if (form === 'single') {
            const d = dims[0];
            reduced = [d];
            const arg = negs[d] ? d - r : d;
            call = (x) => x.sum(arg, keepdim);
          } else {
            reduced = dims;
            const arg = dims.map((d) => (negs[d] ? d - r : d));
            call = (x) => x.sum(arg, keepdim);
          }
          const outShape = keepdim ? s.map((d, i) => (reduced.includes(i) ? 1 : d)) : s.filter((_, i) => !reduced.includes(i));
          const outIndexOf = (idx: number[]) =>
            keepdim ? ravel(idx.map((v, i) => (reduced.includes(i) ? 0 : v)), outShape) : ravel(idx.filter((_, i) => !reduced.includes(i)), outShape);
          const expVal = new Array(prod(outShape)).fill(0);
          forEachIndex(s, (idx, f) => {
            expVal[outIndexOf(idx)] += values[f];
          });
          const W = weights(prod(outShape), seed);
          const expGrad: number[] = [];
          forEachIndex(s, (idx) => expGrad.push(W[outIndexOf(idx)]));
          tg.tidy(() => {
            const x = tg.tensor(values, { shape: s, requiresGrad: true });
            const y = call(x);
            expect(y.shape).toEqual(outShape);
            expect(norm(y.toArray())).toEqual(norm(toNested(outShape, expVal)));
            y.backward(tg.tensor(W, { shape: outShape }));
            expect(norm(x.grad!.data())).toEqual(norm(expGrad));
          });
        }),
        RUNS,
      ),
    );
  });
});
