// tg.nn.MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against PyTorch 1.13
// (scripts/gen_transformer_fixtures.py): each case loads PyTorch's weights under PyTorch's keys with
// a strict loadStateDict, runs forward and backward(upstream), and compares the output (and the
// attention weights), the inputs' gradients and every parameter's gradient. A state dict saved
// by PyTorch as safetensors loads unchanged and gives PyTorch's output.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as tg from '../dist/index.js';
import { expectClose } from './helpers.js';

type Tensor = InstanceType<typeof tg.Tensor>;
type Module = InstanceType<typeof tg.nn.Module>;
interface Data { shape: number[]; data: (number | null)[] }
interface Case {
  name: string;
  module: 'MultiheadAttention' | 'TransformerEncoderLayer' | 'TransformerEncoder';
  args: number[];
  kwargs: Record<string, unknown>;
  inputs: Data[];
  same: boolean;
  call: Record<string, Data | boolean>;
  state: Record<string, Data>;
  out: Data;
  weights: Data | null;
  upstream: Data;
  inputGrads: Data[];
  paramGrads: Record<string, Data>;
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/transformer.json', import.meta.url), 'utf8')) as {
  cases: Case[];
  safetensors: { input: Data; out: Data; keys: string[] };
};

const RTOL = 1e-4, ATOL = 2e-5;
/** null in a mask's JSON is −Infinity (JSON has no infinities). */
const toTensor = (d: Data, requiresGrad = false): Tensor =>
  tg.tensor(d.data.map((v) => (v === null ? -Infinity : v)), { shape: d.shape, requiresGrad });
const values = (d: Data) => d.data as number[];

function build(c: Case): Module {
  if (c.module === 'TransformerEncoder') {
    const { layer, norm } = c.kwargs as { layer: { args: [number, number]; kwargs: object }; norm?: number };
    const proto = new tg.nn.TransformerEncoderLayer(...layer.args, layer.kwargs);
    const encoder = new tg.nn.TransformerEncoder(proto, c.args[0], norm ? { norm: new tg.nn.LayerNorm(norm) } : undefined);
    proto.parameters().forEach((p) => p.dispose());
    return encoder;
  }
  const Ctor = tg.nn[c.module] as unknown as new (...a: unknown[]) => Module;
  return new Ctor(...c.args, c.kwargs);
}

describe('transformer modules against PyTorch', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const m = build(c);
      const state = Object.fromEntries(Object.entries(c.state).map(([k, v]) => [k, toTensor(v)]));
      expect(m.loadStateDict(state)).toEqual({ missingKeys: [], unexpectedKeys: [] });
      expect(new Set(m.namedParameters().map(([k]) => k))).toEqual(new Set(Object.keys(c.state)));
      const xs = c.inputs.map((d) => toTensor(d, true));
      const opts = Object.fromEntries(Object.entries(c.call).map(([k, v]) => [k, typeof v === 'boolean' ? v : toTensor(v)]));
      let out: Tensor, weights: Tensor | null = null;
      if (c.module === 'MultiheadAttention') {
        const [q, k, v] = c.same ? [xs[0], xs[0], xs[0]] : xs;
        [out, weights] = (m as InstanceType<typeof tg.nn.MultiheadAttention>).forward(q, k, v, opts);
      } else {
        out = m.forward(xs[0], Object.keys(opts).length ? opts : undefined);
      }
      expect(out.shape).toEqual(c.out.shape);
      expectClose(out.data(), values(c.out), RTOL, ATOL, 'output', c.out.shape);
      if (c.weights) {
        expect(weights?.shape).toEqual(c.weights.shape);
        expectClose(weights!.data(), values(c.weights), RTOL, ATOL, 'weights', c.weights.shape);
      } else {
        expect(weights).toBeNull();
      }
      out.backward(toTensor(c.upstream));
      xs.forEach((x, i) => expectClose(x.grad!.data(), values(c.inputGrads[i]), RTOL, ATOL, `input ${i} grad`));
      const params = new Map(m.namedParameters());
      for (const [k, g] of Object.entries(c.paramGrads)) expectClose(params.get(k)!.grad!.data(), values(g), RTOL, ATOL, `${k} grad`);
    });
  }

  it("loads a TransformerEncoder's state dict saved by PyTorch as safetensors, unchanged", () => {
    const { input, out, keys } = fixture.safetensors;
    const state = tg.load(readFileSync(new URL('./fixtures/transformer_encoder.safetensors', import.meta.url)));
    expect(Object.keys(state)).toEqual(keys);
    const layer = new tg.nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, activation: 'gelu', batchFirst: true, normFirst: true });
    const encoder = new tg.nn.TransformerEncoder(layer, 2, { norm: new tg.nn.LayerNorm(8) });
    expect(Object.keys(encoder.stateDict())).toEqual(keys); // PyTorch's names, in PyTorch's order
    encoder.loadStateDict(state);
    encoder.eval();
    const mask = tg.tensor(Array.from({ length: 36 }, (_, i) => (i % 6 > Math.floor(i / 6) ? -Infinity : 0)), { shape: [6, 6] });
    const y = tg.noGrad(() => encoder.forward(toTensor(input), { mask }));
    expectClose(y.data(), values(out), RTOL, ATOL, 'encoder output');
  });
});

