// tapegrad, imported from the built package (../dist/index.js). The library is still being written,
// so every function is looked up first: a missing one makes the workload "n/a (missing: …)".
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Unavailable } from '../lib/harness.mjs';
import { rng, GPT_PARAMETERS } from '../lib/data.mjs';
import { MLP, demoLoss, demoLearningRate } from '../micrograd.mjs';
import { defineGpt } from '../lib/gpt.mjs';

/** The built package; TAPEGRAD_DIST=/path/to/index.js benchmarks another build. */
export const DIST = process.env.TAPEGRAD_DIST ?? fileURLToPath(new URL('../../dist/index.js', import.meta.url));
let tg;

/** tg.<path>, or Unavailable naming what is missing. */
function need(path) {
  const v = path.split('.').reduce((o, k) => o?.[k], tg);
  if (v === undefined) throw new Unavailable(`missing: tg.${path}`);
  return v;
}

/** A method of a tensor, or Unavailable. */
function method(t, name) {
  if (typeof t?.[name] !== 'function') throw new Unavailable(`missing: Tensor.${name}`);
  return t[name].bind(t);
}

/**
 * Zeroes and updates `params`: tg.optim.SGD when it exists; otherwise gradients are zeroed one
 * tensor at a time and the update is skipped (the handle's note says so).
 */
function sgd(params, lr) {
  const SGD = tg.optim?.SGD;
  if (typeof SGD !== 'function') {
    params.forEach((p) => method(p, 'zeroGrad'));
    return {
      note: 'no tg.optim.SGD: step measured without the parameter update',
      zeroGrad: () => params.forEach((p) => p.zeroGrad()),
      setLr() {},
      step() {},
    };
  }
  const opt = new SGD(params, { lr });
  return {
    zeroGrad: () => opt.zeroGrad(),
    setLr(newLr) {
      if (!('lr' in opt)) throw new Unavailable('cannot change the learning rate of tg.optim.SGD (no .lr)');
      opt.lr = newLr;
    },
    step: () => opt.step(),
  };
}

/** Mean softmax cross-entropy: tg.nn.functional.crossEntropy, else logSoftmax + gather + mean. */
function crossEntropyFn(labels) {
  const ce = tg.nn?.functional?.crossEntropy;
  if (typeof ce === 'function') return (logits) => ce(logits, labels);
  const index = Array.from(labels, (c) => [c]);
  return (logits) => {
    const picked = method(method(logits, 'logSoftmax')(1), 'gather')(1, index);
    return method(method(picked, 'mean')(), 'neg')();
  };
}

/**
 * Runs `step` (which returns the loss tensor) each call: eagerly, disposing the previous loss, or,
 * with `traced`, recorded once by tg.trace and replayed after that.
 */
function stepper(step, traced) {
  let last = null;
  let replay = null;
  return {
    step() {
      if (traced) {
        if (replay) replay.run();
        else replay = need('trace')(step);
        last = replay.output;
        return;
      }
      const l = step();
      last?.dispose();
      last = l;
    },
    loss: () => last.item(),
  };
}

/** A training step in tidy: zero grads, forward, loss, backward, update. */
function trainer(params, forward, { labels, lr }, traced = false) {
  const opt = sgd(params, lr);
  const loss = crossEntropyFn(labels);
  const tidy = need('tidy');
  return {
    note: opt.note,
    ...stepper(() => tidy(() => {
      opt.zeroGrad();
      const out = loss(forward());
      method(out, 'backward')();
      opt.step();
      return out;
    }), traced),
  };
}

