// Functional autograd: grad(fn, inputs) and gradcheck(fn, inputs).
import { withoutLeafHooks } from './custom';
import { core, heapF32, outOfMemory } from './core';
import { Tensor, live, newTensor, notRecording } from './tensor';
import { noGrad } from './autograd';
import { tidy } from './memory';
import { fmt, readOptions, numberIn, show, checkBool } from './shape';
import { gradGraph } from './higher';

/** Options of {@link grad}. */
export interface GradOptions {
  /**
   * Make the gradients tensors on the tape, differentiable again (PyTorch's create_graph): for
   * second and higher derivatives. Each op needs a rule for it (bindings/higher.ts); one without
   * throws naming it.
   */
  createGraph?: boolean;
}
const GRAD_OPTIONS = { createGraph: (v: unknown, name: string, op: string) => checkBool(v, name, op) };

/**
 * Gradients of the one-element result of fn(...inputs) with respect to each input, as new
 * tensors (zeros for an input that does not require grad). Like torch.autograd.grad, it changes
 * no tensor's `.grad`: the inputs' are set aside and restored, and other leaves get none. With
 * `{createGraph: true}` the gradients are computed by recorded ops and can be differentiated again.
 *
 * @example
 * ```ts
 * const [dx] = tg.grad((x) => x.pow(3).sum(), [tg.tensor([1, 2], { requiresGrad: true })]);
 * dx.toArray(); // → [3, 12]
 * const x = tg.tensor([1, 2], { requiresGrad: true });
 * const [d1] = tg.grad((t) => t.pow(3).sum(), [x], { createGraph: true });
 * tg.grad(() => d1.sum(), [x])[0].toArray(); // → [6, 12]
 * ```
 */
export function grad(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options?: GradOptions): Tensor[] {
  checkFunctionOf(fn, inputs, 'grad');
  if (readOptions(options, GRAD_OPTIONS, 'grad').createGraph) return gradAsGraph(fn, inputs);
  // Set the inputs' existing gradients aside so this backward starts from none.
  const parked = inputs.map((t) => {
    const g = core.gradOf(t.id);
    const values = g ? heapF32().slice(g >>> 2, (g >>> 2) + t.size) : null;
    core.dropGrad(t.id);
    core.setCapture(t.id, 1);
    return values;
  });
  core.setCaptureMode(1);
  try {
    return tidy(() => {
      const out = fn(...inputs);
      if (!(out instanceof Tensor)) throw new Error(`grad: fn must return a Tensor, got ${show(out)}`);
      live(out, 'grad');
      if (!out.requiresGrad) throw new Error('grad: the result of fn does not require grad (no input it was computed from requires grad)');
      // leaves' hooks and .grad are backward's business, not grad()'s: the gradients other leaves
      // already have are set aside meanwhile (the kernels would add to them)
      const parkedFrom = core.parkLeafGrads();
      if (parkedFrom < 0) outOfMemory('grad');
      try {
        withoutLeafHooks(() => out.backward());
      } finally {
        core.unparkLeafGrads(parkedFrom);
      }
      return inputs.map((t) => gradCopy(t));
    });
  } finally {
    core.setCaptureMode(0);
    inputs.forEach((t, i) => {
      core.setCapture(t.id, 0);
      core.dropGrad(t.id);
      const values = parked[i];
      if (values) {
        const g = core.ensureGrad(t.id);
        if (g === 0) outOfMemory('grad');
        heapF32().set(values, g >>> 2);
      }
    });
  }
}

/** grad with createGraph: the walk of bindings/higher.ts, whose gradients are recorded ops. */
function gradAsGraph(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[]): Tensor[] {
  notRecording('grad (createGraph)');
  return tidy(() => {
    const out = fn(...inputs);
    if (!(out instanceof Tensor)) throw new Error(`grad: fn must return a Tensor, got ${show(out)}`);
    live(out, 'grad');
    if (out.size !== 1) throw new Error(`grad: fn must return one element, got shape ${fmt(out.dims)}`);
    if (!out.requiresGrad) return inputs.map((t) => newTensor(t.shape, 'grad', true));
    return gradGraph(out, inputs, null, 'grad').map((g, i) => g ?? newTensor(inputs[i].shape, 'grad', true));
  });
}

