#!/usr/bin/python3
"""PyTorch oracle fixtures for tg.nn.functional.scaledDotProductAttention (test/attention.test.ts).

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_attention_fixtures.py

PyTorch 1.13 has no F.scaled_dot_product_attention, so the expected values come from the formula
PyTorch 2 documents for it, in PyTorch ops:

    attn_bias = 0, or -inf above the diagonal when is_causal (torch.ones(L, S).tril(): top-left
                aligned when L != S), plus attn_mask (additive) when given
    out = softmax(q @ k.transpose(-2, -1) * scale + attn_bias, dim=-1) @ v,  scale = 1/sqrt(E) by default

Case: {"name", "q", "k", "v", "mask" (or null), "isCausal", "scale" (or null), "out", "upstream",
       "grads": {"q", "k", "v"} (null where that input does not require grad; plus "mask" where the
       mask does)}; tensors are {"shape", "data"} with non-finite values written as
the strings "NaN", "Infinity", "-Infinity". Every case draws from its own generator seeded by the
CRC-32 of its name; inputs are rounded to 7 significant digits before torch sees them.
"""

import json
import math
import os

import numpy as np
import torch

from fixture_common import Gen, round7

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "attention.json")


def enc(t):
    a = t.detach().to(torch.float64).numpy()
    data = [float(f"{x:.7g}") if math.isfinite(x) else ("NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity"))
            for x in a.ravel()]
    return {"shape": list(a.shape), "data": data}


def sdpa(q, k, v, mask=None, causal=False, scale=None):
    L, S = q.size(-2), k.size(-2)
    sc = 1 / math.sqrt(q.size(-1)) if scale is None else scale
    bias = torch.zeros(L, S)
    if causal:
        bias = bias.masked_fill(torch.ones(L, S, dtype=torch.bool).tril().logical_not(), float("-inf"))
    if mask is not None:
        bias = bias + mask
    w = q @ k.transpose(-2, -1) * sc + bias
    return torch.softmax(w, dim=-1) @ v


def case(name, lead, L, S, E, Ev, causal=False, scale=None, mask=None, mask_grad=False, qkv_grad=True):
    """mask: None, or (shape, drop) with drop(g, shape) -> float array of 0 / -inf."""
    g = Gen(name)
    q = torch.tensor(round7(g.randn(*lead, L, E)), dtype=torch.float32, requires_grad=qkv_grad)
    k = torch.tensor(round7(g.randn(*lead, S, E)), dtype=torch.float32, requires_grad=qkv_grad)
    v = torch.tensor(round7(g.randn(*lead, S, Ev)), dtype=torch.float32, requires_grad=qkv_grad)
    m = None
    if mask is not None:
        shape, fill = mask
        m = torch.tensor(fill(g, shape), dtype=torch.float32, requires_grad=mask_grad)
    out = sdpa(q, k, v, m, causal, scale)
    up = torch.tensor(round7(g.randn(*out.shape)), dtype=torch.float32)
    out.backward(up)
    grads = {n: None if t.grad is None else enc(t.grad) for n, t in (("q", q), ("k", k), ("v", v))}
    if mask_grad:
        grads["mask"] = enc(m.grad)
    return {"name": name, "q": enc(q), "k": enc(k), "v": enc(v), "mask": None if m is None else enc(m),
            "isCausal": causal, "scale": scale, "out": enc(out), "upstream": enc(up), "grads": grads}


def some_dropped(g, shape):
    """-inf at random (about a third), never a whole row; plus small finite biases elsewhere."""
    drop = g.uniform(0, 1, *shape) < 0.35
    drop[..., 0] = False
    return np.where(drop, -np.inf, round7(g.randn(*shape, scale=0.5)))


def row_fully_masked(g, shape):
    m = np.zeros(shape)
    m[..., 2, :] = -np.inf
    return m


