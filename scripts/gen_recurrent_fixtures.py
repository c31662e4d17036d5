#!/usr/bin/python3
"""PyTorch oracle fixtures for nn.LSTM, nn.GRU, nn.LSTMCell and nn.GRUCell (test/recurrent.test.ts).

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_recurrent_fixtures.py

Writes test/fixtures/recurrent.json and test/fixtures/lstm.safetensors.

Case: {"name", "module", "args", "kwargs", "state", "input", "hx", "outputs", "upstreams", "grads"}
  state      the module's state dict (PyTorch's keys and layout), loaded strictly by the test
  hx         null, a tensor (GRU, GRUCell) or a pair [h0, c0] (LSTM, LSTMCell); each requires grad
  outputs    the flattened results in order: output, hN (, cN) for layers; h' (, c') for cells
  upstreams  one upstream gradient per output: backward of Σ output·upstream
  grads      "input", "hx" (a list like hx's), and every parameter by its state-dict key
The .safetensors file is a 2-layer bidirectional batch-first LSTM saved from PyTorch; recurrent.json's
"checkpoint" holds an input and the outputs it gives. Every case draws from its own generator
seeded by the CRC-32 of its name; values are rounded to 7 significant digits before torch sees them.
"""

import json
import os

import torch
import torch.nn as nn

from fixture_common import Gen, round7, tensor_json, write_safetensors_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
TORCH = {"LSTM": nn.LSTM, "GRU": nn.GRU, "LSTMCell": nn.LSTMCell, "GRUCell": nn.GRUCell}
KW = {"numLayers": "num_layers", "bias": "bias", "batchFirst": "batch_first", "bidirectional": "bidirectional"}


def f32(a, grad=False):
    return torch.tensor(round7(a), dtype=torch.float32, requires_grad=grad)


def flatten(out):
    return [t for o in out for t in (o if isinstance(o, tuple) else (o,))] if isinstance(out, tuple) else [out]


def case(name, module, args, input_shape, hx=None, **kwargs):
    g = Gen(name)
    m = TORCH[module](*args, **{KW[k]: v for k, v in kwargs.items()})
    with torch.no_grad():  # PyTorch's U(-1/sqrt(H), 1/sqrt(H)), drawn from the case's generator
        bound = 1 / args[1] ** 0.5
        for p in m.parameters():
            p.copy_(f32(g.uniform(-bound, bound, *p.shape)))
    state = {k: tensor_json(v) for k, v in m.state_dict().items()}
    x = f32(g.randn(*input_shape), grad=True)
    hx_t = None
    if hx is not None:
        hx_t = tuple(f32(g.randn(*s, scale=0.5), grad=True) for s in hx)
        call_hx = hx_t if module.startswith("LSTM") else hx_t[0]
        out = m(x, call_hx)
    else:
        out = m(x)
    outs = flatten(out)
    ups = [f32(g.randn(*o.shape)) for o in outs]
    sum((o * u).sum() for o, u in zip(outs, ups)).backward()
    grads = {"input": tensor_json(x.grad)}
    if hx_t is not None:
        grads["hx"] = [tensor_json(h.grad) for h in hx_t]
    for k, p in m.named_parameters():
        grads[k] = tensor_json(p.grad)
    return {"name": name, "module": module, "args": list(args), "kwargs": kwargs, "state": state, "input": tensor_json(x),
            "hx": None if hx_t is None else [tensor_json(h) for h in hx_t], "outputs": [tensor_json(o) for o in outs],
            "upstreams": [tensor_json(u) for u in ups], "grads": grads}


CASES = [
    case("LSTM(3, 5): x [4,2,3], no hx", "LSTM", [3, 5], (4, 2, 3)),
    case("LSTM(3, 8): x [6,3,3] with [h0, c0]", "LSTM", [3, 8], (6, 3, 3), hx=[(1, 3, 8), (1, 3, 8)]),
    case("LSTM(4, 6, {numLayers: 2, batchFirst, bidirectional}) with [h0, c0]", "LSTM", [4, 6], (2, 5, 4), hx=[(4, 2, 6), (4, 2, 6)],
         numLayers=2, batchFirst=True, bidirectional=True),
    case("LSTM(3, 4, {bias: false, numLayers: 3})", "LSTM", [3, 4], (3, 2, 3), bias=False, numLayers=3),
    case("LSTM(2, 3): unbatched x [5,2] with [h0, c0]", "LSTM", [2, 3], (5, 2), hx=[(1, 3), (1, 3)]),
    case("LSTM(3, 5): one step", "LSTM", [3, 5], (1, 4, 3), hx=[(1, 4, 5), (1, 4, 5)]),
    case("GRU(3, 5): x [4,2,3] with h0", "GRU", [3, 5], (4, 2, 3), hx=[(1, 2, 5)]),
    case("GRU(3, 8): x [5,3,3], no hx", "GRU", [3, 8], (5, 3, 3)),
    case("GRU(4, 6, {numLayers: 2, batchFirst, bidirectional}) with h0", "GRU", [4, 6], (2, 5, 4), hx=[(4, 2, 6)],
         numLayers=2, batchFirst=True, bidirectional=True),
    case("GRU(3, 4, {bias: false})", "GRU", [3, 4], (3, 2, 3), hx=[(1, 2, 4)], bias=False),
    case("GRU(2, 3): unbatched x [5,2]", "GRU", [2, 3], (5, 2)),
    case("LSTMCell(3, 5) with [h, c]", "LSTMCell", [3, 5], (4, 3), hx=[(4, 5), (4, 5)]),
    case("LSTMCell(3, 4): unbatched, no hx", "LSTMCell", [3, 4], (3,)),
    case("GRUCell(3, 6) with h", "GRUCell", [3, 6], (2, 3), hx=[(2, 6)]),
    case("GRUCell(3, 5, {bias: false})", "GRUCell", [3, 5], (4, 3), hx=[(4, 5)], bias=False),
]

# A checkpoint: a 2-layer bidirectional batch-first LSTM saved by PyTorch, and what it gives.
torch.manual_seed(0)
ck = nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)
g = Gen("checkpoint")
x = f32(g.randn(2, 5, 3))
with torch.no_grad():
    out, (h, c) = ck(x)
write_safetensors_file(os.path.join(OUT_DIR, "lstm.safetensors"),
                       [(k, "F32", tuple(v.shape), v.detach().numpy().astype("<f4").tobytes()) for k, v in ck.state_dict().items()])

with open(os.path.join(OUT_DIR, "recurrent.json"), "w") as fh:
    json.dump({"generator": "scripts/gen_recurrent_fixtures.py", "torch": torch.__version__, "cases": CASES,
               "checkpoint": {"input": tensor_json(x), "outputs": [tensor_json(t) for t in (out, h, c)],
                              "keys": list(ck.state_dict().keys())}}, fh, separators=(",", ":"))
print(f"wrote {len(CASES)} cases and a checkpoint to {OUT_DIR}")
