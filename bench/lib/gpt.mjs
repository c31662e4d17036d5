// The character-level GPT of issue 9 in tapegrad: nn.Linear, nn.LayerNorm and nn.Embedding, causal
// self-attention by F.scaledDotProductAttention (one fused op, no mask tensor, the T×T scores never
// stored), the lm head tied to the token embedding. bench/impls/pytorch_worker.py has the same
// model in PyTorch 1.13 (composed attention: it has no fused op), with the same state-dict names,
// so both load the weights of data.gptSpec().

/** Returns the GPT class for the tapegrad module `tg` (the bench imports the build at run time). */
export function defineGpt(tg) {
  const { nn } = tg;

  class Block extends nn.Module {
    constructor({ embed, heads, hidden }) {
      super();
      this.heads = heads;
      this.ln1 = new nn.LayerNorm(embed);
      this.qkv = new nn.Linear(embed, 3 * embed);
      this.proj = new nn.Linear(embed, embed);
      this.ln2 = new nn.LayerNorm(embed);
      this.fc = new nn.Linear(embed, hidden);
      this.fc2 = new nn.Linear(hidden, embed);
    }

    /** Causal self-attention of x [B, T, C]. */
    attention(x) {
      const [B, T, C] = x.shape;
      const H = this.heads, D = C / H;
      const qkv = this.qkv.forward(x); // [B, T, 3C]
      const [q, k, v] = qkv.split(C, 2).map((t) => t.view([B, T, H, D]).transpose(1, 2)); // [B, H, T, D]
      const y = nn.functional.scaledDotProductAttention(q, k, v, { isCausal: true }); // [B, H, T, D]
      return this.proj.forward(y.transpose(1, 2).reshape([B, T, C]));
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
      this.h = Array.from({ length: layers }, () => new Block(config));
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
