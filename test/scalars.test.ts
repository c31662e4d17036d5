// Scalar replay (assembly/scalars.ts): a trace whose ops are all on 0-d tensors replays as a
// compact instruction stream. Its results must be exactly today's, the eager path's (the same
// float32 operations in the same order), checked with Object.is on every value and gradient:
// micrograd's README expression, and micrograd's demo step (the bench's MLP and loss), over
// several steps of training. Also what makes a program replay the general way instead, and that
// a compiled program recompiles when the node table moves or an input's requiresGrad changes.
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { micrograd } from './helpers';
// @ts-expect-error: plain .mjs with no types
import { MLP, demoLoss, demoLearningRate } from '../bench/micrograd.mjs';

type Tensor = ReturnType<typeof tg.tensor>;
const compiled = (tr: unknown): boolean => tg.__testing.scalarReplay(tr as never);
const bits = (x: number): number[] => Array.from(new Uint8Array(Float32Array.of(x).buffer));

describe('scalar replay gives exactly the eager results', () => {
  it("micrograd's README example: 24.7041, 138.8338, 645.5773, and the same bits as eager for new inputs", () => {
    const a = tg.tensor(-4.0, { requiresGrad: true }), b = tg.tensor(2.0, { requiresGrad: true });
    const step = () => tg.tidy(() => { const g = micrograd(tg, a, b); g.backward(); return g.detach(); });
    const tr = tg.trace(step);
    for (const [av, bv] of [[-4, 2], [1.5, -0.25], [3, 7], [-4, 2]]) {
      a.copy_(tg.tidy(() => tg.tensor(av)));
      b.copy_(tg.tidy(() => tg.tensor(bv)));
      a.zeroGrad(); b.zeroGrad();
      const replayed = [tr.run().item(), a.grad!.item(), b.grad!.item()];
      expect(compiled(tr)).toBe(true);
      a.zeroGrad(); b.zeroGrad();
      const g = step();
      const eager = [g.item(), a.grad!.item(), b.grad!.item()];
      g.dispose();
      expect(replayed.map(bits)).toEqual(eager.map(bits));
      if (av === -4) { // micrograd's README, 4 decimals
        expect(replayed[0]).toBeCloseTo(24.7041, 4);
        expect(replayed[1]).toBeCloseTo(138.8338, 3);
        expect(replayed[2]).toBeCloseTo(645.5773, 3);
      }
    }
    tr.dispose();
    tg.dispose([a, b]);
  });

  it("micrograd's demo step (MLP(2, [16, 16, 1]), max-margin loss, L2, SGD): every parameter's bits as eager's, step after step", () => {
    let s = 7;
    const random = () => (s = (s * 16807) % 2147483647) / 2147483647;
    const X = Array.from({ length: 24 }, () => [random() * 2 - 1, random() * 2 - 1]);
    const y = X.map(([u, v]) => (u * v > 0 ? 1 : -1));
    const build = () => { s = 11; return new MLP(2, [16, 16, 1], { random, scalar: (v: number) => tg.tensor(v, { requiresGrad: true }) }); };
    const eagerModel = build(), replayModel = build();
    const inputs = X.map((row) => row.map((v) => tg.keep(tg.tensor(v))));
    const makeStep = (model: typeof eagerModel) => {
      const opt = new tg.optim.SGD(model.parameters(), { lr: 1 });
      return { opt, step: () => tg.tidy(() => {
        const { totalLoss } = demoLoss(model, inputs, y, { scalar: (v: Tensor) => v, read: () => NaN });
        opt.zeroGrad();
        totalLoss.backward();
        opt.step();
        return totalLoss.detach();
      }) };
    };
    const eager = makeStep(eagerModel), replay = makeStep(replayModel);
    eager.opt.lr = replay.opt.lr = demoLearningRate(0);
    const tr = tg.trace(replay.step); // step 0, recorded
    const losses: number[][] = [[eager.step().item(), tr.output.item()]];
    for (let k = 1; k < 6; k++) {
      eager.opt.lr = replay.opt.lr = demoLearningRate(k);
      const e = eager.step();
      losses.push([e.item(), tr.run().item()]);
      e.dispose();
      expect(compiled(tr)).toBe(true);
      const pe = eagerModel.parameters() as Tensor[], pr = replayModel.parameters() as Tensor[];
      expect(pr.map((p) => bits(p.item()))).toEqual(pe.map((p) => bits(p.item())));
      expect(pr.map((p) => bits(p.grad!.item()))).toEqual(pe.map((p) => bits(p.grad!.item())));
    }
    for (const [e, r] of losses) expect(bits(r)).toEqual(bits(e));
    expect(losses[5][0]).toBeLessThan(losses[0][0]); // it trains
    tr.dispose();
    tg.dispose([...eagerModel.parameters(), ...replayModel.parameters(), ...inputs.flat()]);
  });
});

