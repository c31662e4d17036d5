// Optimizer updates over a list of parameters, one call per step, with PyTorch's formulas.
// `params` and each state list are i32 arrays of node ids in linear memory (state nodes hold
// the momentum / moment buffers, the same shape as their parameter). Hyperparameters and the
// step count live in a config block the bindings own, so a learning-rate schedule or a replayed
// trace always sees the current values:
//
//   config ┌──────┬──────┬────────────────┬─────────────────┬──────┬──────────────┬───────┐
//          │ step │  lr  │ momentum/beta1 │ dampening/beta2 │ eps  │ weight decay │ flags │
//          │ i32  │ f32  │ f32            │ f32             │ f32  │ f32          │ i32   │
//          └──────┴──────┴────────────────┴─────────────────┴──────┴──────────────┴───────┘
//          0      4      8                12                16     20             24      28
//
// Both updates split over threads by ranges of the parameters' elements taken end to end (each
// element's update is one part's, the same arithmetic wherever the split falls).
//
//   SGD:   g = ∇ + λp;  b = μb + (1−τ)g (b = g on the first step);  g = g + μb (nesterov) or b;  p −= ηg
//   Adam:  g = ∇ + λp (AdamW instead p −= ηλp);  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²
//          p −= η/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)

import { dataPtr, gradPtr, sizeOf } from "../nodes";
import { job, JOB_OPTIM, partsFor, runParallel, partRange } from "../parallel";

// @ts-ignore: decorator
@inline const STEP: usize = 0;
// @ts-ignore: decorator
@inline const LR: usize = 4;
// @ts-ignore: decorator
@inline const BETA1: usize = 8;
// @ts-ignore: decorator
@inline const BETA2: usize = 12;
// @ts-ignore: decorator
@inline const EPS: usize = 16;
// @ts-ignore: decorator
@inline const WEIGHT_DECAY: usize = 20;
// @ts-ignore: decorator
@inline const FLAGS: usize = 24;
// @ts-ignore: decorator
@inline const NESTEROV: i32 = 1;
// @ts-ignore: decorator
@inline const DECOUPLED: i32 = 2;

// @ts-ignore: decorator
@inline function at(base: usize, index: i32): usize { return base + (<usize>index << 2); }
// @ts-ignore: decorator
@inline function idAt(list: usize, k: i32): i32 { return load<i32>(at(list, k)); }

/** Parameter elements in an optimizer part, at the least. */
// @ts-ignore: decorator
@inline const OPTIM_GRAIN: i64 = 1 << 15;

export function sgdStep(params: usize, bufs: usize, count: i32, config: usize): void {
  let step = load<i32>(config, STEP);
  store<i32>(config, step + 1, STEP);
  optimJob(false, params, bufs, 0, count, config, step);
}

export function adamStep(params: usize, ms: usize, vs: usize, count: i32, config: usize): void {
  let step = load<i32>(config, STEP) + 1;
  store<i32>(config, step, STEP);
  optimJob(true, params, ms, vs, count, config, step);
}

/** Runs an update (SGD, or Adam when `adam`) over every parameter, split by element ranges. */
function optimJob(adam: bool, params: usize, s1: usize, s2: usize, count: i32, config: usize, step: i32): void {
  let total: i64 = 0;
  for (let k = 0; k < count; k++) total += sizeOf(idAt(params, k));
  let parts = partsFor(total, OPTIM_GRAIN);
  if (parts == 1) { optimRun(adam, params, s1, s2, count, config, step, 0, <i32>total); return; } // (the job record may be another part's)
  store<i32>(job, JOB_OPTIM);
  store<i32>(job, adam, 4); store<usize>(job, params, 8); store<usize>(job, s1, 12); store<usize>(job, s2, 16);
  store<i32>(job, count, 20); store<usize>(job, config, 24); store<i32>(job, step, 28); store<i32>(job, <i32>total, 32);
  runParallel(parts);
}

