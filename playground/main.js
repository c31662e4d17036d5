// tapegrad playground: trains a small MLP on a 2-D dataset in the page and draws its decision
// boundary and loss curve every frame. All tensor work runs in tapegrad (inside tg.tidy).
import * as tg from 'tapegrad';

const POINTS = 240;      // training points (half per class)
const GRID = 60;         // heatmap resolution (GRID × GRID model evaluations a frame)
const VIEW = 1.6;        // the plane shown is [-VIEW, VIEW]²
const FRAME_BUDGET = 12; // ms of training per animation frame
const MAX_HISTORY = 600; // points kept in the loss chart (thinned as training goes on)
const COLORS = [[232, 135, 30], [43, 108, 176]];

const $ = (id) => document.getElementById(id);

// ── datasets (seeded, so a dataset looks the same every time) ─────────────────────────────────

function rng(seed) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

const DATASETS = {
  moons(i, label, r) {
    const t = Math.PI * r.uniform();
    const [x, y] = label === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    return [0.85 * (x - 0.5 + 0.1 * r.normal()), 0.85 * (y - 0.25 + 0.1 * r.normal())];
  },
  circles(i, label, r) {
    const t = 2 * Math.PI * r.uniform();
    const radius = (label === 0 ? 1.1 : 0.5) + 0.08 * r.normal();
    return [radius * Math.cos(t), radius * Math.sin(t)];
  },
  spirals(i, label, r) {
    const u = i / (POINTS / 2);
    const radius = 0.12 + 1.15 * u;
    const angle = 2.4 * Math.PI * u + label * Math.PI;
    return [radius * Math.cos(angle) + 0.04 * r.normal(), radius * Math.sin(angle) + 0.04 * r.normal()];
  },
  xor(i, label, r) {
    for (;;) {
      const x = 2.6 * r.uniform() - 1.3;
      const y = 2.6 * r.uniform() - 1.3;
      if (Math.abs(x) > 0.08 && Math.abs(y) > 0.08 && (x * y > 0 ? 1 : 0) === label) return [x, y];
    }
  },
};

function makeDataset(name) {
  const r = rng(7);
  const xs = new Float32Array(POINTS * 2);
  const labels = new Int32Array(POINTS);
  for (let i = 0; i < POINTS; i++) {
    const label = i % 2;
    const [x, y] = DATASETS[name](i >> 1, label, r);
    xs[2 * i] = x;
    xs[2 * i + 1] = y;
    labels[i] = label;
  }
  return { xs, labels };
}

// the heatmap's sample points, row by row from the top
const gridPoints = new Float32Array(GRID * GRID * 2);
for (let i = 0; i < GRID; i++) {
  for (let j = 0; j < GRID; j++) {
    gridPoints[2 * (i * GRID + j)] = -VIEW + ((j + 0.5) / GRID) * 2 * VIEW;
    gridPoints[2 * (i * GRID + j) + 1] = VIEW - ((i + 0.5) / GRID) * 2 * VIEW;
  }
}
const grid = tg.keep(tg.tensor(gridPoints, { shape: [GRID * GRID, 2] }));

// ── model and training ────────────────────────────────────────────────────────────────────────

const state = {
  data: null, x: null, model: null, opt: null,
  running: false, step: 0, loss: NaN, accuracy: NaN,
  history: [], stride: 1, rate: 0, rateWindow: [],
};

function settings() {
  return {
    dataset: $('dataset').value,
    depth: Number($('depth').value),
    width: Number($('width').value),
    activation: $('activation').value,
    optimizer: $('optimizer').value,
    lr: Number($('lr').value),
  };
}

function disposeModel() {
  if (state.opt) state.opt.dispose();
  if (state.model) tg.dispose(state.model.parameters());
  state.opt = state.model = null;
}