CASES = [
    case("plain [2,3] L5 S7", [2, 3], 5, 7, 4, 4),
    case("plain L > S", [2, 3], 7, 5, 4, 4),
    case("causal L = S", [2, 2], 9, 9, 8, 8, causal=True),
    case("causal L < S (top-left)", [2, 2], 5, 9, 4, 4, causal=True),
    case("causal L > S (top-left)", [2, 2], 9, 5, 4, 4, causal=True),
    case("mask [L,S] over batch and heads", [2, 3], 6, 7, 4, 4, mask=([6, 7], some_dropped)),
    case("mask [B,1,L,S] over heads", [2, 3], 6, 7, 4, 4, mask=([2, 1, 6, 7], some_dropped)),
    case("mask [1,S] over rows", [2, 2], 5, 6, 4, 4, mask=([1, 6], some_dropped)),
    case("mask [L,1] over keys (finite)", [2, 2], 5, 6, 4, 4, mask=([5, 1], lambda g, s: round7(g.randn(*s)))),
    case("custom scale", [2, 2], 6, 6, 8, 8, scale=0.3),
    case("custom scale causal", [1, 2], 6, 6, 8, 8, causal=True, scale=1.7),
    case("E != Ev", [2, 2], 5, 6, 6, 3),
    case("E != Ev causal", [1, 3], 7, 7, 3, 10, causal=True),
    case("a fully masked row", [1, 2], 4, 5, 4, 4, mask=([4, 5], row_fully_masked)),
    case("T = 1", [2, 2], 1, 1, 4, 4),
    case("T = 1 causal", [2, 2], 1, 1, 4, 4, causal=True),
    case("zero-size batch", [0, 2], 4, 4, 4, 4, causal=True),
    case("no keys (S = 0)", [1, 2], 3, 0, 4, 5),
    case("3-D [B,L,E]", [3], 6, 6, 5, 5, causal=True),
    case("2-D [L,E]", [], 6, 8, 5, 4),
    case("long rows across key tiles", [1, 1], 40, 300, 8, 8, causal=True),
    case("GPT head shape [1,2,64,16] causal", [1, 2], 64, 64, 16, 16, causal=True),
    # a learned additive mask (an attention bias): its gradient is dL/dscores, summed where it broadcasts
    case("mask grad [L,S] learned bias over batch and heads", [2, 3], 6, 7, 4, 4, mask_grad=True,
         mask=([6, 7], lambda g, s: round7(g.randn(*s)))),
    case("mask grad [B,H,L,S] with -inf, across query and key tiles", [2, 2], 40, 70, 8, 8, mask_grad=True,
         mask=([2, 2, 40, 70], some_dropped)),
    case("mask grad [B,1,L,S] over heads, custom scale", [2, 3], 6, 7, 4, 4, scale=0.4, mask_grad=True,
         mask=([2, 1, 6, 7], some_dropped)),
    case("mask grad [1,S] over rows", [2, 2], 5, 6, 4, 4, mask_grad=True, mask=([1, 6], some_dropped)),
    case("mask grad [L,1] over keys", [2, 2], 5, 6, 4, 4, mask_grad=True,
         mask=([5, 1], lambda g, s: round7(g.randn(*s)))),
    case("mask grad [B,1,1,S] key padding", [3, 2], 4, 6, 4, 4, mask_grad=True, mask=([3, 1, 1, 6], some_dropped)),
    case("mask grad with a fully masked row", [1, 2], 4, 5, 4, 4, mask_grad=True, mask=([4, 5], row_fully_masked)),
    case("mask grad alone (query, key, value constant)", [2, 2], 5, 6, 4, 4, mask_grad=True, qkv_grad=False,
         mask=([5, 6], lambda g, s: round7(g.randn(*s)))),
]

with open(OUT, "w") as f:
    json.dump({"generator": "scripts/gen_attention_fixtures.py", "torch": torch.__version__, "cases": CASES}, f,
              separators=(",", ":"))
print(f"wrote {len(CASES)} cases to {OUT}")
