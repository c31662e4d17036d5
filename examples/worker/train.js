// The training the worker runs: a 2→16→16→2 tanh MLP learning the XOR of two coordinates' signs,
// Adam, full batch. Plain tapegrad with no DOM or worker API, so Node can run it too:
//   node -e "import('./examples/worker/train.js').then(m => console.log(m.train(5, console.log)))"
import * as tg from 'tapegrad';

/** Trains for `steps` steps, calling `onLoss(step, loss)` after each; returns tg.build. */
export function train(steps, onLoss) {
  tg.manualSeed(0);
  const x = tg.keep(tg.randn([128, 2]));
  const xy = x.data();
  const labels = Int32Array.from({ length: 128 }, (_, i) => (xy[2 * i] * xy[2 * i + 1] > 0 ? 1 : 0));
  const model = new tg.nn.MLP(2, [16, 16], 2, { activation: 'tanh' });
  const opt = new tg.optim.Adam(model.parameters(), { lr: 0.03 });
  for (let step = 0; step < steps; step++) {
    onLoss(step, tg.tidy(() => {
      opt.zeroGrad();
      const loss = tg.nn.functional.crossEntropy(model.forward(x), labels);
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  opt.dispose();
  tg.dispose([x, ...model.parameters()]);
  return tg.build;
}