/** A fresh model (seeded) and optimizer for the current settings; new data if the dataset changed. */
function reset() {
  const s = settings();
  if (!state.data || state.data.name !== s.dataset) {
    if (state.x) state.x.dispose();
    state.data = { name: s.dataset, ...makeDataset(s.dataset) };
    state.x = tg.keep(tg.tensor(state.data.xs, { shape: [POINTS, 2] }));
  }
  disposeModel();
  tg.manualSeed(0);
  state.model = new tg.nn.MLP(2, Array(s.depth).fill(s.width), 2, { activation: s.activation });
  const params = state.model.parameters();
  state.opt = s.optimizer === 'adam' ? new tg.optim.Adam(params, { lr: s.lr }) : new tg.optim.SGD(params, { lr: s.lr, momentum: 0.9 });
  Object.assign(state, { step: 0, loss: NaN, accuracy: NaN, history: [], stride: 1, rate: 0, rateWindow: [] });
  evaluate();
  render();
}

function trainStep() {
  const { model, opt, x, data } = state;
  return tg.tidy(() => {
    opt.zeroGrad();
    const loss = tg.nn.functional.crossEntropy(model.forward(x), data.labels);
    loss.backward();
    opt.step();
    return loss.item();
  });
}

/** Loss and accuracy on the training set, and the class-1 probability over the heatmap grid. */
function evaluate() {
  const { model, x, data } = state;
  const [loss, predicted, probs] = tg.tidy(() => tg.noGrad(() => {
    const logits = model.forward(x);
    return [
      tg.nn.functional.crossEntropy(logits, data.labels).item(),
      logits.argmax(1).data(),
      model.forward(grid).softmax(1).narrow(1, 1, 1).data(),
    ];
  }));
  let correct = 0;
  for (let i = 0; i < POINTS; i++) correct += predicted[i] === data.labels[i] ? 1 : 0;
  state.loss = loss;
  state.accuracy = correct / POINTS;
  state.probs = probs;
}

function recordLoss(loss) {
  if (state.step % state.stride === 0) state.history.push([state.step, loss]);
  if (state.history.length > MAX_HISTORY) {
    state.history = state.history.filter((_, i) => i % 2 === 0);
    state.stride *= 2;
  }
}

function frame(now) {
  if (state.running) {
    const start = performance.now();
    let steps = 0;
    do {
      const loss = trainStep();
      state.step++;
      steps++;
      recordLoss(loss);
      if (!Number.isFinite(loss)) { setRunning(false); break; }
    } while (performance.now() - start < FRAME_BUDGET);
    state.rateWindow.push([now, state.step]);
    while (state.rateWindow.length > 2 && now - state.rateWindow[0][0] > 1000) state.rateWindow.shift();
    const [t0, s0] = state.rateWindow[0];
    if (now > t0) state.rate = ((state.step - s0) * 1000) / (now - t0);
    evaluate();
    render();
  }
  requestAnimationFrame(frame);
}

function setRunning(on) {
  state.running = on;
  state.rateWindow = [];
  $('train').textContent = on ? 'Stop' : 'Train';
  $('train').classList.toggle('running', on);
}

// ── drawing ───────────────────────────────────────────────────────────────────────────────────

const boundary = $('boundary');
const chart = $('chart');
const dpr = Math.min(window.devicePixelRatio || 1, 2);
for (const c of [boundary, chart]) {
  c.width = c.clientWidth * dpr;
  c.height = c.clientHeight * dpr;
}
const heat = document.createElement('canvas');
heat.width = heat.height = GRID;
const heatCtx = heat.getContext('2d');
const heatImage = heatCtx.createImageData(GRID, GRID);

