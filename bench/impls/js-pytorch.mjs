// js-pytorch 0.7.2: tensors are nested float64 JS arrays. It has no SGD (the update is written as
// its Adam.step() writes one), no tanh (composed from exp), no conv, and its nn.ReLU leaks a slope
// of 1e-3 for negative inputs, so ReLU is written here exactly, the way nn.ReLU builds its mask.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let torch;

/** Float32Array (row-major) → nested arrays of the given shape. */
function nested(flat, shape) {
  if (shape.length === 1) return Array.from(flat);
  const stride = flat.length / shape[0];
  return Array.from({ length: shape[0] }, (_, i) => nested(flat.subarray(i * stride, (i + 1) * stride), shape.slice(1)));
}

const relu = (z) => z.mul(torch.tensor(mask(z.data)));
const mask = (d) => (typeof d[0] === 'number' ? d.map((v) => (v > 0 ? 1 : 0)) : d.map(mask));
const tanh = (h) => {
  const e = h.mul(2).exp();
  return e.sub(1).div(e.add(1));
};

export default {
  id: 'js-pytorch',
  label: 'js-pytorch',
  unsupported: { trainConv: 'js-pytorch 0.7.2 has no convolution' },

  async init() {
    ({ torch } = require('js-pytorch'));
    return {};
  },

  matmul(A, B, N) {
    const a = torch.tensor(nested(A, [N, N])), b = torch.tensor(nested(B, [N, N]));
    let c = null;
    return {
      run() {
        c = a.matmul(b);
      },
      read: () => Float64Array.from(c.data.flat()),
    };
  },

  trainMlp(spec) {
    const x = torch.tensor(nested(spec.X, [spec.batch, spec.sizes[0]]));
    const y = torch.tensor(Array.from(spec.labels));
    const params = spec.layers.flatMap(({ nin, nout, W, b }) => [torch.tensor(nested(W, [nin, nout]), true), torch.tensor(Array.from(b), true)]);
    const ce = new torch.nn.CrossEntropyLoss();
    let last = null;
    return {
      step() {
        let h = x;
        for (let l = 0; l < params.length; l += 2) {
          h = h.matmul(params[l]).add(params[l + 1]);
          if (l + 2 < params.length) h = relu(h);
        }
        last = ce.forward(h, y);
        last.backward();
        for (const p of params) {
          p._data = p.add(p._grad.mul(-spec.lr))._data;
          p.zero_grad();
        }
      },
      loss: () => last.data[0],
    };
  },

  /** makemore's MLP, the embedding lookup as a one-hot matmul (as js-pytorch's nn.Embedding does it). */
  trainMakemore(spec) {
    const { batch, block, embed, hidden, vocab, lr } = spec;
    const onehot = torch.tensor(Array.from(spec.X, (id) => Array.from({ length: vocab }, (_, j) => (j === id ? 1 : 0))));
    const y = torch.tensor(Array.from(spec.labels));
    const params = [[spec.C, [vocab, embed]], [spec.W1, [block * embed, hidden]], [spec.b1, [hidden]], [spec.W2, [hidden, vocab]], [spec.b2, [vocab]]].map(([v, shape]) => torch.tensor(nested(v, shape), true));
    const [C, W1, b1, W2, b2] = params;
    const ce = new torch.nn.CrossEntropyLoss();
    let last = null;
    return {
      note: 'embedding as a one-hot matmul',
      step() {
        const emb = onehot.matmul(C).reshape([batch, block * embed]);
        last = ce.forward(tanh(emb.matmul(W1).add(b1)).matmul(W2).add(b2), y);
        last.backward();
        for (const p of params) {
          p._data = p.add(p._grad.mul(-lr))._data;
          p.zero_grad();
        }
      },
      loss: () => last.data[0],
    };
  },

  chain({ ops, x, a, m }) {
    const tx = torch.tensor(Array.from(x), true), ta = torch.tensor(Array.from(a)), tm = torch.tensor(Array.from(m));
    return {
      step() {
        tx.zero_grad();
        let h = tx;
        for (const op of ops) h = op === 'add' ? h.add(ta) : op === 'mul' ? h.mul(tm) : tanh(h);
        h.sum().backward();
      },
      grad: () => tx.grad,
    };
  },
};
