// nn.LSTM, nn.GRU, nn.LSTMCell, nn.GRUCell against PyTorch 1.13 (scripts/gen_recurrent_fixtures.py):
// outputs, final states, and the gradients of the input, the initial states and every parameter,
// after loading PyTorch's state dict strictly; a checkpoint PyTorch saved as safetensors; finite
// differences through time; thread counts; tg.trace replay; errors and reprs.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers';

type Json = { shape: number[]; data: number[] };
type Kind = 'LSTM' | 'GRU' | 'LSTMCell' | 'GRUCell';
interface Case {
  name: string; module: Kind; args: [number, number]; kwargs: Record<string, unknown>; state: Record<string, Json>;
  input: Json; hx: Json[] | null; outputs: Json[]; upstreams: Json[]; grads: Record<string, Json | Json[]>;
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/recurrent.json', import.meta.url), 'utf8')) as {
  cases: Case[]; checkpoint: { input: Json; outputs: Json[]; keys: string[] };
};
const make = (j: Json, requiresGrad = false) => tg.tensor(Float32Array.from(j.data), { shape: j.shape, requiresGrad });
const near = (t: tg.Tensor, j: Json, what: string, tol = 2e-5) => {
  expect(t.shape, what).toEqual(j.shape);
  expectClose(t.data(), j.data, tol, tol, what);
};
type AnyModule = tg.nn.LSTM | tg.nn.GRU | tg.nn.LSTMCell | tg.nn.GRUCell;
/** The module's results flattened as the fixture lists them: output, hN (, cN) or h' (, c'). */
function call(m: AnyModule, kind: Kind, x: tg.Tensor, hx: tg.Tensor[] | null): tg.Tensor[] {
  const pair = hx ? [hx[0], hx[1]] as [tg.Tensor, tg.Tensor] : null;
  switch (kind) {
    case 'LSTM': { const [o, [h, c]] = (m as tg.nn.LSTM).forward(x, pair); return [o, h, c]; }
    case 'GRU': return (m as tg.nn.GRU).forward(x, hx?.[0]);
    case 'LSTMCell': return (m as tg.nn.LSTMCell).forward(x, pair);
    case 'GRUCell': return [(m as tg.nn.GRUCell).forward(x, hx?.[0])];
  }
}

describe('recurrent layers against PyTorch', () => {
  for (const c of fixtures.cases) {
    it(c.name, () => tg.tidy(() => {
      const m = new tg.nn[c.module](c.args[0], c.args[1], c.kwargs as never);
      expect(Object.keys(m.stateDict())).toEqual(Object.keys(c.state));
      m.loadStateDict(Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, make(v)])));
      const x = make(c.input, true), hx = c.hx?.map((h) => make(h, true)) ?? null;
      const outs = call(m, c.module, x, hx);
      expect(outs.length).toBe(c.outputs.length);
      outs.forEach((o, i) => near(o, c.outputs[i], `output ${i}`));
      tg.stack(outs.map((o, i) => o.mul(make(c.upstreams[i])).sum())).sum().backward();
      near(x.grad!, c.grads.input as Json, 'input grad');
      hx?.forEach((h, i) => near(h.grad!, (c.grads.hx as Json[])[i], `hx[${i}] grad`));
      const params = Object.fromEntries(m.namedParameters());
      for (const [k, p] of Object.entries(params)) near(p.grad!, c.grads[k] as Json, `${k} grad`);
      tg.dispose(m.parameters());
    }));
  }

  it('loads an LSTM PyTorch saved as safetensors and gives its outputs', () => tg.tidy(() => {
    const ck = fixtures.checkpoint;
    const state = tg.load(readFileSync(new URL('./fixtures/lstm.safetensors', import.meta.url)));
    expect(Object.keys(state)).toEqual(ck.keys);
    const m = new tg.nn.LSTM(3, 4, { numLayers: 2, batchFirst: true, bidirectional: true });
    expect(Object.keys(m.stateDict())).toEqual(ck.keys);
    m.loadStateDict(state);
    const [out, [h, c]] = m.forward(make(ck.input));
    near(out, ck.outputs[0], 'output'); near(h, ck.outputs[1], 'hN'); near(c, ck.outputs[2], 'cN');
    tg.dispose(m.parameters());
  }));
});

