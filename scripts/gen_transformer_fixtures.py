#!/usr/bin/python3
"""Generate PyTorch oracle fixtures for tg.nn.MultiheadAttention, TransformerEncoderLayer and
TransformerEncoder.

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_transformer_fixtures.py

Writes test/fixtures/transformer.json (test/transformer.test.ts) and
test/fixtures/transformer_encoder.safetensors: a TransformerEncoder's state dict exactly as
PyTorch names it, which tapegrad must load unchanged.

Case: {"name", "module", "args", "kwargs", "inputs", "call", "state", "out", "weights",
       "upstream", "inputGrads", "paramGrads"}
  module/args/kwargs   new tg.nn[module](...args, kwargs); kwargs use tapegrad's camelCase names.
                       TransformerEncoder: args [numLayers], kwargs {layer: {args, kwargs}, norm:
                       LayerNorm size or absent}, built as PyTorch's (layer instance, numLayers, norm)
  inputs               the forward's tensors in order (query, key, value for attention; src for
                       the encoder), each {"shape", "data"}; "same" entries reuse input 0
                       (self-attention passes one tensor three times)
  call                 the forward's options: attnMask / keyPaddingMask (attention), srcMask (layer) or
                       mask (encoder) / srcKeyPaddingMask
                       as {"shape", "data"} additive float masks (0 or -1e9 / -inf written as null),
                       needWeights, averageAttnWeights, isCausal
  state                every state-dict entry (PyTorch's keys)
  out, weights         the output (and MultiheadAttention's attention weights, or null)
  upstream             the gradient passed to out.backward(upstream)
  inputGrads           gradient of each distinct input; paramGrads by state-dict key

The modules run in training mode with dropout 0, the same math as eval mode (PyTorch 1.13's
inference fast path is not taken while gradients are recorded).
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn as nn

from fixture_common import Gen, round7, flat, tensor_json, write_safetensors_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
NEG = float("-inf")


def f32(a, grad=False):
    return torch.tensor(round7(a), dtype=torch.float32, requires_grad=grad)


def mask_json(m):
    a = m.numpy().astype(np.float64)
    return {"shape": list(m.shape), "data": [None if np.isinf(v) else float(v) for v in a.ravel()]}


def init_state(module, g):
    """Explicit, rounded weights for every entry (norm weights near 1, others scaled by fan-in)."""
    state = {}
    for name, p in module.state_dict().items():
        shape = tuple(p.shape)
        if "norm" in name and name.endswith("weight"):
            v = 1 + g.randn(*shape, scale=0.2)
        elif len(shape) >= 2:
            v = g.randn(*shape, scale=1 / math.sqrt(shape[1]))
        else:
            v = g.randn(*shape, scale=0.2)
        state[name] = round7(v)
    module.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    return state


def causal(L, S):
    """PyTorch 2's top-left causal mask as an additive float mask: query i sees keys j <= i."""
    m = torch.zeros(L, S)
    m[torch.triu(torch.ones(L, S, dtype=torch.bool), diagonal=1)] = NEG
    return m


