// The fixed MLP training run every platform test compares (Chromium through the bundlers, and each
// JavaScript runtime): it takes the tapegrad module as an argument, so ESM, CommonJS and bundled
// callers all run this one file. Everything is fixed by tg.manualSeed(0).

export const STEPS = 20;

/** Trains a 2→16→16→2 tanh MLP for `steps` SGD steps (full batch) on seeded data; returns the losses and the build. */
export function trainMLP(tg, steps = STEPS) {
  tg.manualSeed(0);
  // 64 points from the seeded generator, labelled by the XOR of their signs.
  const x = tg.keep(tg.randn([64, 2]));
  const xy = x.data();
  const labels = Int32Array.from({ length: 64 }, (_, i) => (xy[2 * i] * xy[2 * i + 1] > 0 ? 1 : 0));

  return trainTanhMLP(tg, x, labels, [2, [16, 16], 2], 0.5, steps);
}

/**
 * Trains a tanh MLP of `sizes` ([in, hidden, out]) on x and labels for `steps` SGD steps (full
 * batch, momentum 0.9, rate `lr`), then frees it all; returns the losses and the build.
 */
export function trainTanhMLP(tg, x, labels, [nin, hidden, nout], lr, steps) {
  const model = new tg.nn.MLP(nin, hidden, nout, { activation: 'tanh' });
  const opt = new tg.optim.SGD(model.parameters(), { lr, momentum: 0.9 });
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