describe('recurrent layers: gradients, threads, trace', () => {
  it('gradcheck through time: LSTM and GRU, two layers, both directions, every input and state', () => {
    for (const Kind of [tg.nn.LSTM, tg.nn.GRU] as const) {
      tg.manualSeed(3);
      const m = new Kind(2, 3, { numLayers: 2, bidirectional: true });
      const x = tg.randn([5, 2, 2]).requiresGrad_(), h0 = tg.randn([4, 2, 3]).mul(0.5).detach().requiresGrad_();
      const c0 = tg.randn([4, 2, 3]).mul(0.5).detach().requiresGrad_();
      const f = Kind === tg.nn.LSTM
        ? (...ts: tg.Tensor[]) => { const [o, [h, c]] = (m as tg.nn.LSTM).forward(ts[0], [ts[1], ts[2]]); return o.sum().add(h.mul(h).sum()).add(c.sum()); }
        : (...ts: tg.Tensor[]) => { const [o, h] = (m as tg.nn.GRU).forward(ts[0], ts[1]); return o.sum().add(h.mul(h).sum()); };
      const inputs = Kind === tg.nn.LSTM ? [x, h0, c0] : [x, h0];
      expect(tg.gradcheck(f, [...inputs, ...m.parameters()], { eps: 1e-2 })).toBe(true);
      tg.dispose([x, h0, c0, ...m.parameters()]);
    }
  });

  it('a GRU whose only tracked tensor is bias_hh still gets its gradient (frozen weights, constant input)', () => tg.tidy(() => {
    tg.manualSeed(4);
    const m = new tg.nn.GRU(2, 3), twin = new tg.nn.GRU(2, 3);
    twin.loadStateDict(m.stateDict());
    for (const [k, p] of m.namedParameters()) if (k !== 'bias_hh_l0') p.requiresGrad_(false);
    const x = tg.randn([4, 2, 2]);
    m.forward(x)[0].sum().backward();
    twin.forward(x)[0].sum().backward();
    expect(Array.from(Object.fromEntries(m.namedParameters()).bias_hh_l0.grad!.data())).toEqual(Array.from(Object.fromEntries(twin.namedParameters()).bias_hh_l0.grad!.data()));
    tg.dispose([...m.parameters(), ...twin.parameters()]);
  }));

  it('results and gradients are bit-identical on 1 and 2 threads', () => {
    if (tg.getNumThreads() < 2 && !tg.build.includes('threads')) return;
    const run = (threads: number) => {
      tg.setNumThreads(threads);
      tg.manualSeed(5);
      const m = new tg.nn.LSTM(32, 64);
      const x = tg.randn([8, 16, 32]);
      const [o] = m.forward(x);
      o.square().sum().backward();
      const bits = [o, ...m.parameters().map((p) => p.grad!)].map((t) => Array.from(new Uint32Array(t.data().buffer)));
      tg.dispose([x, o, ...m.parameters()]);
      return bits;
    };
    const before = tg.getNumThreads();
    try {
      expect(run(2)).toEqual(run(1));
    } finally {
      tg.setNumThreads(before);
    }
  });

  it('a traced training step replays equal to eager', () => {
    const build = () => { tg.manualSeed(6); const m = new tg.nn.GRU(3, 4, { batchFirst: true }); return [m, new tg.optim.Adam(m.parameters(), { lr: 0.01 })] as const; };
    const [m1, o1] = build(), [m2, o2] = build();
    tg.manualSeed(7);
    const x = tg.keep(tg.randn([2, 6, 3]));
    const step = (m: tg.nn.GRU, opt: tg.optim.Adam) => { opt.zeroGrad(); const loss = m.forward(x)[0].square().mean(); loss.backward(); opt.step(); return loss; };
    const traced = tg.trace(() => step(m1, o1)); // runs the first step
    tg.tidy(() => step(m2, o2));
    for (let i = 0; i < 3; i++) {
      const a = traced.run().item(), b = tg.tidy(() => step(m2, o2).item());
      expect(a).toBe(b);
    }
    expect(m1.parameters().map((p) => Array.from(p.data()))).toEqual(m2.parameters().map((p) => Array.from(p.data())));
    traced.dispose();
    tg.dispose([x, ...m1.parameters(), ...m2.parameters()]);
  });

  it('dropout between layers applies in training only', () => tg.tidy(() => {
    tg.manualSeed(8);
    const m = new tg.nn.LSTM(3, 4, { numLayers: 2, dropout: 0.5 }), plain = new tg.nn.LSTM(3, 4, { numLayers: 2 });
    plain.loadStateDict(m.stateDict());
    const x = tg.randn([5, 2, 3]);
    expect(Array.from(m.forward(x)[0].data())).not.toEqual(Array.from(plain.forward(x)[0].data()));
    m.eval();
    expect(Array.from(m.forward(x)[0].data())).toEqual(Array.from(plain.forward(x)[0].data()));
    tg.dispose([...m.parameters(), ...plain.parameters()]);
  }));

  it('leaves no tensors behind and frees the graph with its outputs', () => {
    tg.manualSeed(9);
    const m = new tg.nn.LSTM(3, 4);
    const before = tg.memory().tensors;
    for (let i = 0; i < 3; i++) tg.tidy(() => { const [o, [h, c]] = m.forward(tg.randn([5, 2, 3])); o.sum().add(h.sum()).add(c.sum()).backward(); });
    m.zeroGrad();
    expect(tg.memory().tensors).toBe(before);
    tg.dispose(m.parameters());
  });
});

