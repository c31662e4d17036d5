// The eager fast path for 0-d tensors (issue 14: assembly/autograd.ts runScalarOp and
// scalarBackward, the inline row, record and release paths in nodes.ts, scopes.ts and tape.ts).
// Its results must be exactly the general path's: the same op on a one-element tensor of shape
// [1] goes through runOp's broadcast plan and kernel dispatch, and must give the same bits,
// forward and backward. It checks liveness in the core (no JavaScript reads of its memory), so a
// disposed operand must still give the named Error; and running out of memory where it grows the
// node table, the scope list or the tape must leave every tensor as it was.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { thrown } from './helpers';
// @ts-expect-error: plain .mjs with no types
import { MLP, demoLoss } from '../bench/micrograd.mjs';

type Tensor = ReturnType<typeof tg.tensor>;
const bits = (x: number): string => Array.from(new Uint8Array(Float32Array.of(x).buffer)).join(',');

const binaryOps = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;
const unaryOps = ['neg', 'abs', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'leakyRelu', 'gelu', 'geluTanh', 'sin', 'cos', 'square', 'rsqrt', 'silu'] as const;
/** op(t), as a method or as tg's function. */
const unary = (op: typeof unaryOps[number], t: Tensor, method = true): Tensor => (op === 'geluTanh' ? (method ? t.gelu({ approximate: 'tanh' }) : tg.gelu(t, { approximate: 'tanh' }))
  : op === 'leakyRelu' ? (method ? t.leakyRelu(0.1) : tg.leakyRelu(t, 0.1)) : method ? t[op]() : tg[op](t));
// operand pairs: ordinary values, ties (maximum/minimum split the gradient), zero and negative bases for pow
const pairs: [number, number][] = [[1.7, -0.3], [-2.25, 0.5], [0.8, 0.8], [0, 2], [-1.5, 3], [3, -2], [0.3, 1e-3]];

/**
 * op(x, y) and both gradients, with x and y of `shape` ([] takes the fast path, [1] the general one);
 * `form` says which operands are numbers, and whether the op is called as a method (x.op(y): 'mt', 'mn').
 */
function binaryCase(op: typeof binaryOps[number], x: number, y: number, shape: number[], form: 'tt' | 'tn' | 'nt' | 'mt' | 'mn'): string[] {
  return tg.tidy(() => {
    const a = tg.tensor(shape.length ? [x] : x, { requiresGrad: true }), b = tg.tensor(shape.length ? [y] : y, { requiresGrad: true });
    const out = form === 'tt' ? tg[op](a, b) : form === 'tn' ? tg[op](a, y) : form === 'nt' ? tg[op](x, b) : form === 'mt' ? a[op](b) : a[op](y);
    out.mul(1.25).sum().backward();
    const read = (t: Tensor | null) => (t ? bits(t.data()[0]) : 'none');
    return [bits(out.data()[0]), form === 'nt' ? 'none' : read(a.grad), form === 'tn' || form === 'mn' ? 'none' : read(b.grad)];
  });
}