/** One part of optimJob (its record as optimJob writes it). */
export function optimPart(job: usize, part: i32, parts: i32): void {
  let range = partRange(load<i32>(job, 32), 16, part, parts);
  optimRun(load<i32>(job, 4) != 0, load<usize>(job, 8), load<usize>(job, 12), load<usize>(job, 16), load<i32>(job, 20),
    load<usize>(job, 24), load<i32>(job, 28), <i32>range, <i32>(range >> 32));
}

/** The update of elements [lo, hi) of the parameters taken end to end. */
function optimRun(adam: bool, params: usize, s1: usize, s2: usize, count: i32, config: usize, step: i32, lo: i32, hi: i32): void {
  let start = 0;
  for (let k = 0; k < count && start < hi; k++) {
    let id = idAt(params, k), n = sizeOf(id);
    let from = max(lo - start, 0), to = min(hi - start, n);
    start += n;
    let grad = gradPtr(id);
    if (from >= to || !grad) continue; // a parameter backward never reached is left alone, like PyTorch
    let o = <usize>from << 2, p = dataPtr(id) + o, g = grad + o;
    if (adam) adamUpdate(p, g, dataPtr(idAt(s1, k)) + o, dataPtr(idAt(s2, k)) + o, to - from, config, step);
    else {
      let buf: usize = load<f32>(config, BETA1) != 0 && s1 ? dataPtr(idAt(s1, k)) + o : 0; // no list: momentum set after a trace recorded the step
      sgdUpdate(p, g, buf, to - from, config, step == 0);
    }
  }
}

function sgdUpdate(p: usize, grad: usize, buf: usize, n: i32, config: usize, firstStep: bool): void {
  let lr = load<f32>(config, LR), momentum = load<f32>(config, BETA1), dampening = load<f32>(config, BETA2);
  let weightDecay = load<f32>(config, WEIGHT_DECAY), nesterov = (load<i32>(config, FLAGS) & NESTEROV) != 0;
  let vlr = f32x4.splat(lr), vwd = f32x4.splat(weightDecay), vmom = f32x4.splat(momentum), vdamp = f32x4.splat(1 - dampening);
  let i = 0;
  if (!buf) { // plain SGD, four lanes at a time
    for (; i + 4 <= n; i += 4) {
      let o = <usize>i << 2;
      let pv = v128.load(p + o);
      let g = f32x4.add(v128.load(grad + o), f32x4.mul(vwd, pv));
      v128.store(p + o, f32x4.sub(pv, f32x4.mul(vlr, g)));
    }
  } else if (!firstStep) {
    for (; i + 4 <= n; i += 4) {
      let o = <usize>i << 2;
      let pv = v128.load(p + o);
      let g = f32x4.add(v128.load(grad + o), f32x4.mul(vwd, pv));
      let b = f32x4.add(f32x4.mul(vmom, v128.load(buf + o)), f32x4.mul(vdamp, g));
      v128.store(buf + o, b);
      g = nesterov ? f32x4.add(g, f32x4.mul(vmom, b)) : b;
      v128.store(p + o, f32x4.sub(pv, f32x4.mul(vlr, g)));
    }
  }
  for (; i < n; i++) {
    let pv = load<f32>(at(p, i));
    let g = load<f32>(at(grad, i)) + weightDecay * pv;
    if (buf) {
      let b = firstStep ? g : momentum * load<f32>(at(buf, i)) + (1 - dampening) * g;
      store<f32>(at(buf, i), b);
      g = nesterov ? g + momentum * b : b;
    }
    store<f32>(at(p, i), pv - lr * g);
  }
}

