// Autograd that runs JavaScript (issue 11, items 3–5): tensor hooks and retainGrad against
// hand-derived gradients, custom ops (tg.autograd.Function) against finite differences and
// closed forms, checkpointing against the same model without it (gradients bit for bit, peak
// memory), and what none of them may break: errors, an abandoned walk, tg.trace, leaks.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';

const arr = (t: tg.Tensor | null) => Array.from(t!.data());

describe('hooks and retainGrad', () => {
  it('a leaf hook sees the new gradient alone and its result is what .grad gains', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const seen: number[][] = [];
    const h1 = x.registerHook((g) => { seen.push(arr(g)); return g.mul(10); });
    x.registerHook((g) => { seen.push(arr(g)); }); // sees the first hook's result, returns nothing
    x.mul(3).sum().backward();
    expect(arr(x.grad)).toEqual([30, 30]);
    x.mul(3).sum().backward(); // d(3x)/dx = 3, hooked to 30, added to the 30 held
    expect(arr(x.grad)).toEqual([60, 60]);
    expect(seen).toEqual([[3, 3], [30, 30], [3, 3], [30, 30]]);
    h1.remove();
    x.mul(3).sum().backward();
    expect(arr(x.grad)).toEqual([63, 63]);
  }));

  it('a non-leaf hook sees its complete gradient once, before it flows on', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    const seen: number[][] = [];
    y.registerHook((g) => { seen.push(arr(g)); return g.neg(); });
    y.mul(y).sum().add(y.sum()).backward(); // dL/dy = 2y + 1 = [5, 9]
    expect(seen).toEqual([[5, 9]]);
    expect(arr(x.grad)).toEqual([-10, -18]); // dy/dx = 2, through the negated gradient
  }));

  it('retainGrad keeps a non-leaf\'s gradient readable, accumulating over backwards', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    y.retainGrad();
    const z = y.square().sum();
    z.backward({ retainGraph: true });
    expect(arr(y.grad)).toEqual([4, 8]); // d(y²)/dy = 2y
    z.backward();
    expect(arr(y.grad)).toEqual([8, 16]);
    expect(x.mul(5).grad).toBeNull(); // other non-leaves keep none, as in PyTorch
  }));

  it('a hook that throws abandons the walk; the engine and every later backward work', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const y = x.mul(2);
    const h = y.registerHook(() => { throw new Error('boom'); });
    expect(() => y.sum().backward()).toThrow('boom');
    h.remove();
    const w = tg.tensor([3, 4], { requiresGrad: true });
    w.mul(w).sum().backward();
    expect(arr(w.grad)).toEqual([6, 8]);
  }));

  it('refuses what cannot work, naming it', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    expect(() => tg.tensor([1]).registerHook(() => {})).toThrow('registerHook: the tensor of shape [1] does not require grad');
    expect(() => x.registerHook(5 as never)).toThrow('registerHook: expected a function, got 5');
    x.registerHook(() => tg.zeros([3]));
    expect(() => x.mul(1).sum().backward()).toThrow('registerHook: a hook returned a gradient of shape [3] for a tensor of shape [2]');
    const y = tg.tensor([1], { requiresGrad: true });
    expect(() => tg.trace(() => y.registerHook(() => {}))).toThrow('register it outside tg.trace');
  }));

  it('a traced backward through a hooked tensor throws at record time', () => {
    const x = tg.keep(tg.tensor([1, 2], { requiresGrad: true }));
    const y = tg.keep(x.mul(2));
    const h = y.registerHook((g) => g);
    expect(() => tg.trace(() => tg.tidy(() => { y.sum().backward(); }))).toThrow('tensor hook');
    h.remove();
    tg.dispose([x, y]);
  });
});