function drawBoundary() {
  const ctx = boundary.getContext('2d');
  const { width: W, height: H } = boundary;
  const px = heatImage.data;
  for (let k = 0; k < GRID * GRID; k++) {
    const p = state.probs[k];
    const [c, t] = p >= 0.5 ? [COLORS[1], 2 * p - 1] : [COLORS[0], 1 - 2 * p];
    const w = 0.15 + 0.55 * t; // how far from white
    for (let ch = 0; ch < 3; ch++) px[4 * k + ch] = Math.round(255 + (c[ch] - 255) * w);
    px[4 * k + 3] = 255;
  }
  heatCtx.putImageData(heatImage, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heat, 0, 0, W, H);

  const { xs, labels } = state.data;
  ctx.lineWidth = 1.2 * dpr;
  ctx.strokeStyle = '#fff';
  for (let i = 0; i < POINTS; i++) {
    const x = ((xs[2 * i] + VIEW) / (2 * VIEW)) * W;
    const y = ((VIEW - xs[2 * i + 1]) / (2 * VIEW)) * H;
    ctx.beginPath();
    ctx.arc(x, y, 4 * dpr, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${COLORS[labels[i]].join(',')})`;
    ctx.fill();
    ctx.stroke();
  }
}

function drawChart() {
  const ctx = chart.getContext('2d');
  const { width: W, height: H } = chart;
  const pad = { left: 44 * dpr, right: 10 * dpr, top: 10 * dpr, bottom: 22 * dpr };
  ctx.clearRect(0, 0, W, H);
  ctx.font = `${11 * dpr}px system-ui, sans-serif`;
  ctx.fillStyle = '#627d98';
  const h = state.history;
  // log-scale loss axis from 0.001 (or lower) to the largest loss seen
  const lo = Math.min(-3, Math.floor(Math.log10(Math.max(1e-6, Math.min(...h.map((p) => p[1]), 1)))));
  const hi = Math.max(0, Math.ceil(Math.log10(Math.max(...h.map((p) => p[1]), 1))));
  const lastStep = Math.max(h.length ? h[h.length - 1][0] : 0, 10);
  const X = (s) => pad.left + (s / lastStep) * (W - pad.left - pad.right);
  const Y = (l) => pad.top + ((hi - Math.log10(Math.max(l, 10 ** lo))) / (hi - lo)) * (H - pad.top - pad.bottom);
  ctx.strokeStyle = '#e4e9f0';
  ctx.lineWidth = dpr;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let e = lo; e <= hi; e++) {
    ctx.beginPath();
    ctx.moveTo(pad.left, Y(10 ** e));
    ctx.lineTo(W - pad.right, Y(10 ** e));
    ctx.stroke();
    ctx.fillText(e >= -2 ? String(Number((10 ** e).toFixed(2))) : `1e${e}`, pad.left - 6 * dpr, Y(10 ** e));
  }
  ctx.textAlign = 'left';
  ctx.textBaseline = 'alphabetic';
  ctx.fillText('loss (log scale)', pad.left + 4 * dpr, H - 6 * dpr);
  ctx.textAlign = 'right';
  ctx.fillText(`step ${state.step}`, W - pad.right, H - 6 * dpr);
  if (h.length < 2) return;
  ctx.strokeStyle = '#2b6cb0';
  ctx.lineWidth = 1.6 * dpr;
  ctx.beginPath();
  h.forEach(([s, l], i) => (i ? ctx.lineTo(X(s), Y(l)) : ctx.moveTo(X(s), Y(l))));
  ctx.stroke();
}

function render() {
  drawBoundary();
  drawChart();
  $('step').textContent = String(state.step);
  $('loss').textContent = !Number.isFinite(state.loss) ? '–' : state.loss < 1e-3 ? state.loss.toExponential(2) : state.loss.toFixed(4);
  $('accuracy').textContent = Number.isFinite(state.accuracy) ? `${(100 * state.accuracy).toFixed(1)}%` : '–';
  $('rate').textContent = state.running && state.rate ? Math.round(state.rate).toLocaleString('en-US') : '–';
  $('tensors').textContent = String(tg.memory().tensors);
}

// ── wiring ────────────────────────────────────────────────────────────────────────────────────

$('build').textContent = tg.build;
$('train').addEventListener('click', () => setRunning(!state.running));
$('reset').addEventListener('click', reset);
for (const id of ['dataset', 'depth', 'width', 'activation', 'optimizer', 'lr']) {
  $(id).addEventListener('input', () => {
    $('depth-value').textContent = $('depth').value;
    reset();
  });
}

// read by the browser test (and handy from the console)
window.playground = {
  get running() { return state.running; },
  get step() { return state.step; },
  get loss() { return state.loss; },
  get accuracy() { return state.accuracy; },
  get stepsPerSecond() { return state.rate; },
  build: tg.build,
};

reset();
requestAnimationFrame(frame);
