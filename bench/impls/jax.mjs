// @jax-js/jax 0.1.25 on its wasm device, eager or with jit. Arrays are consumed when passed to an
// op (keep them with .ref / tree.ref) and computation is lazy: every timed call awaits
// blockUntilReady on its outputs.
import { Unavailable } from '../lib/harness.mjs';

export function jax(mode) {
  let J, np, nn, tree;
  const jitted = (f) => (mode === 'jit' ? J.jit(f) : f);
  const array = (f32, shape) => np.array(f32).reshape(shape);

  /** A training step: params ← params − lr·∇loss, the whole step jitted in jit mode. */
  function trainer(params, inputs, forward, { labels, classes, lr, batch }) {
    const onehot = nn.oneHot(np.array(labels, { dtype: np.int32 }), classes);
    const lossFn = (ps, x, y) => nn.logSoftmax(forward(ps, x), -1).mul(y).sum().mul(-1 / batch);
    const step = jitted((ps, x, y) => {
      const [loss, g] = J.valueAndGrad(lossFn)(tree.ref(ps), x, y);
      return [tree.map((p, gi) => p.sub(gi.mul(lr)), ps, g), loss];
    });
    let last = null;
    return {
      async step() {
        const [next, loss] = step(params, inputs.ref, onehot.ref);
        params = next;
        last?.dispose();
        last = loss;
        await J.blockUntilReady(params);
      },
      loss: () => last.ref.dataSync()[0],
    };
  }

  return {
    id: `jax-${mode}`,
    label: `jax-js ${mode}`,

    async init() {
      J = await import('@jax-js/jax');
      ({ numpy: np, nn, tree } = J);
      const devices = await J.init('wasm');
      if (!devices.includes('wasm')) throw new Error(`init('wasm') gave devices ${devices}`);
      J.defaultDevice('wasm');
      return { mode };
    },

    matmul(A, B, N) {
      const a = array(A, [N, N]), b = array(B, [N, N]);
      const mm = jitted((x, y) => np.matmul(x, y));
      let c = null;
      return {
        async run() {
          c?.dispose();
          c = mm(a.ref, b.ref);
          await c.blockUntilReady();
        },
        read: () => c.ref.dataSync(),
      };
    },

    trainMlp(spec) {
      const params = spec.layers.map(({ nin, nout, W, b }) => ({ W: array(W, [nin, nout]), b: array(b, [nout]) }));
      return trainer(params, array(spec.X, [spec.batch, spec.sizes[0]]), (ps, x) => {
        let h = x;
        ps.forEach((p, l) => {
          h = np.matmul(h, p.W).add(p.b);
          if (l + 1 < ps.length) h = nn.relu(h);
        });
        return h;
      }, spec);
    },

    trainConv(spec) {
      const { batch, height: H, width: W, convs, fc } = spec;
      if (typeof J.lax?.conv !== 'function') throw new Unavailable('no lax.conv');
      const params = {
        convs: convs.map(({ cin, cout, W: k, b }) => ({ k: array(k, [cout, cin, 3, 3]), b: array(b, [1, cout, 1, 1]) })),
        fc: { W: array(fc.W, [fc.nin, fc.nout]), b: array(fc.b, [fc.nout]) },
      };
      return trainer(params, array(spec.X, [batch, 1, H, W]), (ps, x) => {
        let h = x;
        for (const c of ps.convs) h = nn.relu(J.lax.conv(h, c.k, [1, 1], 'SAME').add(c.b));
        return np.matmul(h.reshape([batch, fc.nin]), ps.fc.W).add(ps.fc.b);
      }, spec);
    },

    trainMakemore(spec) {
      const { batch, block, embed, hidden, vocab } = spec;
      const params = { C: array(spec.C, [vocab, embed]), W1: array(spec.W1, [block * embed, hidden]), b1: array(spec.b1, [hidden]), W2: array(spec.W2, [hidden, vocab]), b2: array(spec.b2, [vocab]) };
      // The embedding lookup as oneHot(ids)·C: the gradient of np.take (a scatter) fails under jit.
      const onehot = nn.oneHot(np.array(spec.X, { dtype: np.int32 }), vocab);
      const h = trainer(params, onehot, (ps, x) => {
        const hidden = np.tanh(np.matmul(np.matmul(x, ps.C).reshape([batch, block * embed]), ps.W1).add(ps.b1));
        return np.matmul(hidden, ps.W2).add(ps.b2);
      }, spec);
      return { ...h, note: 'embedding as a one-hot matmul (the gradient of np.take fails under jit)' };
    },

    chain({ ops, x, a, m }) {
      const [tx, ta, tm] = [x, a, m].map((v) => np.array(v));
      const f = (h, av, mv) => {
        for (const op of ops) h = op === 'add' ? h.add(av.ref) : op === 'mul' ? h.mul(mv.ref) : np.tanh(h);
        av.dispose();
        mv.dispose();
        return h.sum();
      };
      const gradFn = jitted(J.grad(f));
      let g = null;
      return {
        async step() {
          g?.dispose();
          g = gradFn(tx.ref, ta.ref, tm.ref);
          await g.blockUntilReady();
        },
        grad: () => g.ref.dataSync(),
      };
    },
  };
}