describe('what a review found (each failed before its fix)', () => {
  it('a retained gradient is not passed on again by later walks', () => tg.tidy(() => {
    const x = tg.tensor([1, 1], { requiresGrad: true });
    const y = x.mul(2);
    y.retainGrad();
    const z = y.sum();
    z.backward({ retainGraph: true });
    z.backward();
    expect(arr(x.grad)).toEqual([4, 4]); // PyTorch: 2 + 2
    expect(arr(y.grad)).toEqual([2, 2]);
    expect(y.grad).toBe(y.grad); // the same tensor at each read
    x.zeroGrad();
    x.mul(3).sum().backward(); // a graph without y
    expect(arr(x.grad)).toEqual([3, 3]);
  }));

  it('tg.grad with a hooked leaf gives the gradient and leaves .grad alone', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    x.registerHook((g) => g.mul(10));
    x.mul(3).sum().backward();
    expect(arr(tg.grad((t) => t.square().sum(), [x])[0])).toEqual([2, 4]);
    expect(arr(x.grad)).toEqual([30, 30]);
  }));

  it('a checkpoint, then an unrelated backward through the same tensors: no stale marks', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const a = x.mul(2).mul(3);
    tg.checkpoint((h) => h.mul(a), x).sum().backward();
    expect(arr(x.grad)).toEqual([12, 24]); // a + x·6
    x.zeroGrad();
    x.mul(5).sum().backward();
    expect(arr(x.grad)).toEqual([5, 5]);
  }));

  it('a leaf hook that throws: every leaf keeps its gradient, the error propagates', () => tg.tidy(() => {
    const a = tg.tensor([1], { requiresGrad: true }), b = tg.tensor([1], { requiresGrad: true });
    a.add(b).sum().backward();
    a.registerHook(() => { throw new Error('hook failed'); });
    b.registerHook((g) => g);
    expect(() => a.add(b).sum().backward()).toThrow('hook failed');
    expect(arr(b.grad)).toEqual([2]);
    expect(arr(a.grad)[0]).toBeGreaterThanOrEqual(1);
  }));

  it('a traced backward with a hooked leaf throws at record time', () => {
    const w = tg.keep(tg.tensor([1, 2], { requiresGrad: true }));
    const h = w.registerHook((g) => g.mul(10));
    expect(() => tg.trace(() => tg.tidy(() => { w.mul(2).sum().backward(); }))).toThrow('a leaf has a tensor hook');
    h.remove();
    w.dispose();
  });

  it('forward\'s own saved tensors are released with the graph; a closure\'s output is not disposed', () => {
    const x = tg.keep(tg.tensor([1, 2], { requiresGrad: true })), constant = tg.keep(tg.tensor([5, 6]));
    class Exp extends tg.autograd.Function {
      static forward(ctx: tg.autograd.FunctionContext, t: tg.Tensor): tg.Tensor { const r = t.exp(); ctx.saveForBackward(r); return r; }
      static backward(ctx: tg.autograd.FunctionContext, g: tg.Tensor): tg.Tensor[] { const [r] = ctx.savedTensors; return [g.mul(r)]; }
    }
    class Const extends tg.autograd.Function {
      static forward(): tg.Tensor { return constant; }
      static backward(): null[] { return [null]; }
    }
    const before = tg.memory().tensors;
    for (let i = 0; i < 5; i++) { const y = Exp.apply(x) as tg.Tensor, s = y.sum(); s.backward(); tg.dispose([y, s]); }
    expect(tg.memory().tensors).toBe(before); // outside tidy too
    tg.dispose(Const.apply(x));
    expect(arr(constant)).toEqual([5, 6]);
    arr(x.grad).forEach((v, i) => expect(v).toBeCloseTo(5 * Math.exp(i + 1), 3));
    tg.dispose([x, constant]);
  });

  it('savedTensors reads twice, and after the graph is gone refuses instead of reading a recycled node', () => {
    let kept: tg.autograd.FunctionContext | null = null;
    class Twice extends tg.autograd.Function {
      static forward(ctx: tg.autograd.FunctionContext, t: tg.Tensor): tg.Tensor { ctx.saveForBackward(t); kept = ctx; return t.mul(2); }
      static backward(ctx: tg.autograd.FunctionContext, g: tg.Tensor): tg.Tensor[] { const [a] = ctx.savedTensors, [b] = ctx.savedTensors; return [g.mul(a).mul(0).add(g.mul(2)).add(b.mul(0))]; }
    }
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const h = x.mul(10), y = Twice.apply(h) as tg.Tensor;
    h.dispose();
    const s = y.sum();
    s.backward({ retainGraph: true });
    s.backward();
    expect(arr(x.grad)).toEqual([40, 40]);
    tg.dispose([s, y]);
    const other = x.mul(7);
    expect(() => kept!.savedTensors).toThrow('Twice: a saved tensor is no longer held by the graph');
    tg.dispose([x, other]);
  });

  // A walk paused for a hook resumes by reading records down from where it stopped: a record
  // freed meanwhile must read DEAD, not keep its opcode (the fast release once popped the tape's
  // last record without marking it) nor be replaced by a new one.
  it('a hook that disposes its own tensor: the walk does not run its freed records into rows reused by new leaves', () => {
    const before = tg.memory().tensors;
    const x = tg.tensor(3, { requiresGrad: true });
    const h = x.mul(2), y = h.mul(3);
    h.dispose(); // kept by y's record
    let u: tg.Tensor | null = null, v: tg.Tensor | null = null;
    y.registerHook((g) => {
      y.dispose(); // frees y, then h: both records die
      u = tg.keep(tg.tensor(7, { requiresGrad: true })); // the rows y and h had (kept: a hook's tensors are its scope's)
      v = tg.keep(tg.tensor(11, { requiresGrad: true }));
      v.backward();
      return g;
    });
    y.backward();
    expect(u!.grad).toBe(null);
    expect(v!.grad!.item()).toBe(1);
    expect(x.grad).toBe(null); // its graph was freed before the walk reached it
    tg.dispose([x, u!, v!]);
    expect(tg.memory().tensors).toBe(before);
  });

  it('a hook that disposes its tensor and throws: the abandoned walk leaves a new leaf\'s gradient alone', () => {
    const x = tg.tensor(3, { requiresGrad: true }), y = x.mul(2);
    let v: tg.Tensor | null = null;
    y.registerHook(() => {
      y.dispose();
      v = tg.keep(tg.tensor(11, { requiresGrad: true }));
      v.backward();
      throw new Error('hook failed');
    });
    expect(() => y.backward()).toThrow('hook failed');
    expect(v!.grad!.item()).toBe(1);
    v!.mul(4).backward();
    expect(v!.grad!.item()).toBe(5);
    tg.dispose([x, v!]);
  });
});

