// Polynomial regression with SGD: fit y = w0 + w1·x + w2·x² to noisy samples of a known
// quadratic and print the fitted coefficients beside the true ones. Shows tensors with
// requiresGrad, a loss built from ops, backward() and an optimizer over plain tensors.
//
//   node examples/regression.mjs              # 500 steps
//   node examples/regression.mjs --steps 50   # fewer (CI smoke run)
import * as tg from 'tapegrad';
import { intOption } from './util.mjs';

const STEPS = intOption('steps', 500);
const TRUE = [0.5, -2, 1.5]; // w0, w1, w2
const N = 200;

tg.manualSeed(0);
// features [1, x, x²] for x uniform in [-1, 1], targets from TRUE plus Gaussian noise (σ 0.05)
const x = tg.keep(tg.rand([N, 1]).mul(2).sub(1));
const features = tg.keep(tg.cat([tg.ones([N, 1]), x, x.square()], 1)); // [N, 3]
const y = tg.keep(tg.tidy(() => features.matmul(tg.tensor(TRUE).reshape([3, 1])).add(tg.randn([N, 1]).mul(0.05))));

const w = tg.zeros([3, 1], { requiresGrad: true });
const opt = new tg.optim.SGD([w], { lr: 0.2, momentum: 0.9 });
const mse = () => tg.nn.functional.mseLoss(features.matmul(w), y);
for (let step = 0; step < STEPS; step++) {
  const loss = tg.tidy(() => {
    opt.zeroGrad();
    const loss = mse();
    loss.backward();
    opt.step();
    return loss.item();
  });
  if (step % 100 === 0) console.log(`step ${step} loss ${loss.toFixed(6)}`);
}
console.log(`step ${STEPS} loss ${tg.tidy(() => mse().item()).toFixed(6)}`);

const fitted = w.data();
console.log('coefficient  true     fitted');
TRUE.forEach((t, i) => console.log(`w${i}           ${t.toFixed(4).padStart(7)}  ${fitted[i].toFixed(4).padStart(7)}`));
console.log(`fitted ${JSON.stringify(Array.from(fitted, (v) => +v.toFixed(6)))}`);

