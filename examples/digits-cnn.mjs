// A small CNN on the 8×8 handwritten digits shipped in data/digits.csv.gz (UCI, CC BY 4.0):
// Conv2d → ReLU → MaxPool2d → Conv2d → ReLU → Flatten → Linear, trained with Adam and
// cross-entropy on minibatches, then scored on a held-out 20%. Shows nn.Sequential, tg.tidy per
// step (memory stays flat), model.eval() and tg.noGrad for evaluation.
//
//   node examples/digits-cnn.mjs              # 600 steps of 32 images (about 17 epochs)
//   node examples/digits-cnn.mjs --steps 30   # fewer (CI smoke run)
import * as tg from 'tapegrad';
import { loadDigits, seededRandom, trainTestSplit } from '../demo/data.mjs';
import { intOption } from './util.mjs';

const { nn } = tg;
const STEPS = intOption('steps', 600);
const BATCH = 32;

tg.manualSeed(0);
const { train, test } = trainTestSplit(loadDigits(), 0.2, 0);
console.log(`${train.count} training images, ${test.count} held out`);

/** Rows `rows` of a set as an image batch [n, 1, 8, 8] and its labels. */
function batch(set, rows) {
  const pixels = new Float32Array(rows.length * 64);
  rows.forEach((k, i) => pixels.set(set.pixels.subarray(k * 64, k * 64 + 64), i * 64));
  return { x: tg.tensor(pixels, { shape: [rows.length, 1, 8, 8] }), labels: Int32Array.from(rows, (k) => set.labels[k]) };
}

const model = new nn.Sequential(
  new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 16×4×4
  new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), //   512
  new nn.Linear(32 * 4 * 4, 10),
);
const opt = new tg.optim.Adam(model.parameters(), { lr: 1e-2 });
console.log(`${model.parameters().reduce((n, p) => n + p.size, 0)} parameters`);

const rng = seededRandom(1);
let order = [];
for (let step = 0; step < STEPS; step++) {
  if (order.length < BATCH) order = rng.permutation(train.count); // a new epoch, freshly shuffled
  const rows = order.splice(0, BATCH);
  const loss = tg.tidy(() => {
    const { x, labels } = batch(train, rows);
    opt.zeroGrad();
    const loss = nn.functional.crossEntropy(model.forward(x), labels);
    loss.backward();
    opt.step();
    return loss.item();
  });
  if (step % 50 === 0 || step === STEPS - 1) console.log(`step ${step} loss ${loss.toFixed(4)}`);
}

model.eval();
const predictions = tg.noGrad(() => tg.tidy(() => {
  const { x } = batch(test, Array.from({ length: test.count }, (_, i) => i));
  return tg.argmax(model.forward(x), 1).data();
}));
const correct = predictions.reduce((n, p, i) => n + (p === test.labels[i] ? 1 : 0), 0);
console.log(`held-out accuracy ${(100 * correct / test.count).toFixed(2)}% (${correct}/${test.count})`);
console.log(`predictions ${Array.from(predictions.slice(0, 20)).join(' ')}`);
console.log(`labels      ${Array.from(test.labels.slice(0, 20)).join(' ')}`);
