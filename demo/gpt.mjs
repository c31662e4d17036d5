// A character-level GPT trained on the Book of Genesis (King James Version, public domain:
// data/kjv-genesis.txt.gz): token and position embeddings, a TransformerEncoder of pre-norm
// causal self-attention blocks (fused attention, no mask tensor), a final LayerNorm and a head
// tied to the token embedding. The training step is recorded once with tg.trace and replayed;
// the sample at the end draws each next character with tg.multinomial.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as tg from '../dist/index.js';
import { seededRandom } from './data.mjs';

const { nn } = tg;
const F = nn.functional;
const CONFIG = { block: 64, embed: 64, heads: 4, layers: 2, batch: 16, lr: 3e-3, weightDecay: 0.1 };

export function loadText(url = new URL('../data/kjv-genesis.txt.gz', import.meta.url)) {
  return gunzipSync(readFileSync(url)).toString('utf8');
}

export class CharGPT extends nn.Module {
  constructor(vocab, { block, embed, heads, layers }) {
    super();
    this.block = block;
    this.tok = new nn.Embedding(vocab, embed);
    this.pos = new nn.Embedding(block, embed);
    const layer = new nn.TransformerEncoderLayer(embed, heads, {
      dimFeedforward: 4 * embed, dropout: 0, activation: 'gelu', batchFirst: true, normFirst: true,
    });
    this.encoder = new nn.TransformerEncoder(layer, layers);
    layer.dispose(); // the encoder holds copies
    this.lnF = new nn.LayerNorm(embed);
    // GPT-2's initialisation: weights N(0, 0.02), biases 0, norms' weights 1
    tg.tidy(() => {
      for (const [name, p] of this.namedParameters()) {
        p.copy_(name.endsWith('bias') ? tg.zeros(p.shape) : /norm|lnF/.test(name) ? tg.ones(p.shape) : tg.randn(p.shape).mul(0.02));
      }
    });
  }

  /** idx: [B, T] token ids → logits [B, T, vocab]. */
  forward(idx) {
    const T = idx.shape[1];
    const x = this.tok.forward(idx).add(this.pos.forward(tg.arange(T)));
    const h = this.lnF.forward(this.encoder.forward(x, { isCausal: true }));
    return F.linear(h, this.tok.weight); // the head shares the token embedding
  }
}

/** Trains for `seconds` (about), or `steps` steps when given, printing the loss; returns the model, losses and steps/s. */
export function runGpt({ seed, log, seconds = 45, steps }) {
  tg.manualSeed(seed);
  const text = loadText();
  const chars = [...new Set(text)].sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => index.get(c));
  const { block, batch } = CONFIG;
  const model = new CharGPT(chars.length, CONFIG);
  const params = model.parameters();
  const decay = model.namedParameters().filter(([n, p]) => p.ndim >= 2 && !n.startsWith('pos')).map(([, p]) => p);
  const noDecay = params.filter((p) => !decay.includes(p));
  const optimizer = new tg.optim.AdamW([{ params: decay, weightDecay: CONFIG.weightDecay }, { params: noDecay, weightDecay: 0 }], { lr: CONFIG.lr });
  log(`${chars.length} characters, ${ids.length.toLocaleString('en')} tokens; ${params.reduce((n, p) => n + p.size, 0).toLocaleString('en')} parameters`);

  // one fixed pair of input tensors, refilled each step, so the step can be traced and replayed
  const rng = seededRandom(seed);
  const xs = new Float32Array(batch * block), ys = new Float32Array(batch * block);
  const fill = () => {
    for (let b = 0; b < batch; b++) {
      const at = Math.floor(rng.uniform() * (ids.length - block - 1));
      for (let t = 0; t < block; t++) { xs[b * block + t] = ids[at + t]; ys[b * block + t] = ids[at + t + 1]; }
    }
  };
  fill();
  const x = tg.keep(tg.tensor(xs, { shape: [batch, block] })), y = tg.keep(tg.tensor(ys, { shape: [batch * block] }));
  const step = tg.trace(() => {
    const logits = model.forward(x);
    const loss = F.crossEntropy(logits.reshape([batch * block, chars.length]), y);
    optimizer.zeroGrad();
    loss.backward();
    tg.optim.clipGradNorm(params, 1.0);
    optimizer.step();
    return loss;
  });
  const losses = [step.output.item()];
  const start = performance.now();
  while (steps !== undefined ? losses.length <= steps : performance.now() - start < seconds * 1000) {
    fill();
    tg.tidy(() => { x.copy_(tg.tensor(xs, { shape: [batch, block] })); y.copy_(tg.tensor(ys)); });
    losses.push(step.run().item());
    if (losses.length % 250 === 0) log(`step ${losses.length}: loss ${mean(losses.slice(-50)).toFixed(3)}`);
  }
  const stepsPerSecond = (losses.length - 1) / ((performance.now() - start) / 1000);
  step.dispose();
  const sample = generate(model, chars, index, 'CHAPTER 51\nAnd ', 240, seed);
  return { losses, finalLoss: mean(losses.slice(-50)), stepsPerSecond, sample, model, chars };
}

/** Continues `prompt` by `n` characters, each drawn from the model's softmax with tg.multinomial. */
export function generate(model, chars, index, prompt, n, seed) {
  tg.manualSeed(seed);
  const context = Array.from(prompt, (c) => index.get(c) ?? 0);
  model.eval();
  for (let i = 0; i < n; i++) {
    const window = context.slice(-model.block);
    const next = tg.tidy(() => tg.noGrad(() => {
      const logits = model.forward(tg.tensor([window]));
      const last = logits.narrow(1, window.length - 1, 1).reshape([chars.length]);
      return tg.multinomial(tg.softmax(last.div(0.8), -1), 1).item();
    }));
    context.push(next);
  }
  model.train();
  return context.map((i) => chars[i]).join('');
}

const mean = (a) => a.reduce((s, v) => s + v, 0) / a.length;