class Square extends tg.autograd.Function {
  static forward(ctx: tg.autograd.FunctionContext, x: tg.Tensor): tg.Tensor {
    ctx.saveForBackward(x);
    return x.mul(x);
  }
  static backward(ctx: tg.autograd.FunctionContext, g: tg.Tensor): tg.Tensor[] {
    const [x] = ctx.savedTensors;
    return [g.mul(x).mul(2)];
  }
}

/** (a, b, k) → [e^a·b, k·b]: two outputs, a number argument, and saved values made in forward. */
class ExpMul extends tg.autograd.Function {
  static forward(ctx: tg.autograd.FunctionContext, a: tg.Tensor, b: tg.Tensor, k: number): tg.Tensor[] {
    const e = a.exp();
    ctx.saveForBackward(e, b);
    ctx.k = k;
    return [e.mul(b), b.mul(k)];
  }
  static backward(ctx: tg.autograd.FunctionContext, g1: tg.Tensor, g2: tg.Tensor): (tg.Tensor | null)[] {
    const [e, b] = ctx.savedTensors;
    return [ctx.needsInputGrad[0] ? g1.mul(e).mul(b) : null, g1.mul(e).add(g2.mul(ctx.k as number)), null];
  }
}

describe('custom ops (tg.autograd.Function)', () => {
  it('Square: values and the gradient 2x', () => tg.tidy(() => {
    const x = tg.tensor([1, -2, 3], { requiresGrad: true });
    const y = Square.apply(x) as tg.Tensor;
    expect(arr(y)).toEqual([1, 4, 9]);
    y.sum().backward();
    expect(arr(x.grad)).toEqual([2, -4, 6]);
  }));

  it('two outputs and a number argument: closed-form gradients and gradcheck', () => tg.tidy(() => {
    const a = tg.tensor([0.5, -1], { requiresGrad: true }), b = tg.tensor([2, 3], { requiresGrad: true });
    const [o1, o2] = ExpMul.apply(a, b, 4) as tg.Tensor[];
    o1.sum().add(o2.square().sum()).backward();
    // d/da = e^a·b; d/db = e^a + 2·(4b)·4
    arr(a.grad).forEach((v, i) => expect(v).toBeCloseTo(Math.exp([0.5, -1][i]) * [2, 3][i], 5));
    arr(b.grad).forEach((v, i) => expect(v).toBeCloseTo(Math.exp([0.5, -1][i]) + 32 * [2, 3][i], 4));
    expect(tg.gradcheck((p, q) => (ExpMul.apply(p, q, 4) as tg.Tensor[])[0].add((ExpMul.apply(p, q, 4) as tg.Tensor[])[1].square()), [a, b])).toBe(true);
  }));

  it('needsInputGrad follows requiresGrad; inputs that need none get none', () => tg.tidy(() => {
    const a = tg.tensor([0.5, -1]), b = tg.tensor([2, 3], { requiresGrad: true });
    let needs: boolean[] = [];
    class Probe extends ExpMul {
      static backward(ctx: tg.autograd.FunctionContext, g1: tg.Tensor, g2: tg.Tensor): (tg.Tensor | null)[] {
        needs = ctx.needsInputGrad;
        return super.backward(ctx, g1, g2);
      }
    }
    (Probe.apply(a, b, 1) as tg.Tensor[])[0].sum().backward();
    expect(needs).toEqual([false, true, false]);
    expect(a.grad).toBeNull();
    // with no input requiring grad the outputs are plain tensors
    expect((Square.apply(tg.tensor([2])) as tg.Tensor).requiresGrad).toBe(false);
  }));

  it('saved tensors outlive their handles: the graph holds them', () => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    const loss = tg.tidy(() => (Square.apply(tg.clone(x)) as tg.Tensor).sum()); // the clone's handle dies here
    loss.backward();
    expect(arr(x.grad)).toEqual([2, 4]);
    tg.dispose([x, loss]);
  });

  it('leaves nothing behind over many steps', () => {
    const x = tg.keep(tg.tensor([1, 2, 3], { requiresGrad: true }));
    const before = tg.memory().tensors;
    for (let i = 0; i < 50; i++) tg.tidy(() => { (ExpMul.apply(x, x, 2) as tg.Tensor[])[0].sum().backward(); });
    for (let i = 0; i < 50; i++) tg.tidy(() => { (Square.apply(x) as tg.Tensor).sum(); }); // never walked
    x.zeroGrad();
    expect(tg.memory().tensors).toBe(before);
    x.dispose();
  });

  it('bad results and tg.trace get Errors naming the op', () => tg.tidy(() => {
    const x = tg.tensor([1, 2], { requiresGrad: true });
    class WrongShape extends Square { static backward(): tg.Tensor[] { return [tg.zeros([3])]; } }
    expect(() => (WrongShape.apply(x) as tg.Tensor).sum().backward()).toThrow('WrongShape.backward: gradient 0 has shape [3], but argument 0 has shape [2]');
    class NoTensor extends tg.autograd.Function { static forward(): tg.Tensor { return 5 as never; } }
    expect(() => NoTensor.apply(x)).toThrow('NoTensor.forward must return a Tensor or an array of Tensors, got 5');
    expect(() => tg.trace(() => Square.apply(x) as tg.Tensor)).toThrow('Square.apply: a custom op runs JavaScript, which a tg.trace replay cannot');
    // the engine still works
    x.mul(2).sum().backward();
    expect(arr(x.grad)).toEqual([2, 2]);
  }));
});

