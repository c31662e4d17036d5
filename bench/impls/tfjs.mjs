// TensorFlow.js 4.22 on its CPU backend or its WebAssembly backend (XNNPACK, SIMD, one thread).
// tfjs-core alone has no gradient definitions: requiring @tensorflow/tfjs registers them.
import { createRequire } from 'node:module';
import path from 'node:path';
import { Unavailable } from '../lib/harness.mjs';

const require = createRequire(import.meta.url);

export function tfjs(backend) {
  let tf;

  /**
   * A training step by optimizer.minimize inside tidy; `forward(tf)` returns the logits. A kernel
   * the backend lacks (a gradient, mostly) makes the workload n/a ("cannot train <kind>").
   */
  function trainer(params, forward, { kind, labels, classes, lr }) {
    const vars = params.map((p) => tf.variable(p));
    const onehot = tf.oneHot(tf.tensor1d(labels, 'int32'), classes);
    const opt = tf.train.sgd(lr);
    const lossFn = () => tf.losses.softmaxCrossEntropy(onehot, forward(vars));
    let last = null;
    return {
      step() {
        let cost;
        try {
          cost = tf.tidy(() => opt.minimize(lossFn, true, vars));
        } catch (e) {
          if (/not registered for backend/.test(e.message)) throw new Unavailable(`cannot train ${kind}: ${e.message}`);
          throw e;
        }
        last?.dispose();
        last = cost;
      },
      loss: () => last.dataSync()[0],
    };
  }

  return {
    id: `tfjs-${backend}`,
    label: `tfjs-${backend}`,

    async init() {
      tf = require('@tensorflow/tfjs');
      require('@tensorflow/tfjs-backend-cpu');
      if (backend === 'wasm') {
        const wasm = require('@tensorflow/tfjs-backend-wasm');
        wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep);
        wasm.setThreadsCount(1);
      }
      if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
      await tf.ready();
      return { version: tf.version.tfjs };
    },

    memoryStats() {
      const m = tf.memory();
      const stats = { tensors: m.numTensors, tensorBytes: m.numBytes };
      if (backend === 'wasm') stats.wasmBytes = tf.backend().wasm.HEAPU8.buffer.byteLength;
      return stats;
    },

    matmul(A, B, N) {
      const a = tf.tensor2d(A, [N, N]), b = tf.tensor2d(B, [N, N]);
      let c = null;
      return {
        run() {
          c?.dispose();
          c = tf.matMul(a, b);
        },
        read: () => c.dataSync(),
        dispose: () => tf.dispose([a, b, c]),
      };
    },

    trainMlp(spec) {
      const x = tf.tensor2d(spec.X, [spec.batch, spec.sizes[0]]);
      const params = spec.layers.flatMap(({ nin, nout, W, b }) => [tf.tensor2d(W, [nin, nout]), tf.tensor1d(b)]);
      return trainer(params, (v) => {
        let h = x;
        for (let l = 0; l < v.length; l += 2) {
          h = tf.add(tf.matMul(h, v[l]), v[l + 1]);
          if (l + 2 < v.length) h = tf.relu(h);
        }
        return h;
      }, spec);
    },

    trainConv(spec) {
      const { batch, height: H, width: W, convs, fc } = spec;
      // NHWC (the layout tfjs convolutions support); kernels [kh, kw, Cin, Cout]
      const x = tf.tidy(() => tf.transpose(tf.tensor4d(spec.X, [batch, 1, H, W]), [0, 2, 3, 1]));
      const params = [
        ...convs.flatMap(({ cin, cout, W: k, b }) => [tf.tidy(() => tf.transpose(tf.tensor4d(k, [cout, cin, 3, 3]), [2, 3, 1, 0])), tf.tensor1d(b)]),
        tf.tensor2d(fc.W, [fc.nin, fc.nout]),
        tf.tensor1d(fc.b),
      ];
      return trainer(params, ([k1, b1, k2, b2, w, b]) => {
        let h = tf.relu(tf.add(tf.conv2d(x, k1, 1, 'same'), b1));
        h = tf.relu(tf.add(tf.conv2d(h, k2, 1, 'same'), b2));
        h = tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, fc.nin]); // flatten in (C, H, W) order
        return tf.add(tf.matMul(h, w), b);
      }, spec);
    },

    trainMakemore(spec) {
      const { batch, block, embed, hidden, vocab } = spec;
      const X = tf.tensor1d(spec.X, 'int32');
      const params = [tf.tensor2d(spec.C, [vocab, embed]), tf.tensor2d(spec.W1, [block * embed, hidden]), tf.tensor1d(spec.b1), tf.tensor2d(spec.W2, [hidden, vocab]), tf.tensor1d(spec.b2)];
      return trainer(params, ([C, W1, b1, W2, b2]) => {
        const h = tf.tanh(tf.add(tf.matMul(tf.reshape(tf.gather(C, X), [batch, block * embed]), W1), b1));
        return tf.add(tf.matMul(h, W2), b2);
      }, spec);
    },

    /** tf.layers.lstm (batch-first: x and targets transposed once) with sigmoid gates, a dense head, MSE, Adam. */
    trainLstm({ T, B, I, H, lr, W_ih, W_hh, b_ih, b_hh, headW, headB, X, Y }) {
      const x = tf.tidy(() => tf.transpose(tf.tensor3d(X, [T, B, I]), [1, 0, 2]));
      const y = tf.tidy(() => tf.transpose(tf.tensor3d(Y, [T, B, 1]), [1, 0, 2]));
      const lstm = tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: 'sigmoid', inputShape: [T, I] });
      const head = tf.layers.dense({ units: 1 });
      tf.tidy(() => head.apply(lstm.apply(x)));
      // Keras keeps kernels [in, 4H] with the gates in PyTorch's order (i f c o) and one bias
      tf.tidy(() => {
        lstm.setWeights([tf.transpose(tf.tensor2d(W_ih, [4 * H, I])), tf.transpose(tf.tensor2d(W_hh, [4 * H, H])), tf.add(tf.tensor1d(b_ih), tf.tensor1d(b_hh))]);
        head.setWeights([tf.tensor2d(headW, [H, 1]), tf.tensor1d(headB)]);
      });
      const opt = tf.train.adam(lr);
      const vars = [...lstm.trainableWeights, ...head.trainableWeights].map((w) => w.read());
      let last = null;
      return {
        step() {
          const cost = tf.tidy(() => opt.minimize(() => tf.losses.meanSquaredError(y, head.apply(lstm.apply(x))), true, vars));
          last?.dispose();
          last = cost;
        },
        loss: () => last.dataSync()[0],
      };
    },

    chain({ ops, x, a, m }) {
      const [tx, ta, tm] = [x, a, m].map((v) => tf.tensor1d(v));
      const f = (h) => {
        for (const op of ops) h = op === 'add' ? tf.add(h, ta) : op === 'mul' ? tf.mul(h, tm) : tf.tanh(h);
        return tf.sum(h);
      };
      const gradFn = tf.grad(f);
      let g = null;
      return {
        step() {
          g?.dispose();
          g = tf.tidy(() => gradFn(tx));
        },
        grad: () => g.dataSync(),
      };
    },
  };
}
