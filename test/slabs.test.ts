// Scope slabs (issue 14: assembly/nodes.ts slabs, autograd.ts releaseSlab): inside tidy the 0-d
// results of the scalar ops take consecutive rows of a slab instead of free rows and scope
// entries, and a scope's rows are released at once when none is returned, kept or held from
// outside, else node by node. Each scenario runs three ways through the __testing switch: 0-d
// results as any node (mode 0, the engine's general path: the independent answer), slabs released
// at once where they may be (1, the default), and slabs always released node by node (2). Every
// value, gradient and memory() count it reads must be the same bits in all three.
import { afterEach, describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { thrown } from './helpers';

type Tensor = ReturnType<typeof tg.tensor>;
const modes = [0, 1, 2] as const;
afterEach(() => tg.__testing.slabMode(1));

/** The scenario's readings under each mode, from a fresh set of tensors each time: they must agree. */
function sameInEveryMode(scenario: () => number[]): number[] {
  const runs = modes.map((m) => {
    tg.__testing.slabMode(m);
    const base = tg.memory();
    const readings = scenario();
    const after = tg.memory();
    return [...readings, after.tensors - base.tensors, after.bytes - base.bytes];
  });
  for (const m of [1, 2]) {
    runs[m].forEach((v, i) => expect(Object.is(v, runs[0][i]), `mode ${m}, reading ${i}: ${v} vs ${runs[0][i]}`).toBe(true));
  }
  return runs[0];
}
const memoryNow = (): number[] => { const m = tg.memory(); return [m.tensors, m.bytes]; };
const value = (t: Tensor | null): number => (t ? t.item() : NaN);

describe('scope slabs give the general path\'s results and memory', () => {
  it('a chain x·a + b in tidy, its backward, ten steps: values, gradients and memory() after each', () => {
    const readings = sameInEveryMode(() => {
      const a = tg.tensor(1.01, { requiresGrad: true }), b = tg.tensor(0.25, { requiresGrad: true });
      const out: number[] = [];
      for (let step = 0; step < 10; step++) {
        a.zeroGrad(); b.zeroGrad();
        const loss = tg.tidy(() => {
          let z = tg.tensor(0.5);
          for (let i = 0; i < 3000; i++) z = i % 2 ? z.add(b) : z.mul(a); // three chunks of rows and more
          z.backward();
          out.push(...memoryNow());
          return z.item();
        });
        out.push(loss, value(a.grad), value(b.grad), ...memoryNow());
      }
      tg.dispose([a, b]);
      return out;
    });
    expect(readings.slice(-2)).toEqual([0, 0]); // nothing left behind
    // hand check of the first step: z_{k+1} = z_k·a or + b; dz/db counts the products after each b
    let z = 0.5, dzda = 0, dzdb = 0;
    for (let i = 0; i < 3000; i++) {
      if (i % 2) { z += 0.25; dzdb += 1; } else { dzda = dzda * 1.01 + z; dzdb *= 1.01; z *= 1.01; }
    }
    expect(readings[2] / z).toBeCloseTo(1, 4);
    expect(readings[3] / dzda).toBeCloseTo(1, 3);
    expect(readings[4] / dzdb).toBeCloseTo(1, 3);
  });

  it('a loss returned from tidy keeps its graph: backward outside it, then dispose gives every byte back', () => {
    const readings = sameInEveryMode(() => {
      const w = tg.tensor(0.5, { requiresGrad: true });
      const out: number[] = [];
      let previous: Tensor | null = null;
      for (let step = 0; step < 20; step++) {
        const loss: Tensor = tg.tidy(() => { let h = w; for (let i = 0; i < 700; i++) h = h.mul(w).add(0.001); return h.relu(); });
        previous?.dispose(); // a step later, as a training loop that logs the last loss does
        out.push(...memoryNow());
        w.zeroGrad();
        loss.backward();
        out.push(loss.item(), value(w.grad), ...memoryNow());
        previous = loss;
      }
      previous!.dispose();
      w.dispose();
      return out;
    });
    expect(readings.slice(-2)).toEqual([0, 0]);
  });

  it('keep() of a result inside tidy, nested tidy returning a 0-d result, dispose() inside a scope', () => {
    const readings = sameInEveryMode(() => {
      const x = tg.tensor(2, { requiresGrad: true });
      const out: number[] = [];
      let kept: Tensor | null = null;
      tg.tidy(() => {
        const y = x.mul(3);
        const inner: Tensor = tg.tidy(() => { const t = y.mul(y); t.add(1); return t.add(x); }); // 36 + 2
        const gone = inner.mul(2);
        gone.dispose();
        expect(thrown(() => gone.add(1)).message).toMatch(/^add: the tensor was disposed/);
        kept = tg.keep(inner.mul(0.5)); // 19
        out.push(inner.item(), ...memoryNow());
      });
      out.push(kept!.item(), ...memoryNow());
      kept!.backward(); // d/dx of 0.5·(9x² + x) at 2 = 0.5·(36 + 1)
      out.push(value(x.grad), ...memoryNow());
      kept!.dispose(); // (a kept slab row makes every scope release node by node, so after it)
      // an inner scope, released at once, reads the outer one's rows; the outer returns its result,
      // so it is released node by node: the inner records' holds on its rows must be gone by then
      const returned: Tensor = tg.tidy(() => {
        const u = x.mul(2);
        tg.tidy(() => { u.mul(3).add(1).relu(); });
        return u.add(1);
      });
      out.push(returned.item(), ...memoryNow());
      returned.dispose();
      out.push(...memoryNow());
      x.dispose();
      return out;
    });
    expect(readings.slice(0, 1)).toEqual([38]);
    expect(readings[3]).toBe(19);
    expect(readings[6]).toBe(18.5);
    expect(readings.slice(-2)).toEqual([0, 0]);
  });

  it('what holds slab rows from outside: stack, a custom op that saves them, a hook, a trace, createGraph', () => {
    class Cube extends tg.autograd.Function {
      static forward(ctx: tg.autograd.FunctionContext, t: tg.Tensor): tg.Tensor { ctx.saveForBackward(t); return t.mul(t).mul(t); }
      static backward(ctx: tg.autograd.FunctionContext, g: tg.Tensor): tg.Tensor[] { const [t] = ctx.savedTensors; return [g.mul(t).mul(t).mul(3)]; }
    }
    const named: Record<string, number> = {};
    const readings = sameInEveryMode(() => {
      const x = tg.tensor(1.5, { requiresGrad: true });
      const out: number[] = [];
      const note = (name: string, v: number) => { named[name] = out.length; out.push(v, ...memoryNow()); };
      for (let step = 0; step < 3; step++) {
        x.zeroGrad();
        tg.tidy(() => {
          const parts = [x.mul(2), x.add(1), x.relu()];
          const h = parts[0].mul(parts[1]);
          h.registerHook((g) => g.mul(10));
          const c = Cube.apply(h) as Tensor; // saves h, a slab row, in a general record
          const s = tg.stack([...parts, c]).sum(); // holds slab rows in a general record
          s.backward();
          note(`s${step}`, s.item());
          note(`grad${step}`, value(x.grad));
        });
        out.push(...memoryNow());
      }
      // general records that outlive the scope hold its slab rows: a stack returned from tidy, and a
      // custom op's output returned with the graph behind it
      x.zeroGrad();
      const [stacked, cubed] = tg.tidy(() => [tg.stack([x.mul(2), x.mul(3)]), Cube.apply(x.mul(2)) as Tensor]);
      const total = tg.tidy(() => tg.keep(stacked.sum().add(cubed)));
      total.backward(); // 5 + 3·(2x)²·2
      note('stackedGrad', value(x.grad));
      tg.dispose([stacked, cubed, total]);
      // a trace made in a scope reads one of its slab rows, and is disposed after the scope: it holds
      // the row until then (its output, made in the scope, goes with it)
      let program: ReturnType<typeof tg.trace> | null = null;
      tg.tidy(() => {
        const y = x.mul(x);
        program = tg.trace(() => y.mul(3).add(x));
        program.run();
        note('traced', program.output!.item());
      });
      out.push(...memoryNow());
      program!.dispose();
      // gradients of gradients of 0-d ops: d²/dx² x³ = 6x
      tg.tidy(() => {
        const [g] = tg.grad((t) => t.mul(t).mul(t), [x], { createGraph: true });
        const [gg] = tg.grad(() => g, [x]);
        note('first', g.item());
        note('second', gg.item());
      });
      out.push(...memoryNow());
      x.dispose();
      return out;
    });
    expect(readings.slice(-2)).toEqual([0, 0]);
    const x = 1.5, h = 2 * x * (x + 1); // s = 2x + (x+1) + relu(x) + h³, h's gradient ×10 by the hook
    expect(readings[named.s0]).toBeCloseTo(2 * x + x + 1 + x + h ** 3, 3);
    expect(readings[named.grad0] / (2 + 1 + 1 + 10 * 3 * h * h * (4 * x + 2))).toBeCloseTo(1, 5);
    expect(readings[named.stackedGrad]).toBeCloseTo(5 + 3 * (2 * x) ** 2 * 2, 4);
    expect(readings[named.traced]).toBeCloseTo(x * x * 3 + x, 5);
    expect(readings[named.first]).toBeCloseTo(3 * x * x, 5);
    expect(readings[named.second]).toBeCloseTo(6 * x, 5);
  });

  it('micrograd\'s demo step, three steps of SGD: every parameter\'s bits and memory() equal', async () => {
    // @ts-expect-error: plain .mjs with no types
    const { MLP, demoLoss } = await import('../bench/micrograd.mjs');
    // @ts-expect-error: plain .mjs with no types
    const { microgradSpec, rng } = await import('../bench/lib/data.mjs');
    sameInEveryMode(() => {
      const { X, y, seed } = microgradSpec();
      const model = new MLP(2, [16, 16, 1], { random: rng(seed), scalar: (v: number) => tg.tensor(v, { requiresGrad: true }) });
      const params: Tensor[] = model.parameters();
      const opt = new tg.optim.SGD(params, { lr: 0.1 });
      const out: number[] = [];
      for (let step = 0; step < 3; step++) {
        const loss: Tensor = tg.tidy(() => {
          const { totalLoss } = demoLoss(model, X, y, { scalar: (v: number) => tg.tensor(v), read: (t: Tensor) => t.item() });
          opt.zeroGrad();
          totalLoss.backward();
          opt.step();
          return totalLoss.detach();
        });
        out.push(loss.item(), ...memoryNow());
        loss.dispose();
      }
      out.push(...params.map((p) => p.item()));
      opt.dispose();
      tg.dispose(params);
      return out;
    });
  });
});

describe('scope slabs keep handles and memory safe', () => {
  it('a handle from an earlier step whose row a later step reuses stays disposed', () => {
    const w = tg.tensor(1.5, { requiresGrad: true });
    let old: Tensor | null = null;
    for (let step = 0; step < 200; step++) {
      tg.tidy(() => {
        const h = w.mul(2).add(step);
        if (step === 0) old = h;
        h.backward();
      });
      w.zeroGrad();
    }
    expect(old!.isDisposed).toBe(true);
    expect(thrown(() => old!.mul(2)).message).toMatch(/^mul: the tensor was disposed/);
    expect(thrown(() => old!.item()).message).toMatch(/disposed/);
    w.dispose();
  });

  it('running out of memory where a scope needs new chunks: a RangeError, every tensor intact, and the retry exact', () => {
    const w = tg.tensor(0.999, { requiresGrad: true });
    const base = tg.memory().tensors;
    let failures = 0;
    for (let k = 0; k < 10; k++) { // 1,000 to 512,000 ops in one scope: the table and the tape grow along the way
      const n = 1000 << k;
      let expected = Math.fround(0.999);
      for (let i = 0; i < n; i++) expected = Math.fround(expected * Math.fround(0.999));
      const step = (): number => tg.tidy(() => { let z = w; for (let i = 0; i < n; i++) z = z.mul(w); z.backward(); return z.item(); });
      tg.__testing.failAllocAfter(1);
      try {
        step();
      } catch (err) {
        expect(err).toBeInstanceOf(RangeError);
        failures++;
      } finally {
        tg.__testing.failAllocAfter(0);
      }
      expect(tg.memory().tensors).toBe(base);
      expect(w.item()).toBe(Math.fround(0.999));
      w.zeroGrad();
      expect(step()).toBe(expected);
    }
    w.dispose();
    expect(failures).toBeGreaterThanOrEqual(2); // the slab's chunks outgrew the table at least twice
  });

  it('10,000 steps of returning the loss and disposing it a step later keep memory() and the wasm memory flat', () => {
    const w = tg.tensor(0.5, { requiresGrad: true });
    let previous: Tensor | null = null;
    const sizes: number[] = [];
    for (let step = 0; step < 10_000; step++) {
      const loss: Tensor = tg.tidy(() => w.mul(w).add(step % 7).mul(0.5));
      previous?.dispose();
      previous = loss;
      if (step % 1000 === 999) sizes.push(tg.memory().tensors, tg.memory().arenaBytes);
    }
    previous!.dispose();
    w.dispose();
    expect(new Set(sizes.filter((_, i) => i % 2 === 0)).size).toBe(1); // the same tensors each time
    expect(sizes.at(-1)).toBe(sizes[1]); // and no more WebAssembly memory than after the first thousand
  });
});