describe('the 0-d fast path gives the general path\'s bits', () => {
  it('every binary op, tensor–tensor, tensor–number and number–tensor, as a function and as a method: value and both gradients as for shape [1]', () => {
    let checked = 0;
    for (const op of binaryOps) {
      for (const [x, y] of pairs) {
        for (const form of ['tt', 'tn', 'nt', 'mt', 'mn'] as const) {
          expect(binaryCase(op, x, y, [], form), `${op}(${x}, ${y}) ${form}`).toEqual(binaryCase(op, x, y, [1], form));
          checked++;
        }
      }
    }
    expect(checked).toBe(binaryOps.length * pairs.length * 5);
  });

  it('add and mul of two tensors in the walk (their rules inlined): each operand with and without grad, x·x, and tg.grad (other leaves get none), as the vector kernel computes each lane', () => {
    // shape [] takes the walk's one-element path, shape [2] (two equal lanes) binaryBackward's kernel
    const lanes = (v: number, shape: number[]) => (shape.length ? [v, v] : v);
    const first = (t: Tensor | null) => (t ? bits(t.data()[0]) : 'none');
    const backward = (op: 'add' | 'mul', x: number, y: number, same: boolean, gradX: boolean, gradY: boolean, shape: number[]): string[] => tg.tidy(() => {
      const a = tg.tensor(lanes(x, shape), { requiresGrad: gradX }), b = same ? a : tg.tensor(lanes(y, shape), { requiresGrad: gradY });
      const h = tg[op](a, b); // the record under test; then two more of the same kind, so h's gradient is computed, not seeded
      const out = tg[op](tg[op](h, a), h);
      if (!out.requiresGrad) return ['no graph'];
      out.mul(0.75).sum().backward();
      return [first(h), first(out), first(a.grad), same ? 'same' : first(b.grad)];
    });
    const captured = (op: 'add' | 'mul', x: number, y: number, shape: number[]): string[] => tg.tidy(() => {
      const a = tg.tensor(lanes(x, shape), { requiresGrad: true }), b = tg.tensor(lanes(y, shape), { requiresGrad: true });
      const [da] = tg.grad((t) => tg[op](tg[op](t, b), b).sum(), [a]);
      return [first(da), first(b.grad)]; // b is not an input of grad(): its .grad stays null
    });
    let checked = 0;
    for (const op of ['add', 'mul'] as const) {
      for (const [x, y] of pairs) {
        for (const same of [false, true]) {
          for (const [gradX, gradY] of [[true, true], [true, false], [false, true]]) {
            expect(backward(op, x, y, same, gradX, gradY, []), `${op}(${x}, ${y}) same ${same} grads ${gradX}/${gradY}`)
              .toEqual(backward(op, x, y, same, gradX, gradY, [2]));
            checked++;
          }
        }
        expect(captured(op, x, y, []), `grad of ${op}(${x}, ${y})`).toEqual(captured(op, x, y, [2]));
      }
    }
    expect(checked).toBe(2 * pairs.length * 2 * 3);
    expect(captured('mul', 3, 4, [])).toEqual([bits(16), 'none']); // d/da (a·4)·4 = 16, by hand
  });

  it('hand-derived values on the fast path: 3·4 = 12 with gradients 4 and 3; maximum of a tie splits the gradient', () => {
    tg.tidy(() => {
      const a = tg.tensor(3, { requiresGrad: true }), b = tg.tensor(4, { requiresGrad: true });
      const p = a.mul(b);
      p.backward();
      expect([p.item(), a.grad!.item(), b.grad!.item()]).toEqual([12, 4, 3]);
      const c = tg.tensor(2, { requiresGrad: true }), d = tg.tensor(2, { requiresGrad: true });
      tg.maximum(c, d).backward();
      expect([c.grad!.item(), d.grad!.item()]).toEqual([0.5, 0.5]);
      const e = tg.tensor(-3, { requiresGrad: true });
      const f = tg.sub(10, e); // a number on the left: 10 − (−3) = 13, d/de = −1
      f.backward();
      expect([f.item(), e.grad!.item()]).toEqual([13, -1]);
    });
  });

  it('every unary op, as a method and as a function: value and gradient as for shape [1]', () => {
    const positive = ['log', 'sqrt', 'rsqrt'];
    for (const op of unaryOps) {
      for (const x of [-1.7, -0.2, 0, 0.4, 2.5]) {
        const run = (shape: number[], method = true) => tg.tidy(() => {
          const v = Math.abs(x) + (positive.includes(op) ? 0.1 : 0);
          const a = tg.tensor(shape.length ? [v] : v, { requiresGrad: true });
          const b = positive.includes(op) ? a : a.sub(2 * Math.abs(x) * (x < 0 ? 1 : 0));
          const out = unary(op, b, method);
          out.mul(0.75).sum().backward();
          return [bits(out.data()[0]), bits(a.grad!.data()[0])];
        });
        expect(run([]), `${op}(${x})`).toEqual(run([1]));
        expect(run([], false), `tg.${op}(${x})`).toEqual(run([1]));
      }
    }
  });

  it('relu at NaN, ±0 and ±Infinity: value and gradient bits as for shape [1] (the fast path has its own relu)', () => {
    for (const x of [NaN, -0, 0, -Infinity, Infinity, -1e-30]) {
      const run = (shape: number[]) => tg.tidy(() => {
        const a = tg.tensor(shape.length ? [x] : x, { requiresGrad: true });
        const out = a.relu();
        out.mul(-0.5).sum().backward();
        return [bits(out.data()[0]), bits(a.grad!.data()[0])];
      });
      expect(run([]), `relu(${x})`).toEqual(run([1]));
    }
  });

  it("micrograd's demo step on 0-d tensors and on shape-[1] tensors: every parameter's bits equal after 3 SGD steps", () => {
    const train = (shape: number[]) => {
      let s = 5;
      const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
      const lift = (v: number) => tg.tensor(shape.length ? [v] : v);
      const X = Array.from({ length: 12 }, () => [random() * 2 - 1, random() * 2 - 1]);
      const y = X.map(([u, v]) => (u * v > 0 ? 1 : -1));
      const model = new MLP(2, [16, 16, 1], { random, scalar: (v: number) => tg.tensor(shape.length ? [v] : v, { requiresGrad: true }) });
      const opt = new tg.optim.SGD(model.parameters(), { lr: 0.5 });
      const losses: string[] = [];
      for (let k = 0; k < 3; k++) {
        losses.push(tg.tidy(() => {
          const { totalLoss } = demoLoss(model, X, y, { scalar: lift, read: (t: Tensor) => t.data()[0] });
          opt.zeroGrad();
          totalLoss.backward();
          opt.step();
          return bits(totalLoss.data()[0]);
        }));
      }
      const params = (model.parameters() as Tensor[]).map((p) => bits(p.data()[0]));
      tg.dispose(model.parameters());
      return { losses, params };
    };
    const scalar = train([]), general = train([1]);
    expect(scalar.params.length).toBe(337);
    expect(scalar).toEqual(general);
  });

  it('under noGrad a 0-d op records nothing and still computes', () => {
    tg.tidy(() => {
      const a = tg.tensor(1.5, { requiresGrad: true });
      const out = tg.noGrad(() => a.mul(2).add(1));
      expect(out.item()).toBe(4);
      expect(out.requiresGrad).toBe(false);
    });
  });
});

