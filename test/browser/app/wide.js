// The threaded training run the browser test compares: a 256→256→10 tanh MLP on a batch of 64, wide
// enough that its matmuls split over the thread pool (gemm splits from 2^19 multiply-adds; the first
// layer has 64·256·256 = 2^22). Like mlp.js it takes the tapegrad module as an argument and is fixed
// by tg.manualSeed(0).

import { trainTanhMLP } from './mlp.js';

export const WIDE_STEPS = 10;

/** Trains the wide MLP for `steps` SGD steps (full batch) on seeded data; returns the losses and the build. */
export function trainWide(tg, steps = WIDE_STEPS) {
  tg.manualSeed(0);
  const x = tg.keep(tg.randn([64, 256]));
  const labels = Int32Array.from({ length: 64 }, (_, i) => i % 10);
  return trainTanhMLP(tg, x, labels, [256, [256], 10], 0.05, steps);
}
