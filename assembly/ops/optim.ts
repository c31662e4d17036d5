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
//   SGD:   g = ∇ + λp;  b = μb + (1−τ)g (b = g on the first step);  g = g + μb (nesterov) or b;  p −= ηg
//   Adam:  g = ∇ + λp (AdamW instead p −= ηλp);  m = β₁m + (1−β₁)g;  v = β₂v + (1−β₂)g²
//          p −= η/(1−β₁ᵗ) · m / (√v / √(1−β₂ᵗ) + ε)

import { dataPtr, gradPtr, sizeOf } from "../nodes";

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

export function sgdStep(params: usize, bufs: usize, count: i32, config: usize): void {
  let lr = load<f32>(config, LR), momentum = load<f32>(config, BETA1), dampening = load<f32>(config, BETA2);
  let weightDecay = load<f32>(config, WEIGHT_DECAY), nesterov = (load<i32>(config, FLAGS) & NESTEROV) != 0;
  let firstStep = load<i32>(config, STEP) == 0;
  store<i32>(config, load<i32>(config, STEP) + 1, STEP);
  let vlr = f32x4.splat(lr), vwd = f32x4.splat(weightDecay), vmom = f32x4.splat(momentum), vdamp = f32x4.splat(1 - dampening);
  for (let k = 0; k < count; k++) {
    let id = idAt(params, k);
    let grad = gradPtr(id);
    if (!grad) continue; // a parameter backward never reached is left alone, like PyTorch
    let p = dataPtr(id), n = sizeOf(id);
    let buf: usize = momentum != 0 && bufs ? dataPtr(idAt(bufs, k)) : 0; // no list: momentum set after a trace recorded the step
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
}

export function adamStep(params: usize, ms: usize, vs: usize, count: i32, config: usize): void {
  let lr = load<f32>(config, LR), beta1 = load<f32>(config, BETA1), beta2 = load<f32>(config, BETA2);
  let eps = load<f32>(config, EPS), weightDecay = load<f32>(config, WEIGHT_DECAY);
  let decoupled = (load<i32>(config, FLAGS) & DECOUPLED) != 0;
  let step = load<i32>(config, STEP) + 1;
  store<i32>(config, step, STEP);
  let bc1 = 1 - Math.pow(<f64>beta1, <f64>step), bc2 = 1 - Math.pow(<f64>beta2, <f64>step);
  let stepSize = <f32>(<f64>lr / bc1);
  let bc2Sqrt = <f32>Math.sqrt(bc2);
  for (let k = 0; k < count; k++) {
    let id = idAt(params, k);
    let grad = gradPtr(id);
    if (!grad) continue;
    let p = dataPtr(id), n = sizeOf(id);
    let m = dataPtr(idAt(ms, k)), v = dataPtr(idAt(vs, k));
    for (let i = 0; i < n; i++) {
      let pv = load<f32>(at(p, i));
      let g = load<f32>(at(grad, i));
      if (decoupled) pv *= 1 - lr * weightDecay;
      else g += weightDecay * pv;
      let mv = beta1 * load<f32>(at(m, i)) + (1 - beta1) * g;
      let vv = beta2 * load<f32>(at(v, i)) + (1 - beta2) * g * g;
      store<f32>(at(m, i), mv);
      store<f32>(at(v, i), vv);
      store<f32>(at(p, i), pv - stepSize * mv / (Mathf.sqrt(vv) / bc2Sqrt + eps));
    }
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