/** grad's and gradcheck's arguments: a function and an array of live tensors. */
function checkFunctionOf(fn: unknown, inputs: unknown, op: string): void {
  if (typeof fn !== 'function') throw new Error(`${op}: expected a function, got ${show(fn)}`);
  if (!Array.isArray(inputs) || inputs.some((t) => !(t instanceof Tensor))) {
    throw new Error(`${op}: inputs must be an array of tensors, got ${show(inputs)}`);
  }
  inputs.forEach((t: Tensor) => live(t, op));
}

/** A new tensor holding a copy of t's gradient (zeros when it has none). */
function gradCopy(t: Tensor): Tensor {
  const out = newTensor(t.shape, 'grad', true);
  const g = core.gradOf(t.id);
  if (g !== 0) heapF32().copyWithin(core.dataOf(out.id) >>> 2, g >>> 2, (g >>> 2) + t.size);
  return out;
}

/**
 * Options of {@link gradcheck}.
 * @property eps - finite-difference step (default 1e-3)
 * @property atol - absolute tolerance (default 1e-3)
 * @property rtol - relative tolerance (default 1e-2)
 */
export interface GradcheckOptions { eps?: number; atol?: number; rtol?: number }
const GRADCHECK_OPTIONS = { eps: numberIn(Number.MIN_VALUE), atol: numberIn(0), rtol: numberIn(0) };

/** Deterministic weights in [-1, 1), independent of manualSeed. */
function weights(n: number): Float64Array {
  const w = new Float64Array(n);
  let s = 0x9e3779b9;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    w[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return w;
}

/**
 * Compares the analytical gradient of sum(fn(...inputs) · w), for fixed random w, with central
 * finite differences (computed in float64 from fn's float32 outputs). Returns true, or throws
 * naming the input, the element, and both values.
 *
 * @example
 * ```ts
 * tg.gradcheck((x) => x.tanh().mul(x), [tg.randn([3], { requiresGrad: true })]); // → true
 * ```
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options?: GradcheckOptions): true {
  notRecording('gradcheck');
  const o = readOptions(options, GRADCHECK_OPTIONS, 'gradcheck');
  const eps = o.eps ?? 1e-3, atol = o.atol ?? 1e-3, rtol = o.rtol ?? 1e-2;
  checkFunctionOf(fn, inputs, 'gradcheck');
  if (!inputs.some((t) => t.requiresGrad)) throw new Error('gradcheck: at least one input must require grad');
  const probe = noGrad(() => tidy(() => {
    const y: unknown = fn(...inputs);
    if (!(y instanceof Tensor)) throw new Error(`gradcheck: fn must return a Tensor, got ${show(y)}`);
    live(y, 'gradcheck');
    return y.size;
  }));
  const w = weights(probe);
  const objective = (): number => noGrad(() => tidy(() => {
    const y = fn(...inputs).data();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * w[i];
    return s;
  }));
  const analytical = tidy(() => grad((...xs) => {
    const y = fn(...xs);
    const wt = newTensor(y.dims, 'gradcheck');
    heapF32().set(Float32Array.from(w), core.dataOf(wt.id) >>> 2);
    return y.mul(wt).sum();
  }, inputs).map((g) => g.data()));
  inputs.forEach((t, k) => {
    if (!t.requiresGrad) return;
    // The element's address is read afresh each time: a 0-d tensor's value lives in the node
    // table, which moves when the objective's tensors make it grow.
    const at = (i: number): number => (core.dataOf(t.id) >>> 2) + i;
    for (let i = 0; i < t.size; i++) {
      const x0 = heapF32()[at(i)];
      heapF32()[at(i)] = x0 + eps;
      const up = objective();
      heapF32()[at(i)] = x0 - eps;
      const down = objective();
      heapF32()[at(i)] = x0;
      const numerical = (up - down) / (2 * eps);
      const a = analytical[k][i];
      if (!(Math.abs(a - numerical) <= atol + rtol * Math.abs(numerical))) {
        throw new Error(`gradcheck: input ${k} (shape ${fmt(t.dims)}) element ${i}: analytical ${a} vs numerical ${numerical}`);
      }
    }
  });
  return true;
}
