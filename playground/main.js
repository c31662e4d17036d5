// tapegrad playground: the page. A module Web Worker (train-worker.js) trains a small MLP on a
// 2-D dataset; the page sends it the settings and Train/Stop, receives snapshots (losses, the
// heatmap of the decision boundary) and draws the latest one each animation frame, so its main
// thread never runs a training step.
import { GRID, POINTS, VIEW, makeDataset } from './data.js';

const MAX_HISTORY = 600; // points kept in the loss chart (thinned as training goes on)
const COLORS = [[232, 135, 30], [43, 108, 176]];

const $ = (id) => document.getElementById(id);

const state = {
  data: null, probs: null, running: false, step: 0, loss: NaN, accuracy: NaN, tensors: NaN,
  history: [], stride: 1, rate: 0, rateWindow: [], dirty: false, build: '…', isolated: false, threads: NaN,
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

// ── the worker ────────────────────────────────────────────────────────────────────────────────

const worker = new Worker(new URL('./train-worker.js', import.meta.url), { type: 'module' });

function recordLoss(step, loss) {
  if (step % state.stride === 0) state.history.push([step, loss]);
  if (state.history.length > MAX_HISTORY) {
    state.history = state.history.filter((_, i) => i % 2 === 0);
    state.stride *= 2;
  }
}

/** Takes in a snapshot (drawn at the next animation frame). */
function receive(m) {
  if (m.fresh) {
    $('error').hidden = true;
    if (state.data?.name !== m.dataset) state.data = { name: m.dataset, ...makeDataset(m.dataset) };
    Object.assign(state, { history: [], stride: 1, rate: 0, rateWindow: [] });
  }
  m.losses.forEach((loss, i) => recordLoss(m.step - m.losses.length + i + 1, loss));
  Object.assign(state, { step: m.step, loss: m.loss, accuracy: m.accuracy, probs: m.probs, tensors: m.tensors, dirty: true });
  if (state.running) {
    const now = performance.now();
    state.rateWindow.push([now, m.step]);
    while (state.rateWindow.length > 2 && now - state.rateWindow[0][0] > 1000) state.rateWindow.shift();
    const [t0, s0] = state.rateWindow[0];
    if (now > t0) state.rate = ((m.step - s0) * 1000) / (now - t0);
  }
  if (m.diverged) setRunning(false); // the worker stopped: the loss is not finite
}

function fail(message) {
  setRunning(false);
  $('error').textContent = `The training worker failed: ${message}`;
  $('error').hidden = false;
}

worker.onmessage = ({ data: m }) => {
  if (m.type === 'snapshot') receive(m);
  else if (m.type === 'error') fail(m.message);
  else if (m.type === 'ready') {
    Object.assign(state, { build: m.build, isolated: m.isolated, threads: m.threads });
    $('build').textContent = m.build;
    $('isolated').textContent = m.isolated ? 'yes' : 'no';
    $('threads').textContent = m.threads;
  }
};
worker.onerror = (e) => {
  e.preventDefault();
  fail(e.message || 'it could not start (see the console)');
};
worker.onmessageerror = () => fail('a message could not be read');

function reset() {
  worker.postMessage({ type: 'reset', settings: settings() });
}

function setRunning(on) {
  if (on === state.running) return;
  state.running = on;
  state.rateWindow = [];
  worker.postMessage({ type: 'run', on });
  $('train').textContent = on ? 'Stop' : 'Train';
  $('train').classList.toggle('running', on);
}

function frame() {
  if (state.dirty) {
    state.dirty = false;
    render();
    worker.postMessage({ type: 'draw' });
  }
  requestAnimationFrame(frame);
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
  $('tensors').textContent = String(state.tensors);
}

// ── wiring ────────────────────────────────────────────────────────────────────────────────────

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
  get tensors() { return state.tensors; },
  get build() { return state.build; },
  get crossOriginIsolated() { return state.isolated; },
  get threads() { return state.threads; },
};

reset();
requestAnimationFrame(frame);