describe('transformer modules: behaviour', () => {
  it('TransformerEncoder copies its layer: the copies start equal and are independent', () => {
    tg.manualSeed(3);
    const layer = new tg.nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0 });
    const encoder = new tg.nn.TransformerEncoder(layer, 2);
    const [a, b] = encoder.layers;
    expect(a.linear1.weight.data()).toEqual(layer.linear1.weight.data());
    expect(b.selfAttn.inProjWeight.data()).toEqual(layer.selfAttn.inProjWeight.data());
    expect(a.linear1.weight.id).not.toBe(layer.linear1.weight.id);
    expect(encoder.parameters().length).toBe(2 * layer.parameters().length);
    a.linear1.weight.copy_(tg.zeros(a.linear1.weight.shape));
    expect(b.linear1.weight.data()).toEqual(layer.linear1.weight.data());
  });

  it('PyTorch-style initialisation: zero projection biases, in_proj_weight within the Xavier bound', () => {
    tg.manualSeed(0);
    const mha = new tg.nn.MultiheadAttention(16, 4);
    expect(Array.from(mha.inProjBias!.data()).every((v) => v === 0)).toBe(true);
    expect(Array.from(mha.outProj.bias!.data()).every((v) => v === 0)).toBe(true);
    const bound = Math.sqrt(6 / (16 + 48));
    const w = Array.from(mha.inProjWeight.data());
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
  });

  it('dropout on the attention weights only in training mode', () => {
    tg.manualSeed(1);
    const mha = new tg.nn.MultiheadAttention(8, 2, { dropout: 0.5, batchFirst: true });
    const x = tg.randn([2, 5, 8]);
    mha.eval();
    const [a] = mha.forward(x, x, x);
    const [b] = mha.forward(x, x, x);
    expect(a.data()).toEqual(b.data());
    mha.train();
    mha.eval();
    const [, evalWeights] = mha.forward(x, x, x, { averageAttnWeights: false });
    mha.train();
    const [c, w] = mha.forward(x, x, x, { averageAttnWeights: false });
    expect(c.data()).not.toEqual(a.data());
    // each probability is dropped or kept and scaled by 1/(1 − p) = 2, as PyTorch's dropout does
    const probs = Array.from(w!.data()), exact = Array.from(evalWeights!.data());
    const dropped = probs.filter((p) => p === 0).length;
    expect(dropped).toBeGreaterThan(probs.length / 4);
    expect(dropped).toBeLessThan((3 * probs.length) / 4);
    probs.forEach((p, i) => { if (p !== 0) expect(p).toBeCloseTo(2 * exact[i], 6); });
  });

  it('isCausal equals an explicit causal mask: fused (no weights), composed (weights) and with key padding', () => {
    tg.manualSeed(5);
    const mha = new tg.nn.MultiheadAttention(8, 2, { batchFirst: true });
    const x = tg.randn([2, 5, 8]);
    const causal = tg.tensor(Array.from({ length: 25 }, (_, i) => (i % 5 > Math.floor(i / 5) ? -Infinity : 0)), { shape: [5, 5] });
    const padding = tg.tensor([[0, 0, 0, 0, -Infinity], [0, 0, 0, 0, 0]]);
    for (const extra of [{}, { keyPaddingMask: padding }]) {
      for (const needWeights of [false, true]) {
        const [a] = mha.forward(x, x, x, { isCausal: true, needWeights, ...extra });
        const [b] = mha.forward(x, x, x, { attnMask: causal, needWeights, ...extra });
        expectClose(a.data(), Array.from(b.data()), 1e-6, 1e-6, `needWeights ${needWeights}`);
      }
    }
    const layer = new tg.nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true });
    expectClose(layer.forward(x, { isCausal: true }).data(), Array.from(layer.forward(x, { srcMask: causal }).data()), 1e-6, 1e-6, 'layer');
    expect(() => mha.forward(x, x, x, { isCausal: true, attnMask: causal })).toThrow('MultiheadAttention: pass either attnMask or isCausal, not both');
  });

  it('errors name the argument and the shapes, and leave the module usable', () => {
    const mha = new tg.nn.MultiheadAttention(8, 2, { batchFirst: true });
    const x = tg.randn([2, 5, 8]);
    expect(() => new tg.nn.MultiheadAttention(8, 3)).toThrow('MultiheadAttention: embedDim 8 must be divisible by numHeads 3');
    expect(() => new tg.nn.MultiheadAttention(8, 2, { kdim: 4 } as object)).toThrow(/unknown option "?kdim"?|kdim/);
    expect(() => mha.forward(x, tg.randn([2, 5, 4]), x)).toThrow('MultiheadAttention: key has shape [2,5,4], expected [2,5,8]');
    expect(() => mha.forward(x, x, x, { attnMask: tg.zeros([4, 4]) })).toThrow('MultiheadAttention: attnMask has shape [4,4], expected [5,5] or [4,5,5]');
    expect(() => mha.forward(x, x, x, { keyPaddingMask: tg.zeros([5, 2]) })).toThrow('MultiheadAttention: keyPaddingMask has shape [5,2], expected [2,5]');
    expect(() => mha.forward(tg.randn([5, 8]), x, x)).toThrow('MultiheadAttention: query must be a 3-D Tensor, got shape [5,8]');
    expect(() => new tg.nn.TransformerEncoderLayer(8, 2, { activation: 'tanh' as 'relu' })).toThrow(/activation/);
    expect(() => new tg.nn.TransformerEncoder({} as never, 2)).toThrow('TransformerEncoder: encoderLayer must be a TransformerEncoderLayer');
    const [y] = mha.forward(x, x, x);
    expect(y.shape).toEqual([2, 5, 8]);
  });

  it('a forward pass leaves only its outputs (intermediates are released)', () => {
    const layer = new tg.nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true });
    const x = tg.randn([2, 5, 8]);
    tg.noGrad(() => layer.forward(x)).dispose();
    const before = tg.memory().tensors;
    const y = tg.noGrad(() => layer.forward(x));
    expect(tg.memory().tensors).toBe(before + 1);
    y.dispose();
  });
});