describe('recurrent layers: errors and reprs', () => {
  it('names what is wrong and leaves the module usable', () => tg.tidy(() => {
    const m = new tg.nn.LSTM(3, 4, { numLayers: 2 });
    expect(() => m.forward(tg.zeros([5, 2, 2]))).toThrow('LSTM: input of shape [5,2,2] has 2 features, expected inputSize 3');
    expect(() => m.forward(tg.zeros([5, 3]).reshape([1, 5, 3, 1]))).toThrow('LSTM: expected a 2-D (unbatched) or 3-D input, got shape [1,5,3,1]');
    expect(() => m.forward(tg.zeros([0, 2, 3]))).toThrow('LSTM: expected a sequence of at least one step');
    expect(() => m.forward(tg.zeros([5, 2, 3]), [tg.zeros([1, 2, 4]), tg.zeros([2, 2, 4])])).toThrow('LSTM: expected h0 (hx[0]) of shape [2,2,4], got [1,2,4]');
    expect(() => m.forward(tg.zeros([5, 2, 3]), tg.zeros([2, 2, 4]) as never)).toThrow('LSTM: hx must be [h0, c0]');
    expect(() => new tg.nn.GRU(3, 4).forward(tg.zeros([5, 2, 3]), tg.zeros([1, 3, 4]))).toThrow('GRU: expected hx of shape [1,2,4], got [1,3,4]');
    expect(() => new tg.nn.GRUCell(3, 4).forward(tg.zeros([2, 4]))).toThrow('GRUCell: expected input of shape [B, 3] or [3], got [2,4]');
    expect(() => new tg.nn.LSTM(3, 0)).toThrow('hiddenSize');
    expect(() => new tg.nn.LSTM(3, 4, { numLayer: 2 } as never)).toThrow('numLayer');
    expect(() => new tg.nn.GRU(3, 4, { dropout: 1.5 })).toThrow('dropout');
    expect(m.forward(tg.zeros([5, 2, 3]))[0].shape).toEqual([5, 2, 4]);
    tg.dispose(m.parameters());
  }));

  it('an empty batch gives empty outputs', () => tg.tidy(() => {
    const m = new tg.nn.GRU(3, 4);
    const [o, h] = m.forward(tg.zeros([5, 0, 3]));
    expect([o.shape, h.shape]).toEqual([[5, 0, 4], [1, 0, 4]]);
    tg.dispose(m.parameters());
  }));

  it('prints as PyTorch does', () => {
    const ms = [new tg.nn.LSTM(10, 20), new tg.nn.LSTM(10, 20, { numLayers: 2, bias: false, batchFirst: true, dropout: 0.1, bidirectional: true }),
      new tg.nn.GRU(3, 4), new tg.nn.LSTMCell(3, 4), new tg.nn.GRUCell(3, 4, { bias: false })];
    expect(ms.map(String)).toEqual(['LSTM(10, 20)', 'LSTM(10, 20, num_layers=2, bias=False, batch_first=True, dropout=0.1, bidirectional=True)',
      'GRU(3, 4)', 'LSTMCell(3, 4)', 'GRUCell(3, 4, bias=False)']);
    for (const m of ms) tg.dispose(m.parameters());
  });
});
