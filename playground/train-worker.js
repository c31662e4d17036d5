// The playground's trainer, in a module Web Worker so the page's main thread only draws. It
// trains in slices of SLICE_MS, yielding between slices so commands from the page arrive.
//
//   page → worker  { type: 'reset', settings }  new model (and data when the dataset changes)
//                  { type: 'run', on }          start or stop training
//                  { type: 'draw' }             the page drew the last snapshot: send the next
//   worker → page  { type: 'ready', build, isolated, threads }
//                  { type: 'snapshot', … }      see snapshot(); probs and losses are transferred
//                  { type: 'error', message }
// A snapshot is sent only when the page asked for one (or at a reset or stop), so a slow page
// never queues them up and the worker never evaluates a heatmap nobody draws.
import * as tg from 'tapegrad';
import { GRID, POINTS, gridPoints, makeDataset } from './data.js';

const SLICE_MS = 8; // training between two looks at the message queue (a Stop waits at most this)

const grid = tg.keep(tg.tensor(gridPoints(), { shape: [GRID * GRID, 2] }));
const state = { dataset: null, x: null, labels: null, model: null, opt: null, running: false, step: 0, losses: [], wanted: true };

/**
 * A fresh model (seeded) and optimizer for the settings `s`, new data if the dataset changed.
 * Bad settings throw and leave the current model as it was.
 */
function reset(s) {
  tg.manualSeed(0);
  const model = new tg.nn.MLP(2, Array(s.depth).fill(s.width), 2, { activation: s.activation });
  const params = model.parameters();
  const opt = s.optimizer === 'adam' ? new tg.optim.Adam(params, { lr: s.lr }) : new tg.optim.SGD(params, { lr: s.lr, momentum: 0.9 });
  if (state.opt) state.opt.dispose();
  if (state.model) tg.dispose(state.model.parameters());
  if (state.dataset !== s.dataset) {
    const { xs, labels } = makeDataset(s.dataset);
    if (state.x) state.x.dispose();
    Object.assign(state, { dataset: s.dataset, labels, x: tg.keep(tg.tensor(xs, { shape: [POINTS, 2] })) });
  }
  Object.assign(state, { model, opt, step: 0, losses: [] });
}

function trainStep() {
  const { model, opt, x, labels } = state;
  return tg.tidy(() => {
    opt.zeroGrad();
    const loss = tg.nn.functional.crossEntropy(model.forward(x), labels);
    loss.backward();
    opt.step();
    return loss.item();
  });
}

/**
 * Posts the state: loss and accuracy on the training set, the class-1 probability over the
 * heatmap grid, and the training losses since the last snapshot.
 */
function snapshot({ fresh = false, diverged = false } = {}) {
  const { model, x, labels } = state;
  const [loss, predicted, probs] = tg.tidy(() => tg.noGrad(() => {
    const logits = model.forward(x);
    return [
      tg.nn.functional.crossEntropy(logits, labels).item(),
      logits.argmax(1).data(),
      model.forward(grid).softmax(1).narrow(1, 1, 1).data(),
    ];
  }));
  let correct = 0;
  for (let i = 0; i < POINTS; i++) correct += predicted[i] === labels[i] ? 1 : 0;
  const losses = Float32Array.from(state.losses);
  state.losses = [];
  state.wanted = false;
  postMessage({
    type: 'snapshot', fresh, diverged, dataset: state.dataset, step: state.step, losses,
    loss, accuracy: correct / POINTS, probs, tensors: tg.memory().tensors,
  }, [losses.buffer, probs.buffer]);
}

// a zero-delay yield (setTimeout would be clamped to 4 ms once nested)
const tick = new MessageChannel();
let scheduled = false;
function schedule() {
  if (state.running && !scheduled) {
    scheduled = true;
    tick.port2.postMessage(0);
  }
}

function train() {
  scheduled = false;
  if (!state.running) return;
  const start = performance.now();
  do {
    const loss = trainStep();
    state.step++;
    state.losses.push(loss);
    if (!Number.isFinite(loss)) state.running = false;
  } while (state.running && performance.now() - start < SLICE_MS);
  if (state.wanted || !state.running) snapshot({ diverged: !state.running });
  schedule();
}

const COMMANDS = {
  reset({ settings }) {
    reset(settings);
    snapshot({ fresh: true });
  },
  run({ on }) {
    if (on === state.running) return;
    state.running = on;
    if (on) schedule();
    else snapshot();
  },
  draw() {
    state.wanted = true;
  },
};

/** Runs fn; an error stops training and is shown by the page. */
function guarded(fn) {
  return (e) => {
    try {
      fn(e);
    } catch (err) {
      state.running = false;
      postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  };
}

tick.port1.onmessage = guarded(train);
onmessage = guarded(({ data }) => {
  const command = COMMANDS[data?.type];
  if (!command) throw new Error(`train-worker: unknown command ${JSON.stringify(data?.type)}`);
  command(data);
});
postMessage({ type: 'ready', build: tg.build, isolated: self.crossOriginIsolated, threads: tg.getNumThreads() });