const impl = {
  id: 'tapegrad',
  label: 'tapegrad',

  /**
   * Loads the build on `this.threads` threads (set by impls/index.mjs; TAPEGRAD_NUM_THREADS, read
   * when the module loads, so no op ever runs on another count) and, on more than one, waits for
   * every worker to be up, so that no timed step runs with part of the pool still starting.
   */
  async init() {
    if (!existsSync(DIST)) throw new Unavailable('dist/index.js not built (npm run build)');
    const threads = this.threads ?? 1;
    process.env.TAPEGRAD_NUM_THREADS = String(threads);
    tg = await import(pathToFileURL(DIST).href);
    need('tensor');
    const build = tg.build ?? 'unknown';
    const got = tg.getNumThreads?.() ?? 1;
    if (got !== threads) throw new Unavailable(`build ${build} runs on ${got} thread${got > 1 ? 's' : ''}, not ${threads}`);
    if (threads > 1) {
      const workers = await need('__testing.threads.workersReady')();
      if (workers !== threads - 1) throw new Error(`${workers} of ${threads - 1} worker threads started`);
    }
    return { build };
  },

  memoryStats() {
    const m = need('memory')();
    return { tensors: m.tensors, tensorBytes: m.bytes, wasmBytes: m.arenaBytes };
  },

  matmul(A, B, N) {
    const matmul = need('matmul');
    const a = tg.tensor(A, { shape: [N, N] }), b = tg.tensor(B, { shape: [N, N] });
    let c = null;
    return {
      run() {
        c?.dispose();
        c = matmul(a, b);
      },
      read: () => c.data(),
      dispose: () => [a, b, c].forEach((t) => t.dispose()),
    };
  },

  trainMlp(spec, traced = false) {
    const [matmul, add, relu] = ['matmul', 'add', 'relu'].map(need);
    const x = tg.tensor(spec.X, { shape: [spec.batch, spec.sizes[0]] });
    const params = spec.layers.flatMap(({ nin, nout, W, b }) => [
      tg.tensor(W, { shape: [nin, nout], requiresGrad: true }),
      tg.tensor(b, { shape: [nout], requiresGrad: true }),
    ]);
    return trainer(params, () => {
      let h = x;
      for (let l = 0; l < params.length; l += 2) {
        h = add(matmul(h, params[l]), params[l + 1]);
        if (l + 2 < params.length) h = relu(h);
      }
      return h;
    }, spec, traced);
  },

  trainConv(spec) {
    const Conv2d = tg.nn?.Conv2d;
    if (typeof Conv2d !== 'function') throw new Unavailable('not yet (no tg.nn.Conv2d)');
    const [matmul, add, relu] = ['matmul', 'add', 'relu'].map(need);
    const { batch, height: H, width: W, convs, fc } = spec;
    const x = tg.tensor(spec.X, { shape: [batch, 1, H, W] });
    const layers = convs.map(({ cin, cout, W: k, b }) => {
      const conv = new Conv2d(cin, cout, 3, { padding: 1 });
      conv.loadStateDict({ weight: tg.tensor(k, { shape: [cout, cin, 3, 3] }), bias: tg.tensor(b, { shape: [cout] }) });
      return conv;
    });
    const fcW = tg.tensor(fc.W, { shape: [fc.nin, fc.nout], requiresGrad: true });
    const fcB = tg.tensor(fc.b, { shape: [fc.nout], requiresGrad: true });
    const params = [...layers.flatMap((l) => l.parameters()), fcW, fcB];
    return trainer(params, () => {
      let h = x;
      for (const conv of layers) h = relu(conv.forward(h));
      return add(matmul(h.reshape([batch, fc.nin]), fcW), fcB);
    }, spec);
  },

  /** The char-GPT of bench/lib/gpt.mjs: AdamW, gradients clipped to norm clipNorm. */
  trainGpt({ config, weights, inputs, targets, optimizer, clipNorm }, traced = false) {
    const [tidy, AdamW, clipGradNorm] = ['tidy', 'optim.AdamW', 'optim.clipGradNorm'].map(need);
    const model = new (defineGpt(tg))(config);
    tidy(() => model.loadStateDict(Object.fromEntries(weights.map(({ name, shape, data }) => [name, tg.tensor(data, { shape })]))));
    const params = model.parameters();
    const count = params.reduce((n, p) => n + p.size, 0);
    if (count !== GPT_PARAMETERS) throw new Error(`the GPT has ${count} parameters, expected ${GPT_PARAMETERS}`);
    const opt = new AdamW(params, optimizer);
    return stepper(() => tidy(() => {
      opt.zeroGrad();
      const loss = model.loss(inputs, targets);
      loss.backward();
      clipGradNorm(params, clipNorm);
      opt.step();
      return loss;
    }), traced);
  },

  /** makemore's MLP: embedding lookup by indexSelect, tanh hidden layer, cross-entropy, SGD. */
  trainMakemore(spec, traced = false) {
    const { batch, block, embed, hidden, vocab, X } = spec;
    const param = (data, shape) => tg.tensor(data, { shape, requiresGrad: true });
    const [C, W1, b1, W2, b2] = [param(spec.C, [vocab, embed]), param(spec.W1, [block * embed, hidden]), param(spec.b1, [hidden]), param(spec.W2, [hidden, vocab]), param(spec.b2, [vocab])];
    return trainer([C, W1, b1, W2, b2], () => C.indexSelect(0, X).view([batch, block * embed]).matmul(W1).add(b1).tanh().matmul(W2).add(b2), spec, traced);
  },

  /** One nn.LSTM layer, a linear head on every step, MSE, Adam. */
  trainLstm({ T, B, I, H, lr, W_ih, W_hh, b_ih, b_hh, headW, headB, X, Y }, traced = false) {
    const [LSTM, Linear, Adam, mseLoss, tidy] = ['nn.LSTM', 'nn.Linear', 'optim.Adam', 'nn.functional.mseLoss', 'tidy'].map(need);
    const lstm = new LSTM(I, H), head = new Linear(H, 1);
    tidy(() => {
      lstm.loadStateDict({ weight_ih_l0: tg.tensor(W_ih, { shape: [4 * H, I] }), weight_hh_l0: tg.tensor(W_hh, { shape: [4 * H, H] }),
        bias_ih_l0: tg.tensor(b_ih), bias_hh_l0: tg.tensor(b_hh) });
      head.loadStateDict({ weight: tg.tensor(headW, { shape: [1, H] }), bias: tg.tensor(headB) });
    });
    const x = tg.keep(tg.tensor(X, { shape: [T, B, I] })), y = tg.keep(tg.tensor(Y, { shape: [T, B, 1] }));
    const opt = new Adam([...lstm.parameters(), ...head.parameters()], { lr });
    return stepper(() => tidy(() => {
      opt.zeroGrad();
      const loss = mseLoss(head.forward(lstm.forward(x)[0]), y);
      loss.backward();
      opt.step();
      return loss;
    }), traced);
  },

  /** The micrograd demo's graph, built from 0-d tensors by the same Neuron/Layer/MLP code. */
  micrograd({ X, y, nin, nouts, seed }, traced = false) {
    const [tensor, tidy] = ['tensor', 'tidy'].map(need);
    const model = new MLP(nin, nouts, { random: rng(seed), scalar: (v) => tensor(v, { requiresGrad: true }) });
    const params = model.parameters();
    ['add', 'mul', 'relu', 'backward', 'item'].forEach((m) => method(params[0], m));
    const opt = sgd(params, demoLearningRate(0));
    // Eager steps make the inputs each step, as micrograd does; a traced step reads tensors made
    // once. Accuracy needs values in JavaScript, which a traced step cannot read (tg.trace refuses
    // item() while recording): eager steps compute it, traced ones report NaN.
    const inputs = traced ? X.map((row) => row.map((v) => tg.keep(tensor(v)))) : X;
    const scalar = traced ? (v) => v : (v) => tensor(v);
    let k = 0;
    let accuracy = 0;
    const run = stepper(() => tidy(() => {
      const out = demoLoss(model, inputs, y, { scalar, read: traced ? () => NaN : (s) => s.item() });
      accuracy = out.accuracy;
      opt.zeroGrad();
      out.totalLoss.backward();
      opt.step();
      return out.totalLoss.detach(); // the value only: the step's graph is released with the scope
    }), traced);
    return {
      note: opt.note,
      step() {
        opt.setLr(demoLearningRate(k++ % 100));
        run.step();
        return { loss: run.loss(), accuracy };
      },
    };
  },

  chain({ ops, x, a, m }) {
    const [add, mul, tanh, tidy] = ['add', 'mul', 'tanh', 'tidy'].map(need);
    const tx = tg.tensor(x, { requiresGrad: true }), ta = tg.tensor(a), tm = tg.tensor(m);
    method(tx, 'zeroGrad');
    return {
      step() {
        tidy(() => {
          tx.zeroGrad();
          let h = tx;
          for (const op of ops) h = op === 'add' ? add(h, ta) : op === 'mul' ? mul(h, tm) : tanh(h);
          method(h, 'sum')().backward();
        });
      },
      grad() {
        const g = tx.grad;
        if (!g) throw new Error('x.grad is null after backward()');
        const d = g.data();
        g.dispose();
        return d;
      },
    };
  },
};

/**
 * tapegrad with tg.trace: the training step is recorded once, then replayed with one call per
 * step (forward, backward and update in WebAssembly, no JavaScript per op).
 */
export default impl;

export const tapegradTrace = {
  id: 'tapegrad-trace',
  label: 'tapegrad trace',
  init: impl.init,
  memoryStats: impl.memoryStats,
  trainMlp: (spec) => impl.trainMlp(spec, true),
  micrograd: (spec) => impl.micrograd(spec, true),
  trainGpt: (spec) => impl.trainGpt(spec, true),
  trainMakemore: (spec) => impl.trainMakemore(spec, true),
  trainLstm: (spec) => impl.trainLstm(spec, true),
};
