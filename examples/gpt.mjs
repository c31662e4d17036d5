// A character-level GPT on the Book of Genesis (data/kjv-genesis.txt.gz, King James Version,
// public domain): token and position embeddings, a stack of pre-norm TransformerEncoderLayers run
// with {isCausal: true} (each position sees only the ones before it), a final LayerNorm and a
// linear head. AdamW with two parameter groups (weight decay on matrices, none on biases and
// norms), gradient clipping, then a sample continuing a prompt.
//
//   node examples/gpt.mjs                          # 300 steps, a 300-character sample
//   node examples/gpt.mjs --steps 5 --chars 40     # fewer (CI smoke run)
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as tg from 'tapegrad';
import { drawIndex, intOption } from './util.mjs';

const { nn } = tg;
const STEPS = intOption('steps', 300), CHARS = intOption('chars', 300);
const BLOCK = 32, EMBED = 64, HEADS = 4, LAYERS = 2, BATCH = 16;

const text = gunzipSync(readFileSync(new URL('../data/kjv-genesis.txt.gz', import.meta.url))).toString('utf8');
const vocab = [...new Set(text)].sort();
const ids = Int32Array.from(text, (c) => vocab.indexOf(c));
console.log(`${text.length} characters, a vocabulary of ${vocab.length}`);

class GPT extends nn.Module {
  constructor() {
    super();
    this.tok = new nn.Embedding(vocab.length, EMBED);
    this.pos = new nn.Embedding(BLOCK, EMBED);
    const layer = new nn.TransformerEncoderLayer(EMBED, HEADS, { dimFeedforward: 4 * EMBED, dropout: 0, activation: 'gelu', batchFirst: true, normFirst: true });
    this.blocks = new nn.TransformerEncoder(layer, LAYERS, { norm: new nn.LayerNorm(EMBED) });
    layer.dispose(); // the encoder made its own copies
    this.head = new nn.Linear(EMBED, vocab.length);
  }

  /** idx [B, T] character ids → logits [B, T, vocab] */
  forward(idx) {
    const x = this.tok.forward(idx).add(this.pos.forward(tg.arange(idx.shape[1])));
    return this.head.forward(this.blocks.forward(x, { isCausal: true }));
  }
}

tg.manualSeed(0);
const model = new GPT();
const decay = model.parameters().filter((p) => p.ndim >= 2); // weight matrices and embeddings
const noDecay = model.parameters().filter((p) => p.ndim < 2); // biases and LayerNorm scales
const opt = new tg.optim.AdamW([{ params: decay, weightDecay: 0.1 }, { params: noDecay, weightDecay: 0 }], { lr: 3e-3 });
console.log(`${model.parameters().reduce((n, p) => n + p.size, 0)} parameters`);

/** BATCH random windows of the text: inputs [BATCH, BLOCK] and the next characters as targets. */
function batch() {
  const starts = Array.from(tg.rand([BATCH]).data(), (u) => Math.floor(u * (ids.length - BLOCK - 1)));
  const window = (offset) => starts.flatMap((s) => Array.from(ids.subarray(s + offset, s + offset + BLOCK)));
  return { x: tg.tensor(window(0), { shape: [BATCH, BLOCK] }), y: Int32Array.from(window(1)) };
}

for (let step = 0; step < STEPS; step++) {
  const loss = tg.tidy(() => {
    const { x, y } = batch();
    opt.zeroGrad();
    const loss = nn.functional.crossEntropy(model.forward(x).reshape([-1, vocab.length]), y);
    loss.backward();
    tg.optim.clipGradNorm(model.parameters(), 1);
    opt.step();
    return loss.item();
  });
  if (step % 25 === 0 || step === STEPS - 1) console.log(`step ${step} loss ${loss.toFixed(4)}`);
}

// continue a prompt one character at a time from the last BLOCK characters
model.eval();
const context = Array.from('And God said', (c) => vocab.indexOf(c));
const prompt = context.length;
while (context.length < prompt + CHARS) {
  const window = context.slice(-BLOCK);
  const probs = tg.noGrad(() => tg.tidy(() => {
    const logits = model.forward(tg.tensor([window])).narrow(1, window.length - 1, 1).reshape([vocab.length]);
    return tg.softmax(logits, -1).data();
  }));
  context.push(drawIndex(probs));
}
const sample = context.slice(prompt).map((i) => vocab[i]).join('');
console.log(`\nAnd God said${sample}\n`);
console.log(`sample ${JSON.stringify(sample)}`);
