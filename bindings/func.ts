// tg.func: function transforms, as torch.func and JAX. Each is built on the createGraph walk
// (bindings/higher.ts), so its results stay on the tape and the transforms nest: grad(grad(f)).
// An argument that does not require grad is differentiated through a tracked copy.
import { Tensor, live, newTensor, notRecording } from './tensor';
import { detach } from './autograd';
import { tidy } from './memory';
import { gradGraph } from './higher';
import { add, mul } from './ops/elementwise';
import { sum } from './ops/reduce';
import { stack, reshape } from './ops/shape';
import { zeros, tensor } from './ops/creation';
import { fmt, show, sameShape, numel } from './shape';

/** A function of tensors to a tensor, as the transforms take. */
export type TensorFunction = (...args: Tensor[]) => Tensor;

/** Options of {@link grad} and {@link valueAndGrad}. */
export interface FuncGradOptions {
  /** Which argument (or arguments) to differentiate with respect to (default 0). */
  argnums?: number | number[];
}

function checkFn(f: unknown, op: string): asserts f is TensorFunction {
  if (typeof f !== 'function') throw new Error(`func.${op}: expected a function, got ${show(f)}`);
}

/** The arguments, each live and tracked (a tracked copy of one that is not). */
function trackedArgs(xs: unknown[], op: string): Tensor[] {
  return xs.map((x, i) => {
    if (!(x instanceof Tensor)) throw new Error(`func.${op}: argument ${i} must be a Tensor, got ${show(x)}`);
    live(x, `func.${op}`);
    return x.requiresGrad ? x : detach(x).requiresGrad_();
  });
}

/** f(...args) checked to be a Tensor (of one element when `scalar`). */
function callOf(f: TensorFunction, args: Tensor[], op: string, scalar: boolean): Tensor {
  const out = f(...args);
  if (!(out instanceof Tensor)) throw new Error(`func.${op}: the function must return a Tensor, got ${show(out)}`);
  live(out, `func.${op}`);
  if (scalar && out.size !== 1) throw new Error(`func.${op}: the function must return one element, got shape ${fmt(out.dims)}`);
  return out;
}

/** d(out)/d(wrt) seeded with `seed`, zeros where out does not depend on an input. */
function vjpOf(out: Tensor, wrt: Tensor[], seed: Tensor | null, op: string): Tensor[] {
  if (!out.requiresGrad) return wrt.map((t) => newTensor(t.shape, op, true));
  return gradGraph(out, wrt, seed, `func.${op}`).map((g, i) => g ?? newTensor(wrt[i].shape, op, true));
}

const argnumsOf = (options: FuncGradOptions | undefined, count: number, op: string): number[] => {
  const a = options?.argnums ?? 0, list = Array.isArray(a) ? a : [a];
  for (const n of list) if (!Number.isInteger(n) || n < 0 || n >= count) throw new Error(`func.${op}: argnums ${show(a)} out of range for ${count} arguments`);
  return list;
};

/**
 * The function's value and its gradient with respect to argument `argnums` (or a list of them,
 * giving a list of gradients). f must return one element.
 *
 * @example
 * ```ts
 * const [v, g] = tg.func.valueAndGrad((x) => x.pow(3).sum())(tg.tensor([1, 2]));
 * [v.item(), g.toArray()]; // → [9, [3, 12]]
 * ```
 */
export function valueAndGrad(f: TensorFunction, options?: FuncGradOptions): (...args: Tensor[]) => [Tensor, Tensor | Tensor[]] {
  checkFn(f, 'valueAndGrad');
  return (...xs) => {
    notRecording('func.valueAndGrad');
    return tidy(() => {
      const args = trackedArgs(xs, 'valueAndGrad'), nums = argnumsOf(options, args.length, 'valueAndGrad');
      const out = callOf(f, args, 'valueAndGrad', true);
      const grads = vjpOf(out, nums.map((n) => args[n]), null, 'valueAndGrad');
      return [out, Array.isArray(options?.argnums) ? grads : grads[0]] as [Tensor, Tensor | Tensor[]];
    });
  };
}

/**
 * The gradient of f (which returns one element) as a function; it nests: grad(grad(f)) is the
 * second derivative.
 *
 * @example
 * ```ts
 * const f = (x: tg.Tensor) => x.pow(3).sum();
 * tg.func.grad(tg.func.grad(f) as (x: tg.Tensor) => tg.Tensor)(tg.tensor(2)).item(); // → 12
 * ```
 */
export function grad(f: TensorFunction, options?: FuncGradOptions): (...args: Tensor[]) => Tensor | Tensor[] {
  checkFn(f, 'grad');
  const both = valueAndGrad(f, options);
  return (...xs) => tidy(() => both(...xs)[1]);
}

/**
 * f's output and a function giving the vector-Jacobian product vᵀ·J for each argument.
 *
 * @example
 * ```ts
 * const [y, back] = tg.func.vjp((x) => x.mul(x), tg.tensor([1, 2]));
 * back(tg.tensor([1, 1]))[0].toArray(); // → [2, 4]
 * ```
 */
export function vjp(f: TensorFunction, ...xs: Tensor[]): [Tensor, (v: Tensor) => Tensor[]] {
  checkFn(f, 'vjp');
  notRecording('func.vjp');
  const args = trackedArgs(xs, 'vjp');
  const out = callOf(f, args, 'vjp', false);
  return [out, (v: Tensor) => {
    if (!(v instanceof Tensor) || !sameShape(v.dims, out.dims)) throw new Error(`func.vjp: v must be a Tensor of the output's shape ${fmt(out.dims)}, got ${v instanceof Tensor ? fmt(v.dims) : show(v)}`);
    return tidy(() => vjpOf(out, args, v, 'vjp'));
  }];
}

