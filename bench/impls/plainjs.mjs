// Plain JavaScript: a Float32Array triple-loop matmul, and the micrograd port for the scalar demo.
import { Value, MLP, demoStep } from '../micrograd.mjs';
import { rng } from '../lib/data.mjs';

export default {
  id: 'plainjs',
  label: 'plain JS',
  async init() {},

  /** C = A·B, f32 storage, i-k-j loop order (the usual cache-friendly plain JS matmul). */
  matmul(A, B, N) {
    const C = new Float32Array(N * N);
    return {
      run() {
        C.fill(0);
        for (let i = 0; i < N; i++) {
          const ci = i * N;
          for (let k = 0; k < N; k++) {
            const a = A[ci + k], bk = k * N;
            for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
          }
        }
      },
      read: () => C,
    };
  },

  /** micrograd's demo: MLP(2, [16, 16, 1]) on 100 moons, one optimization step per call. */
  micrograd({ X, y, nin, nouts, seed }) {
    const model = new MLP(nin, nouts, { random: rng(seed) });
    let k = 0;
    const handle = {
      nodesPerStep: 0,
      step() {
        const before = Value.count;
        const r = demoStep(model, X, y, k++ % 100);
        handle.nodesPerStep = Value.count - before;
        return r;
      },
    };
    return handle;
  },
};