describe('the 0-d fast path refuses what the general path refuses', () => {
  it('a disposed operand, on either side or alone, gives the named Error and changes nothing', () => {
    tg.tidy(() => {
      const live = tg.tensor(2, { requiresGrad: true }), gone = tg.tensor(3);
      gone.dispose();
      const before = tg.memory().tensors;
      for (const [name, fn] of [
        ['add', () => tg.add(gone, live)], ['mul', () => live.mul(gone)], ['sub', () => tg.sub(gone, 1)],
        ['div', () => tg.div(1, gone)], ['relu', () => gone.relu()], ['maximum', () => tg.maximum(live, gone)],
        ['sub', () => gone.sub(live)], ['div', () => live.div(gone)], ['pow', () => gone.pow(2)], ['tanh', () => tg.tanh(gone)], ['sin', () => gone.sin()],
      ] as [string, () => Tensor][]) {
        expect(thrown(fn).message).toBe(`${name}: the tensor was disposed (by dispose() or by the tidy() scope that created it) and cannot be used`);
      }
      expect(tg.memory().tensors).toBe(before);
      expect(live.mul(live).item()).toBe(4);
    });
  });

  it('running out of memory where the node table, the scope list or the tape grows: a RangeError, and every tensor intact', () => {
    tg.tidy(() => {
      const w = tg.tensor(0.5, { requiresGrad: true }), b = tg.tensor(0.25, { requiresGrad: true });
      let x = tg.tensor(1, { requiresGrad: true });
      let v = 1, dv = 0, steps = 0, failures = 0, retry = false; // the chain x ← x·w + b and d/dw of it, in float64
      for (let i = 0; i < 40000; i++) {
        if (!retry) tg.__testing.failAllocAfter(1); // each growth fails once, then the op is run again
        retry = false;
        const before = tg.memory().tensors, value = x.item();
        try {
          x = i % 2 === 0 ? x.mul(w) : x.add(b);
          if (i % 2 === 0) { dv = dv * 0.5 + v; v *= 0.5; } else { v += 0.25; steps++; }
        } catch (err) {
          expect(err).toBeInstanceOf(RangeError);
          expect(tg.memory().tensors).toBe(before);
          expect(x.item()).toBe(value);
          failures++;
          retry = true;
          i--;
        } finally {
          tg.__testing.failAllocAfter(0);
        }
      }
      expect(failures).toBeGreaterThanOrEqual(3); // the table, the scope list and the tape each grew, failed once, and the chain went on
      expect(steps).toBe(20000);
      expect(x.item()).toBeCloseTo(v, 6);
      x.backward();
      expect(b.grad!.item()).toBeCloseTo(2 * (1 - 0.5 ** steps), 5); // Σ 0.5^k
      expect(w.grad!.item()).toBeCloseTo(dv, 4);
    });
  });
});