describe('what replays the general way, and when a compiled program is rebuilt', () => {
  it('a tensor op, x ** 0.5, or a retained backward: not compiled, and still right', () => {
    const x = tg.tensor(2, { requiresGrad: true }), v = tg.tensor([1, 2], { requiresGrad: true });
    const cases: [string, () => Tensor][] = [
      ['1-D', () => v.mul(x).sum()],
      ['sqrt by pow', () => x.pow(0.5).mul(3)],
      ['retained', () => x.mul(x)],
    ];
    for (const [name, f] of cases) {
      const step = () => tg.tidy(() => { const y = f(); y.backward(undefined, { retainGraph: name === 'retained' }); return y.detach(); });
      const tr = tg.trace(step);
      x.zeroGrad();
      const replayed = [tr.run().item(), x.grad!.item()];
      expect(compiled(tr), name).toBe(false);
      x.zeroGrad();
      const e = step();
      expect(replayed, name).toEqual([e.item(), x.grad!.item()]);
      e.dispose();
      tr.dispose();
    }
    tg.dispose([x, v]);
  });

  it('recompiles when the node table moves and when an input stops requiring grad', () => {
    const w = tg.tensor(3, { requiresGrad: true }), c = tg.tensor(5, { requiresGrad: true });
    const step = () => tg.tidy(() => { const y = w.mul(c).add(w).relu(); y.backward(); return y.detach(); });
    const tr = tg.trace(step);
    w.zeroGrad(); c.zeroGrad();
    expect(tr.run().item()).toBe(18);
    expect([w.grad!.item(), c.grad!.item()]).toEqual([6, 3]); // d/dw (wc + w) = c + 1, d/dc = w
    const many = Array.from({ length: 5000 }, () => tg.zeros([])); // the node table grows and moves
    w.zeroGrad(); c.zeroGrad();
    expect(tr.run().item()).toBe(18);
    expect([w.grad!.item(), c.grad!.item()]).toEqual([6, 3]);
    expect(compiled(tr)).toBe(true);
    c.requiresGrad_(false); // as the general replay: c's gradient is left alone from now on
    w.zeroGrad(); c.zeroGrad();
    expect(tr.run().item()).toBe(18);
    expect([w.grad!.item(), c.grad!.item()]).toEqual([6, 0]);
    tg.dispose(many);
    tr.dispose();
    tg.dispose([w, c]);
  });

  it('after a compiled replay, the graph is spent: an eager backward through it is refused, not fed stale values', () => {
    const w = tg.tensor(3, { requiresGrad: true });
    const tr = tg.trace(() => { const y = w.mul(w).add(1); y.backward(); return y; });
    const y = tr.run();
    expect(compiled(tr)).toBe(true);
    expect(y.item()).toBe(10);
    expect(() => y.backward()).toThrow(/already walked by backward/);
    tr.dispose();
    tg.dispose([w, y]);
  });
});