def padding(g, N, S):
    """An additive key-padding mask [N, S]: the last keys of some rows are dropped, never all."""
    m = torch.zeros(N, S)
    for n in range(N):
        drop = int(g.rng.integers(0, S // 2 + 1))
        if drop:
            m[n, S - drop:] = NEG
    return m


CASES = []


def case(name, module, args, kwargs, build, shapes, same=False, call=None):
    g = Gen(name)
    torch.manual_seed(0)
    m = build()
    m.train()
    state = init_state(m, g)
    xs = [f32(g.randn(*s), grad=True) for s in shapes]
    call = call(g) if call else {}
    # PyTorch gets the masks as bool (True = dropped): the same semantics as the additive 0/−inf
    # masks tapegrad takes (PyTorch 2 documents float masks as added), while 1.13 mishandles a float
    # key_padding_mask combined with a float attn_mask.
    torch_call = {k: (torch.isinf(v) if isinstance(v, torch.Tensor) else v) for k, v in call.items()}
    weights = None
    if module == "MultiheadAttention":
        q = xs[0]
        k, v = (q, q) if same else (xs[1], xs[2])
        out, weights = m(q, k, v,
                         attn_mask=torch_call.get("attnMask"), key_padding_mask=torch_call.get("keyPaddingMask"),
                         need_weights=torch_call.get("needWeights", True),
                         average_attn_weights=torch_call.get("averageAttnWeights", True))
    elif module == "TransformerEncoderLayer":
        out = m(xs[0], src_mask=torch_call.get("srcMask"), src_key_padding_mask=torch_call.get("srcKeyPaddingMask"))
    else:
        out = m(xs[0], mask=torch_call.get("mask"), src_key_padding_mask=torch_call.get("srcKeyPaddingMask"))
    up = round7(g.randn(*out.shape))
    out.backward(torch.tensor(up, dtype=torch.float32))
    named = dict(m.named_parameters())
    CASES.append({
        "name": name,
        "module": module,
        "args": args,
        "kwargs": kwargs,
        "inputs": [tensor_json(x) for x in xs],
        "same": same,
        "call": {k: (mask_json(v) if isinstance(v, torch.Tensor) else v) for k, v in call.items()},
        "state": {k: {"shape": list(v.shape), "data": flat(v)} for k, v in state.items()},
        "out": tensor_json(out),
        "weights": tensor_json(weights) if weights is not None else None,
        "upstream": {"shape": list(out.shape), "data": flat(up)},
        "inputGrads": [tensor_json(x.grad) for x in xs],
        "paramGrads": {k: tensor_json(p.grad) for k, p in named.items()},
    })


# ----------------------------------------------------------------------------- MultiheadAttention

E, H = 8, 2
case("MultiheadAttention: self-attention [L=5,N=3,E=8], 2 heads, weights averaged",
     "MultiheadAttention", [E, H], {}, lambda: nn.MultiheadAttention(E, H), [(5, 3, E)], same=True)
case("MultiheadAttention: batchFirst [N=2,L=4,E=8], causal attnMask, needWeights false",
     "MultiheadAttention", [E, H], {"batchFirst": True}, lambda: nn.MultiheadAttention(E, H, batch_first=True),
     [(2, 4, E)], same=True, call=lambda g: {"attnMask": causal(4, 4), "needWeights": False})
case("MultiheadAttention: cross-attention L=3, S=6, keyPaddingMask, weights per head",
     "MultiheadAttention", [E, H], {"batchFirst": True}, lambda: nn.MultiheadAttention(E, H, batch_first=True),
     [(2, 3, E), (2, 6, E), (2, 6, E)],
     call=lambda g: {"keyPaddingMask": padding(g, 2, 6), "averageAttnWeights": False})
case("MultiheadAttention: no bias, 4 heads, attnMask and keyPaddingMask, needWeights false",
     "MultiheadAttention", [E, 4], {"bias": False}, lambda: nn.MultiheadAttention(E, 4, bias=False),
     [(4, 2, E)], same=True,
     call=lambda g: {"attnMask": causal(4, 4), "keyPaddingMask": padding(g, 2, 4), "needWeights": False})

# ----------------------------------------------------------------------------- encoder layers

D, FF = 8, 16
for norm_first in (False, True):
    for act in ("relu", "gelu"):
        case(f"TransformerEncoderLayer: dModel 8, 2 heads, ff 16, {act}, normFirst {norm_first}",
             "TransformerEncoderLayer", [D, 2],
             {"dimFeedforward": FF, "dropout": 0, "activation": act, "normFirst": norm_first},
             lambda nf=norm_first, a=act: nn.TransformerEncoderLayer(D, 2, FF, 0.0, a, norm_first=nf),
             [(5, 2, D)])
case("TransformerEncoderLayer: batchFirst, causal mask and key padding, layerNormEps 1e-3",
     "TransformerEncoderLayer", [D, 2],
     {"dimFeedforward": FF, "dropout": 0, "batchFirst": True, "normFirst": True, "layerNormEps": 1e-3},
     lambda: nn.TransformerEncoderLayer(D, 2, FF, 0.0, batch_first=True, norm_first=True, layer_norm_eps=1e-3),
     [(3, 5, D)], call=lambda g: {"srcMask": causal(5, 5), "srcKeyPaddingMask": padding(g, 3, 5)})


def encoder(norm):
    layer = nn.TransformerEncoderLayer(D, 2, FF, 0.0, "gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D) if norm else None, enable_nested_tensor=False)


case("TransformerEncoder: 2 pre-norm GELU layers, final LayerNorm, causal mask",
     "TransformerEncoder", [2], {"layer": {"args": [D, 2], "kwargs": {"dimFeedforward": FF, "dropout": 0, "activation": "gelu",
                                                                   "batchFirst": True, "normFirst": True}},
                                 "norm": D},
     lambda: encoder(True), [(2, 6, D)], call=lambda g: {"mask": causal(6, 6)})

# A state dict saved by PyTorch, in PyTorch's key order, loaded unchanged by tapegrad.
g = Gen("safetensors encoder")
torch.manual_seed(0)
model = encoder(True)
model.eval()
init_state(model, g)
x = f32(g.randn(2, 6, D))
with torch.no_grad():
    y = model(x, mask=causal(6, 6))
entries = [(k, "F32", tuple(v.shape), v.contiguous().numpy().astype("<f4").tobytes()) for k, v in model.state_dict().items()]
write_safetensors_file(os.path.join(OUT_DIR, "transformer_encoder.safetensors"), entries)

with open(os.path.join(OUT_DIR, "transformer.json"), "w") as fh:
    json.dump({"cases": CASES, "safetensors": {"input": tensor_json(x), "out": tensor_json(y),
                                              "keys": list(model.state_dict().keys())}}, fh)
print(f"{len(CASES)} cases; transformer_encoder.safetensors with {len(entries)} tensors")
