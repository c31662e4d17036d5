// micrograd's demo (karpathy/micrograd, demo.ipynb) with tensors: MLP(2, [16, 16, 1]) on 100
// two-moons points, max-margin loss + L2 regularisation, SGD with a decaying learning rate.
import * as tg from '../dist/index.js';
import { makeMoons } from './data.mjs';
import { el, plotFrame, svgDocument, writeSvg } from './svg.mjs';

const STEPS = 100;
const ALPHA = 1e-4; // L2 regularisation strength

/** micrograd's initialisation: weights U(−1, 1), biases 0 (PyTorch's default bound 1/√in trains less reliably here). */
function microgradInit(model) {
  tg.noGrad(() => tg.tidy(() => {
    const values = {};
    for (const [name, p] of model.namedParameters()) {
      values[name] = name.endsWith('bias') ? tg.zeros(p.shape) : tg.rand(p.shape).mul(2).sub(1);
    }
    model.loadStateDict(values);
  }));
}

export function runMoons({ seed, outDir, log }) {
  tg.manualSeed(seed);
  const { points, labels } = makeMoons(100, 0.1, seed);
  const n = points.length;
  const x = tg.tensor(points); // [100, 2]
  const y = tg.tensor(labels, { shape: [n, 1] }); // ±1
  const model = new tg.nn.MLP(2, [16, 16], 1); // Linear → ReLU → Linear → ReLU → Linear
  microgradInit(model);
  const params = model.parameters();
  const optimizer = new tg.optim.SGD(params, { lr: 1 });
  log(`100 points, labels ±1; ${params.reduce((s, p) => s + p.size, 0)} parameters (micrograd's init: U(−1, 1) weights, zero biases)`);

  let accuracy = 0;
  const start = performance.now();
  for (let k = 0; k < STEPS; k++) {
    const loss = tg.tidy(() => {
      const scores = model.forward(x); // [100, 1]
      const dataLoss = tg.sub(1, y.mul(scores)).relu().mean(); // max-margin (hinge) loss
      const regLoss = params.map((p) => p.mul(p).sum()).reduce((a, b) => a.add(b)).mul(ALPHA);
      const total = dataLoss.add(regLoss);
      optimizer.zeroGrad();
      total.backward();
      optimizer.lr = 1 - (0.9 * k) / STEPS;
      optimizer.step();
      const s = scores.data();
      accuracy = labels.filter((label, i) => label > 0 === s[i] > 0).length / n;
      return total.item();
    });
    if (k % 10 === 0 || k === STEPS - 1) log(`step ${String(k).padStart(3)}  loss ${loss.toFixed(4)}  accuracy ${(accuracy * 100).toFixed(0)}%`);
  }

  const msPerStep = (performance.now() - start) / STEPS;
  log(`${STEPS} steps, ${msPerStep.toFixed(2)} ms per step (forward, backward and update on the whole batch)`);
  const file = writeSvg(outDir, 'moons-decision-boundary.svg', decisionBoundarySvg(model, points, labels));
  tg.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  return { accuracy, file };
}

/** The model's score on a grid (red < 0 < blue, deeper with |score|) with the points on top. */
function decisionBoundarySvg(model, points, labels) {
  const [x0, x1, y0, y1] = [-1.5, 2.5, -1, 1.5];
  const cols = 100, rows = 62;
  const [dx, dy] = [(x1 - x0) / cols, (y1 - y0) / rows];
  const grid = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) grid.push([x0 + (c + 0.5) * dx, y0 + (r + 0.5) * dy]);
  const scores = tg.noGrad(() => tg.tidy(() => model.forward(tg.tensor(grid)).data()));

  const { sx, sy, chrome } = plotFrame({ width: 640, height: 460, x: [x0, x1], y: [y0, y1], title: 'micrograd demo: decision boundary of MLP(2, [16, 16, 1])', xLabel: 'x₁', yLabel: 'x₂' });
  // Colour by sign, deeper with |score| (in 8 steps); runs of equal colour in a row become one rect.
  const shade = (s) => {
    const t = 0.25 + 0.06 * Math.min(7, Math.floor(Math.abs(s) * 4));
    const mix = (a, b) => Math.round(a + (b - a) * t);
    return s > 0 ? `rgb(${mix(255, 60)},${mix(255, 110)},${mix(255, 220)})` : `rgb(${mix(255, 220)},${mix(255, 70)},${mix(255, 60)})`;
  };
  const cells = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols;) {
      const fill = shade(scores[r * cols + c]);
      let end = c + 1;
      while (end < cols && shade(scores[r * cols + end]) === fill) end++;
      const [gx, gy] = grid[r * cols + c];
      cells.push(el('rect', { x: sx(gx - dx / 2), y: sy(gy + dy / 2), width: sx(dx * (end - c)) - sx(0) + 0.5, height: sy(0) - sy(dy) + 0.5, fill }));
      c = end;
    }
  }
  const dots = points.map(([px, py], i) => el('circle', {
    cx: sx(px), cy: sy(py), r: 4, fill: labels[i] > 0 ? '#1f4fbf' : '#bf2f1f', stroke: 'white', 'stroke-width': 1,
  }));
  return svgDocument(640, 460, el('g', { 'shape-rendering': 'crispEdges' }, cells), dots, chrome);
}