describe('kernel ops (forward and backward over Float32Arrays)', () => {
  // a 1-D cumulative product: y_i = Π_{j≤i} x_j, dL/dx_j = Σ_{i≥j} g_i·y_i / x_j (x without zeros)
  const cumprod = tg.autograd.kernelOp({
    name: 'cumprod',
    forward: ([x]) => { const y = new Float32Array(x.length); let p = 1; x.forEach((v, i) => { p *= v; y[i] = p; }); return [y]; },
    backward: ([g], [x], [y]) => [x.map((xj, j) => { let s = 0; for (let i = j; i < x.length; i++) s += g[i] * y[i]; return s / xj; })],
  });

  it('values and gradients against the closed form, and gradcheck', () => tg.tidy(() => {
    const x = tg.tensor([0.5, 2, -1.5, 3], { requiresGrad: true });
    const y = cumprod(x) as tg.Tensor;
    expect(arr(y)).toEqual([0.5, 1, -1.5, -4.5]);
    y.sum().backward();
    // d/dx_j Σ_i y_i = Σ_{i≥j} y_i / x_j
    const yv = [0.5, 1, -1.5, -4.5], xv = [0.5, 2, -1.5, 3];
    arr(x.grad).forEach((v, j) => expect(v).toBeCloseTo(yv.slice(j).reduce((a, b) => a + b, 0) / xv[j], 5));
    expect(tg.gradcheck((t) => cumprod(t) as tg.Tensor, [tg.tensor([0.7, 1.3, -0.9], { requiresGrad: true })], { eps: 1e-2 })).toBe(true);
  }));

  it('several outputs with their own shapes; wrong results are Errors naming the op', () => tg.tidy(() => {
    const split = tg.autograd.kernelOp({
      name: 'halves',
      outputShapes: ([s]) => [[s[0] / 2], [s[0] / 2]],
      forward: ([x]) => [x.slice(0, x.length / 2), x.slice(x.length / 2)],
      backward: ([g1, g2]) => { const g = new Float32Array(g1.length * 2); g.set(g1); g.set(g2, g1.length); return [g]; },
    });
    const x = tg.tensor([1, 2, 3, 4], { requiresGrad: true });
    const [a, b] = split(x) as tg.Tensor[];
    expect([arr(a), arr(b)]).toEqual([[1, 2], [3, 4]]);
    a.mul(2).sum().add(b.mul(3).sum()).backward();
    expect(arr(x.grad)).toEqual([2, 2, 3, 3]);
    const bad = tg.autograd.kernelOp({ name: 'short', forward: () => [new Float32Array(1)], backward: () => [null] });
    expect(() => bad(tg.tensor([1, 2]))).toThrow('short: forward result 0 must be a Float32Array of 2 values');
    expect(() => tg.autograd.kernelOp({ forward: 1 } as never)).toThrow('kernelOp: expected {forward, backward} functions');
  }));
});

