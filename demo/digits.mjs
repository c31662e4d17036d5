// 8×8 handwritten digits: an MLP and a small CNN trained with Adam and cross-entropy on a fixed
// 80/20 split, then evaluated on the held-out 20%.
import * as tg from '../dist/index.js';
import { loadDigits, seededRandom, trainTestSplit } from './data.mjs';
import { el, plotFrame, svgDocument, text, writeSvg } from './svg.mjs';

const { nn } = tg;
const EPOCHS = 20;
const BATCH = 32;
const LR = 1e-2;

/** A batch of rows of `set` as a tensor of `inputShape` (without the batch dim) and its labels. */
function batch(set, rows, inputShape) {
  const pixels = new Float32Array(rows.length * 64);
  const labels = new Int32Array(rows.length);
  rows.forEach((k, i) => {
    pixels.set(set.pixels.subarray(k * 64, k * 64 + 64), i * 64);
    labels[i] = set.labels[k];
  });
  return { x: tg.tensor(pixels, { shape: [rows.length, ...inputShape] }), labels };
}

/** How many of `logits`' argmax predictions equal `labels`. */
function countCorrect(logits, labels) {
  const predictions = tg.argmax(logits, 1).data();
  return labels.reduce((n, label, i) => n + (predictions[i] === label ? 1 : 0), 0);
}

/**
 * The training loop both models use: minibatches in a fresh seeded order each epoch, one Adam
 * step per batch inside tg.tidy (so memory stays flat), a cosine learning-rate decay per epoch,
 * and a progress line per epoch. Returns the loss of every step and the held-out accuracy.
 */
function fit(name, model, { train, test }, { inputShape, seed, log }) {
  const optimizer = new tg.optim.Adam(model.parameters(), { lr: LR });
  const schedule = new tg.optim.CosineAnnealingLR(optimizer, { tMax: EPOCHS });
  const rng = seededRandom(seed);
  const losses = [];
  model.train();
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    const start = performance.now();
    const order = rng.permutation(train.count);
    let lossSum = 0, correct = 0, steps = 0;
    for (let b = 0; b < train.count; b += BATCH) {
      const rows = order.slice(b, b + BATCH);
      const loss = tg.tidy(() => {
        const { x, labels } = batch(train, rows, inputShape);
        const logits = model.forward(x);
        const loss = nn.functional.crossEntropy(logits, labels);
        optimizer.zeroGrad();
        loss.backward();
        optimizer.step();
        correct += countCorrect(logits, labels);
        return loss.item();
      });
      losses.push(loss);
      lossSum += loss * rows.length;
      steps++;
    }
    schedule.step();
    const seconds = (performance.now() - start) / 1000;
    log(`${name}  epoch ${String(epoch).padStart(2)}/${EPOCHS}  loss ${(lossSum / train.count).toFixed(4)}  ` +
      `train accuracy ${((100 * correct) / train.count).toFixed(1)}%  ${Math.round(steps / seconds)} steps/s`);
  }
  model.eval();
  const testAccuracy = tg.noGrad(() => tg.tidy(() => {
    const { x, labels } = batch(test, Array.from({ length: test.count }, (_, i) => i), inputShape);
    return countCorrect(model.forward(x), labels) / test.count;
  }));
  log(`${name}  held-out accuracy ${(100 * testAccuracy).toFixed(2)}% (${Math.round(testAccuracy * test.count)}/${test.count})`);
  optimizer.dispose();
  return { losses, testAccuracy };
}

export function runDigits({ seed, outDir, log }) {
  const split = trainTestSplit(loadDigits(), 0.2, seed);
  log(`${split.train.count + split.test.count} images of 8×8 pixels: ${split.train.count} to train, ${split.test.count} held out`);

  tg.manualSeed(seed);
  const mlp = new nn.MLP(64, [128, 64], 10);
  const cnn = new nn.Sequential(
    new nn.Conv2d(1, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), // 16×4×4
    new nn.Conv2d(16, 32, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), // 512
    new nn.Linear(32 * 4 * 4, 10),
  );
  const results = {};
  for (const [name, model, inputShape] of [['MLP', mlp, [64]], ['CNN', cnn, [1, 8, 8]]]) {
    const size = model.parameters().reduce((s, p) => s + p.size, 0);
    log(`${name}: ${size} parameters, Adam lr ${LR} (cosine decay), batch ${BATCH}, ${EPOCHS} epochs`);
    results[name] = fit(name, model, split, { inputShape, seed: seed + 1, log });
    model.dispose();
  }
  const file = writeSvg(outDir, 'digits-loss-curves.svg', lossCurvesSvg(results));
  return { mlp: results.MLP.testAccuracy, cnn: results.CNN.testAccuracy, file };
}

/** Training loss per step for each model (log scale), with a moving average over an epoch. */
function lossCurvesSvg(results) {
  const colors = { MLP: '#d9480f', CNN: '#1c7ed6' };
  const all = Object.values(results).flatMap((r) => r.losses);
  const steps = Math.max(...Object.values(results).map((r) => r.losses.length));
  const { sx, sy, area, chrome } = plotFrame({
    width: 720, height: 420, x: [0, steps], y: [Math.max(1e-5, Math.min(...all)), Math.max(...all)], logY: true,
    title: 'digits: training loss (cross-entropy) per step', xLabel: 'step', yLabel: 'loss (log scale)',
  });
  const window = Math.ceil(steps / EPOCHS);
  const path = (values) => values.map((v, i) => `${i ? 'L' : 'M'}${sx(i).toFixed(1)},${sy(Math.max(v, 1e-5)).toFixed(1)}`).join('');
  const smooth = (values) => values.map((_, i) => {
    const from = Math.max(0, i - window + 1);
    return values.slice(from, i + 1).reduce((a, b) => a + b, 0) / (i + 1 - from);
  });
  const curves = Object.entries(results).map(([name, { losses, testAccuracy }], k) => [
    el('path', { d: path(losses), fill: 'none', stroke: colors[name], 'stroke-width': 1, 'stroke-opacity': 0.3 }),
    el('path', { d: path(smooth(losses)), fill: 'none', stroke: colors[name], 'stroke-width': 2 }),
    el('line', { x1: area.x + area.w - 230, x2: area.x + area.w - 206, y1: area.y + 18 + 18 * k, y2: area.y + 18 + 18 * k, stroke: colors[name], 'stroke-width': 2 }),
    text(area.x + area.w - 200, area.y + 22 + 18 * k, `${name} (held-out accuracy ${(100 * testAccuracy).toFixed(1)}%)`),
  ]);
  return svgDocument(720, 420, el('g', { 'clip-path': 'url(#plot)' }, curves.map((c) => c.slice(0, 2))),
    el('clipPath', { id: 'plot' }, el('rect', { x: area.x, y: area.y, width: area.w, height: area.h })),
    curves.map((c) => c.slice(2)), chrome);
}
