// A sine-wave forecaster: an nn.LSTM reads waves of random frequency and phase and learns to
// predict each next value; then, given the start of a new wave, it runs on its own predictions
// (carrying its [h, c] state one step at a time) and the forecast is compared with the true wave.
// The baseline is the naive forecast "the next value equals this one", computed from the data.
//
//   node examples/lstm-sine.mjs              # 1000 steps, about 4 s
//   node examples/lstm-sine.mjs --steps 200  # fewer (CI smoke run)
import * as tg from 'tapegrad';
import { intOption } from './util.mjs';

const STEPS = intOption('steps', 1000);
const T = 48, B = 32, HIDDEN = 32, AHEAD = 10, WARM = 8; // the first WARM steps only reveal the wave: not scored

tg.manualSeed(0);
/** waves [T, n, 1] (time-major, as nn.LSTM reads by default): sin(ω t + φ), ω in [0.2, 0.4] rad a step */
const waves = (n, length) => tg.tidy(() => {
  const w = tg.rand([1, n, 1]).mul(0.2).add(0.2), phase = tg.rand([1, n, 1]).mul(2 * Math.PI);
  return tg.arange(0, length).reshape([length, 1, 1]).mul(w).add(phase).sin();
});

const lstm = new tg.nn.LSTM(1, HIDDEN), head = new tg.nn.Linear(HIDDEN, 1);
const opt = new tg.optim.Adam([...lstm.parameters(), ...head.parameters()], { lr: 0.01 });
const predict = (x, hx) => { const [out, state] = lstm.forward(x, hx); return [head.forward(out), state]; };

for (let step = 0; step <= STEPS; step++) {
  const loss = tg.tidy(() => {
    const x = waves(B, T + 1);
    const [y] = predict(x.narrow(0, 0, T)); // each step's prediction of the next value
    const loss = tg.nn.functional.mseLoss(y.narrow(0, WARM, T - WARM), x.narrow(0, WARM + 1, T - WARM));
    if (step === STEPS) return loss.item();
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  });
  if (step % 100 === 0 || step === STEPS) console.log(`step ${step} loss ${loss.toFixed(6)}`);
}

// held-out waves: one-step error against the naive baseline, then a free-running forecast
lstm.eval();
tg.noGrad(() => tg.tidy(() => {
  const x = waves(64, T + AHEAD);
  const seen = x.narrow(0, 0, T);
  const [y, state] = predict(seen);
  const n = T - 1 - WARM, oneStep = tg.nn.functional.mseLoss(y.narrow(0, WARM, n), seen.narrow(0, WARM + 1, n)).item();
  const naive = tg.nn.functional.mseLoss(seen.narrow(0, WARM, n), seen.narrow(0, WARM + 1, n)).item();
  console.log(`held-out one-step mse ${oneStep.toExponential(3)}, naive "next = this" mse ${naive.toExponential(3)}`);
  let last = y.narrow(0, T - 1, 1), hx = state;
  const forecast = [last];
  for (let k = 1; k < AHEAD; k++) { // the model's own output is its next input
    [last, hx] = predict(last, hx);
    forecast.push(last);
  }
  const truth = x.narrow(0, T, AHEAD), error = tg.cat(forecast, 0).sub(truth).abs();
  console.log(`forecast ${AHEAD} steps ahead: mean abs error ${error.mean().item().toFixed(4)}, max ${error.max().item().toFixed(4)} (the wave spans [-1, 1])`);
  console.log(`result ${JSON.stringify({ oneStep, naive, forecastMean: error.mean().item() })}`);
}));
