// The character-level GPT of issue 9, written with tapegrad's public API as it is today: nn.Linear,
// nn.LayerNorm and nn.Embedding, attention by hand (three narrow copies for q, k and v, an
// additive 0 / -Infinity causal mask built once, softmax), the lm head tied to the token
// embedding. bench/impls/pytorch_worker.py has the same model in PyTorch, with the same state-dict
// names, so both load the weights of data.gptSpec(). When tapegrad gains fused attention and
// transformer modules, this file is the one to switch.

/** Returns the GPT class for the tapegrad module `tg` (the bench imports the build at run time). */
export function defineGpt(tg) {
  const { nn } = tg;

  class Block extends nn.Module {
    constructor({ embed, heads, hidden }, mask) {
      super();
      this.heads = heads;
      this.ln1 = new nn.LayerNorm(embed);
      this.qkv = new nn.Linear(embed, 3 * embed);
      this.proj = new nn.Linear(embed, embed);
      this.ln2 = new nn.LayerNorm(embed);
      this.fc = new nn.Linear(embed, hidden);
      this.fc2 = new nn.Linear(hidden, embed);
      this._mask = mask; // `_`: not a parameter
    }

    /** Causal self-attention of x [B, T, C]. */
    attention(x) {
      const [B, T, C] = x.shape;
      const H = this.heads, D = C / H;
      const qkv = this.qkv.forward(x); // [B, T, 3C]
      const [q, k, v] = [0, 1, 2].map((i) => qkv.narrow(2, i * C, C).view([B, T, H, D]).transpose(1, 2)); // [B, H, T, D]
      const att = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(D)).add(this._mask).softmax(-1); // [B, H, T, T]
      return this.proj.forward(att.matmul(v).transpose(1, 2).reshape([B, T, C]));
    }

    forward(x) {
      x = x.add(this.attention(this.ln1.forward(x)));
      return x.add(this.fc2.forward(this.fc.forward(this.ln2.forward(x)).gelu()));
    }
  }

  return class GPT extends nn.Module {
    constructor(config) {
      super();
      const { vocab, block, embed, layers } = config;
      this.config = config;
      this.wte = new nn.Embedding(vocab, embed);
      this.wpe = new nn.Embedding(block, embed);
      // mask[i][j] = -Infinity where key j comes after query i: softmax gives it weight 0
      const mask = tg.keep(tg.tensor(Float32Array.from({ length: block * block }, (_, n) => (n % block > Math.floor(n / block) ? -Infinity : 0)), { shape: [block, block] }));
      this.h = Array.from({ length: layers }, () => new Block(config, mask));
      this.lnF = new nn.LayerNorm(embed);
      this._positions = Int32Array.from({ length: block }, (_, i) => i);
    }

    /** Logits [B·T, vocab] of token ids `idx` (Int32Array, row-major [B, T] with T = block). */
    forward(idx) {
      const { block: T, embed: C } = this.config;
      const B = idx.length / T;
      let x = this.wte.forward(idx).view([B, T, C]).add(this.wpe.forward(this._positions));
      for (const block of this.h) x = block.forward(x);
      return nn.functional.linear(this.lnF.forward(x).view([B * T, C]), this.wte.weight); // tied lm head
    }

    loss(idx, targets) {
      return nn.functional.crossEntropy(this.forward(idx), targets);
    }
  };
}