/** Adam's update of n elements, four lanes at a time (the same f32 operations, in the same order, as the scalar tail). */
function adamUpdate(p: usize, grad: usize, m: usize, v: usize, n: i32, config: usize, step: i32): void {
  let lr = load<f32>(config, LR), beta1 = load<f32>(config, BETA1), beta2 = load<f32>(config, BETA2);
  let eps = load<f32>(config, EPS), weightDecay = load<f32>(config, WEIGHT_DECAY);
  let decoupled = (load<i32>(config, FLAGS) & DECOUPLED) != 0;
  let bc1 = 1 - Math.pow(<f64>beta1, <f64>step), bc2 = 1 - Math.pow(<f64>beta2, <f64>step);
  let stepSize = <f32>(<f64>lr / bc1);
  let bc2Sqrt = <f32>Math.sqrt(bc2);
  let shrink: f32 = 1 - lr * weightDecay;
  let vb1 = f32x4.splat(beta1), vb2 = f32x4.splat(beta2), va1 = f32x4.splat(1 - beta1), va2 = f32x4.splat(1 - beta2);
  let vshrink = f32x4.splat(shrink), vwd = f32x4.splat(weightDecay), vstep = f32x4.splat(stepSize);
  let vbc2 = f32x4.splat(bc2Sqrt), veps = f32x4.splat(eps);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    let o = <usize>i << 2;
    let pv = v128.load(p + o), g = v128.load(grad + o);
    if (decoupled) pv = f32x4.mul(pv, vshrink);
    else g = f32x4.add(g, f32x4.mul(vwd, pv));
    let mv = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(va1, g));
    let vv = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(f32x4.mul(va2, g), g));
    v128.store(m + o, mv);
    v128.store(v + o, vv);
    v128.store(p + o, f32x4.sub(pv, f32x4.div(f32x4.mul(vstep, mv), f32x4.add(f32x4.div(f32x4.sqrt(vv), vbc2), veps))));
  }
  for (; i < n; i++) {
    let pv = load<f32>(at(p, i));
    let g = load<f32>(at(grad, i));
    if (decoupled) pv *= shrink;
    else g += weightDecay * pv;
    let mv = beta1 * load<f32>(at(m, i)) + (1 - beta1) * g;
    let vv = beta2 * load<f32>(at(v, i)) + (1 - beta2) * g * g;
    store<f32>(at(m, i), mv);
    store<f32>(at(v, i), vv);
    store<f32>(at(p, i), pv - stepSize * mv / (Mathf.sqrt(vv) / bc2Sqrt + eps));
  }
}

export function zeroGrads(params: usize, count: i32): void {
  for (let k = 0; k < count; k++) {
    let id = idAt(params, k);
    let g = gradPtr(id);
    if (g) memory.fill(g, 0, <usize>sizeOf(id) << 2);
  }
}

/**
 * Scales the gradients so their joint p-norm is at most maxNorm (p = Infinity for the max norm);
 * returns the norm before clipping, like torch.nn.utils.clip_grad_norm_.
 */
export function clipGradNorm(params: usize, count: i32, maxNorm: f64, p: f64): f64 {
  let total: f64 = 0;
  for (let k = 0; k < count; k++) {
    let id = idAt(params, k);
    let g = gradPtr(id);
    if (!g) continue;
    let n = sizeOf(id);
    for (let i = 0; i < n; i++) {
      let v = Math.abs(<f64>load<f32>(at(g, i)));
      if (p == Infinity) total = max(total, v);
      else total += p == 2 ? v * v : Math.pow(v, p);
    }
  }
  if (p != Infinity) total = p == 2 ? Math.sqrt(total) : Math.pow(total, 1 / p);
  let coef = maxNorm / (total + 1e-6);
  if (!(coef >= 1)) { // also a NaN norm: PyTorch's clamp(coef, max = 1) keeps the NaN and scales by it
    let c = <f32>coef;
    for (let k = 0; k < count; k++) {
      let id = idAt(params, k);
      let g = gradPtr(id);
      if (!g) continue;
      let n = sizeOf(id);
      for (let i = 0; i < n; i++) store<f32>(at(g, i), load<f32>(at(g, i)) * c);
    }
  }
  return total;
}