/**
 * f's output and the Jacobian-vector product J·v (v one tangent per argument), by differentiating
 * the vector-Jacobian product with respect to its vector (the double-vjp trick).
 *
 * @example
 * ```ts
 * const [y, t] = tg.func.jvp((x) => x.mul(x), [tg.tensor([1, 2])], [tg.tensor([1, 0])]);
 * t.toArray(); // → [2, 0]
 * ```
 */
export function jvp(f: TensorFunction, xs: Tensor[], vs: Tensor[]): [Tensor, Tensor] {
  checkFn(f, 'jvp');
  notRecording('func.jvp');
  return tidy(() => {
    const args = pointsAndVectors(xs, vs, 'jvp', 'tangent');
    const out = callOf(f, args, 'jvp', false);
    const u = zeros(out.shape).requiresGrad_();
    const dot = dotWith(vjpOf(out, args, u, 'jvp'), vs); // uᵀJ·v, linear in u
    return [out, vjpOf(dot, [u], null, 'jvp')[0]] as [Tensor, Tensor];
  });
}

/**
 * The Hessian-vector product of f (one element) at xs with vs: d/dx (∇f·v), one per argument.
 *
 * @example
 * ```ts
 * tg.func.hvp((x) => x.pow(3).sum(), [tg.tensor([1, 2])], [tg.tensor([1, 1])])[0].toArray(); // → [6, 12]
 * ```
 */
export function hvp(f: TensorFunction, xs: Tensor[], vs: Tensor[]): Tensor[] {
  checkFn(f, 'hvp');
  notRecording('func.hvp');
  return tidy(() => {
    const args = pointsAndVectors(xs, vs, 'hvp', 'vector');
    const dot = dotWith(vjpOf(callOf(f, args, 'hvp', true), args, null, 'hvp'), vs); // ∇f·v
    return vjpOf(dot, args, null, 'hvp');
  });
}

/** The points as tracked arguments, after checking there is one vector of the same shape for each. */
function pointsAndVectors(xs: Tensor[], vs: Tensor[], op: string, what: string): Tensor[] {
  if (!Array.isArray(xs) || !Array.isArray(vs) || xs.length !== vs.length) throw new Error(`func.${op}: points and ${what}s must be arrays of the same length, got ${show(xs)} and ${show(vs)}`);
  const args = trackedArgs(xs, op);
  vs.forEach((v, i) => { if (!(v instanceof Tensor) || !sameShape(v.dims, args[i].dims)) throw new Error(`func.${op}: ${what} ${i} must be a Tensor of shape ${fmt(args[i].dims)}`); });
  return args;
}

/** Σ_i Σ g_i·v_i: one scalar whose gradient is a product with the vectors. */
const dotWith = (g: Tensor[], vs: Tensor[]): Tensor => g.map((gi, i) => sum(mul(gi, vs[i]))).reduce((s, t) => add(s, t));

/** One vector-Jacobian product of `out` per element of it, seeded by unit vectors, stacked as [...out, ...x]. */
function rowsOf(out: Tensor, x: Tensor, op: string): Tensor {
  const rows = Array.from({ length: out.size }, (_, k) => vjpOf(out, [x], unit(out.shape, k), op)[0]);
  return reshape(rows.length ? stack(rows) : zeros([0, ...x.shape]), [...out.shape, ...x.shape]);
}

/**
 * The Jacobian of f at x: [...output shape, ...x's shape], one vector-Jacobian product per
 * output element.
 *
 * @example
 * ```ts
 * tg.func.jacobian((x) => x.mul(x))(tg.tensor([1, 2])).toArray(); // → [[2, 0], [0, 4]]
 * ```
 */
export function jacobian(f: TensorFunction): (x: Tensor) => Tensor {
  checkFn(f, 'jacobian');
  return (x) => {
    notRecording('func.jacobian');
    return tidy(() => {
      const [arg] = trackedArgs([x], 'jacobian');
      return rowsOf(callOf(f, [arg], 'jacobian', false), arg, 'jacobian');
    });
  };
}

/**
 * The Hessian of f (one element) at x: [...x's shape, ...x's shape], one Hessian-vector product
 * per element of x.
 *
 * @example
 * ```ts
 * tg.func.hessian((x) => x.pow(3).sum())(tg.tensor([1, 2])).toArray(); // → [[6, 0], [0, 12]]
 * ```
 */
export function hessian(f: TensorFunction): (x: Tensor) => Tensor {
  checkFn(f, 'hessian');
  return (x) => {
    notRecording('func.hessian');
    return tidy(() => {
      const [arg] = trackedArgs([x], 'hessian');
      return rowsOf(vjpOf(callOf(f, [arg], 'hessian', true), [arg], null, 'hessian')[0], arg, 'hessian'); // the Jacobian of ∇f
    });
  };
}

/** The k-th unit tensor of `shape` (1 at flat index k): the seed of a Jacobian's or Hessian's row k. */
function unit(shape: number[], k: number): Tensor {
  const values = new Float32Array(numel(shape));
  values[k] = 1;
  return tensor(values, { shape });
}
