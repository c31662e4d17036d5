// The threaded training run the browser test compares: a 256→256→10 tanh MLP on a batch of 64, wide
// enough that its matmuls split over the thread pool (gemm splits from 2^19 multiply-adds; the first
// layer has 64·256·256 = 2^22). Like mlp.js it takes the tapegrad module as an argument and is fixed
// by tg.manualSeed(0).

export const WIDE_STEPS = 10;

/** Trains the wide MLP for `steps` SGD steps (full batch) on seeded data; returns the losses and the build. */
export function trainWide(tg, steps = WIDE_STEPS) {
  tg.manualSeed(0);
  const x = tg.keep(tg.randn([64, 256]));
  const labels = Int32Array.from({ length: 64 }, (_, i) => i % 10);
  const model = new tg.nn.MLP(256, [256], 10, { activation: 'tanh' });
  const opt = new tg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
  const losses = [];
  for (let i = 0; i < steps; i++) {
    losses.push(tg.tidy(() => {
      opt.zeroGrad();
      const loss = tg.nn.functional.crossEntropy(model.forward(x), labels);
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  opt.dispose();
  tg.dispose([x, ...model.parameters()]);
  return { build: tg.build, losses };
}