describe('checkpoint', () => {
  const L = 32, W = 64, B = 512;
  tg.manualSeed(11);
  const layers = Array.from({ length: L }, () => new tg.nn.Linear(W, W));
  const input = tg.keep(tg.randn([B, W]));
  const block = (h: tg.Tensor, from: number, n: number) => { for (let i = from; i < from + n; i++) h = layers[i].forward(h).tanh(); return h; };
  /** One step's parameter gradients (bits) and the peak bytes above what was in use before it. */
  const step = (segment: number) => {
    for (const l of layers) l.zeroGrad();
    const base = tg.memory().bytes;
    tg.resetPeakMemory();
    tg.tidy(() => {
      let h: tg.Tensor = input;
      if (!segment) h = block(h, 0, L);
      else for (let i = 0; i < L; i += segment) { const from = i; h = tg.checkpoint((t) => block(t, from, segment), h); }
      h.square().mean().backward();
    });
    const peak = tg.peakMemory() - base;
    return { peak, grads: layers.flatMap((l) => [...new Uint32Array(l.weight.grad!.data().buffer), ...new Uint32Array(l.bias!.grad!.data().buffer)]) };
  };

  it('gives the same gradients bit for bit with ≥ 3× less peak memory on a 32-layer MLP', () => {
    step(0); step(4); // gradient buffers exist from here on, in both
    const plain = step(0), ckpt = step(4);
    expect(ckpt.grads).toEqual(plain.grads);
    // activations: 64 [512, 64] tensors (8 MB) without; 8 segment outputs and one segment's 8 with
    expect(plain.peak / ckpt.peak).toBeGreaterThanOrEqual(3);
  });

  it('works inside tg.grad (gradients of its inputs alone) and with retainGraph', () => tg.tidy(() => {
    const w = tg.tensor([0.5, -1], { requiresGrad: true });
    const lin = new tg.nn.Linear(2, 1);
    expect(arr(tg.grad((a) => tg.checkpoint((t) => t.mul(t).sum(), a), [w])[0])).toEqual([1, -2]);
    tg.grad((a) => tg.checkpoint((t) => lin.forward(t).sum(), a), [w]);
    expect(lin.weight.grad).toBeNull(); // tg.grad leaves other leaves alone, as without checkpoint
    const z = tg.checkpoint((t) => t.mul(t).sum(), w);
    z.backward({ retainGraph: true });
    z.backward();
    expect(arr(w.grad)).toEqual([2, -4]);
    tg.dispose(lin.parameters());
  }));

  it('parameters inside fn get gradients when no input requires grad', () => tg.tidy(() => {
    const lin = new tg.nn.Linear(3, 2), twin = new tg.nn.Linear(3, 2);
    twin.loadStateDict(lin.stateDict());
    const x = tg.randn([4, 3]);
    tg.checkpoint((t) => lin.forward(t).relu(), x).sum().backward();
    twin.forward(x).relu().sum().backward();
    expect(arr(lin.weight.grad)).toEqual(arr(twin.weight.grad));
    tg.dispose([...lin.parameters(), ...twin.parameters()]);
  }));
});
