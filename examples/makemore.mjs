// makemore, the MLP version (Bengio et al. 2003, as in Karpathy's "makemore part 2"): each
// next character of a word is predicted from the previous three through a character embedding,
// a tanh hidden layer and a softmax over 27 symbols ('.' ends a word). The words are the distinct
// words of Genesis (data/kjv-genesis.txt.gz, King James Version, public domain). Trains with SGD
// on minibatches, reports train and held-out loss, then samples new words.
//
//   node examples/makemore.mjs                # 4000 steps
//   node examples/makemore.mjs --steps 50     # fewer (CI smoke run)
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as tg from 'tapegrad';
import { drawIndex, intOption } from './util.mjs';

const { nn } = tg;
const STEPS = intOption('steps', 4000);
const BLOCK = 3, EMBED = 10, HIDDEN = 200, BATCH = 32;
const CHARS = '.abcdefghijklmnopqrstuvwxyz'; // index 0 is the start/end symbol

const text = gunzipSync(readFileSync(new URL('../data/kjv-genesis.txt.gz', import.meta.url))).toString('utf8');
const words = [...new Set(text.toLowerCase().match(/[a-z]{2,}/g))].sort();
tg.manualSeed(0);
// a seeded shuffle of the words (by tg.rand), then 90% to train and 10% held out
const keys = tg.rand([words.length]).data();
const shuffled = words.map((w, i) => [keys[i], w]).sort((a, b) => a[0] - b[0]).map(([, w]) => w);
const cut = Math.floor(0.9 * words.length);

/** Every (previous BLOCK characters → next character) pair of `list`, as index arrays. */
function dataset(list) {
  const xs = [], ys = [];
  for (const word of list) {
    const context = new Array(BLOCK).fill(0);
    for (const ch of word + '.') {
      const next = CHARS.indexOf(ch);
      xs.push(...context); ys.push(next);
      context.shift(); context.push(next);
    }
  }
  return { x: Int32Array.from(xs), y: Int32Array.from(ys), count: ys.length };
}
const train = dataset(shuffled.slice(0, cut)), dev = dataset(shuffled.slice(cut));
console.log(`${words.length} words: ${train.count} training examples, ${dev.count} held out`);

const embedding = new nn.Embedding(CHARS.length, EMBED);
const hidden = new nn.Linear(BLOCK * EMBED, HIDDEN);
const out = new nn.Linear(HIDDEN, CHARS.length);
// a small output layer makes the first predictions nearly uniform: loss ≈ ln 27 at step 0
tg.tidy(() => { out.weight.copy_(out.weight.mul(0.01)); out.bias.copy_(tg.zeros([CHARS.length])); });
const params = [embedding, hidden, out].flatMap((m) => m.parameters());
const opt = new tg.optim.SGD(params, { lr: 0.1 });

/** Logits [n, 27] for contexts given as n·BLOCK character indices. */
const logitsOf = (contexts) => out.forward(hidden.forward(embedding.forward(contexts).reshape([-1, BLOCK * EMBED])).tanh());
const lossOf = (set) => tg.noGrad(() => tg.tidy(() => nn.functional.crossEntropy(logitsOf(set.x), set.y).item()));

for (let step = 0; step < STEPS; step++) {
  if (step === Math.floor(0.75 * STEPS)) opt.lr = 0.01; // learning-rate decay for the last quarter
  const loss = tg.tidy(() => {
    const rows = Array.from(tg.rand([BATCH]).data(), (u) => Math.floor(u * train.count));
    const x = Int32Array.from(rows.flatMap((r) => Array.from(train.x.subarray(r * BLOCK, r * BLOCK + BLOCK))));
    opt.zeroGrad();
    const loss = nn.functional.crossEntropy(logitsOf(x), Int32Array.from(rows, (r) => train.y[r]));
    loss.backward();
    opt.step();
    return loss.item();
  });
  if (step % 500 === 0) console.log(`step ${step} loss ${loss.toFixed(4)}`);
}
console.log(`train loss ${lossOf(train).toFixed(4)}, held-out loss ${lossOf(dev).toFixed(4)} (uniform: ${Math.log(CHARS.length).toFixed(4)})`);

/** A new word: draw each next character from the model's softmax. */
function sample(maxLength = 20) {
  const context = new Array(BLOCK).fill(0);
  let word = '';
  while (word.length < maxLength) {
    const next = drawIndex(tg.noGrad(() => tg.tidy(() => tg.softmax(logitsOf(context), -1).data())));
    if (next === 0) break;
    word += CHARS[next];
    context.shift(); context.push(next);
  }
  return word;
}
console.log(`samples ${JSON.stringify(Array.from({ length: 10 }, () => sample()))}`);
