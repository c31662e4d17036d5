#!/usr/bin/python3
"""PyTorch oracle fixtures for nn.BatchNorm1d / nn.BatchNorm2d (test/batchnorm.test.ts).

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_batchnorm_fixtures.py

Writes test/fixtures/batchnorm.json and test/fixtures/batchnorm.safetensors.

Case: {"name", "module", "args", "kwargs", "state", "steps", "eval"}
  state   the module's state dict before the first step (weight and bias drawn, buffers PyTorch's
          defaults), loaded strictly by the test, so the keys are checked too
  steps   training steps, each {"input", "upstream", "out", "grads": {"input", "weight", "bias"},
          "after": running_mean / running_var / num_batches_tracked after the step}
  eval    {"input", "out"} after eval()
The .safetensors file is a BatchNorm2d(3) trained 3 steps in PyTorch, saved with PyTorch's dtypes
(num_batches_tracked int64); batchnorm.json's "checkpoint" holds an input and its eval output.
Every case draws from its own generator seeded by the CRC-32 of its name; values are rounded to 7
significant digits before torch sees them.
"""

import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn

from fixture_common import Gen, round7, tensor_json, write_safetensors_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
TORCH = {"BatchNorm1d": nn.BatchNorm1d, "BatchNorm2d": nn.BatchNorm2d}
KW = {"eps": "eps", "momentum": "momentum", "affine": "affine", "trackRunningStats": "track_running_stats"}


def f32(a, grad=False):
    return torch.tensor(round7(a), dtype=torch.float32, requires_grad=grad)


def state_json(m):
    return {k: tensor_json(v.detach().to(torch.float32)) for k, v in m.state_dict().items()}


def case(name, module, args, shape, steps=3, **kwargs):
    g = Gen(name)
    m = TORCH[module](*args, **{KW[k]: v for k, v in kwargs.items()})
    if m.affine:
        with torch.no_grad():
            m.weight.copy_(f32(1 + g.randn(args[0], scale=0.3)))
            m.bias.copy_(f32(g.randn(args[0], scale=0.3)))
    state = state_json(m)
    out_steps = []
    m.train()
    for _ in range(steps):
        x = f32(g.randn(*shape, scale=2) + 0.5, grad=True)
        y = m(x)
        up = f32(g.randn(*y.shape))
        if m.affine:
            m.weight.grad = None
            m.bias.grad = None
        y.backward(up)
        grads = {"input": tensor_json(x.grad)}
        if m.affine:
            grads["weight"] = tensor_json(m.weight.grad)
            grads["bias"] = tensor_json(m.bias.grad)
        after = {k: tensor_json(v.to(torch.float32)) for k, v in m.state_dict().items() if k not in ("weight", "bias")}
        out_steps.append({"input": tensor_json(x), "upstream": tensor_json(up), "out": tensor_json(y), "grads": grads, "after": after})
    m.eval()
    x = f32(g.randn(*shape) - 0.25)
    with torch.no_grad():
        out = m(x)
    return {"name": name, "module": module, "args": list(args), "kwargs": kwargs, "state": state, "steps": out_steps,
            "eval": {"input": tensor_json(x), "out": tensor_json(out)}}


CASES = [
    case("BatchNorm1d(3): x [6,3]", "BatchNorm1d", [3], (6, 3)),
    case("BatchNorm1d(4): x [5,4,7]", "BatchNorm1d", [4], (5, 4, 7)),
    case("BatchNorm2d(3): x [4,3,5,5]", "BatchNorm2d", [3], (4, 3, 5, 5)),
    case("BatchNorm2d(2, {momentum:null}): cumulative average", "BatchNorm2d", [2], (3, 2, 4, 4), momentum=None),
    case("BatchNorm2d(2, {eps:1e-3, momentum:0.3})", "BatchNorm2d", [2], (2, 2, 3, 3), eps=1e-3, momentum=0.3),
    case("BatchNorm1d(3, {affine:false})", "BatchNorm1d", [3], (8, 3), affine=False),
    case("BatchNorm2d(3, {trackRunningStats:false}): batch statistics in eval too", "BatchNorm2d", [3], (4, 3, 2, 2), trackRunningStats=False),
    case("BatchNorm1d(2): two rows, the smallest batch", "BatchNorm1d", [2], (2, 2)),
]

# A PyTorch checkpoint, as PyTorch's state dict holds it (num_batches_tracked int64), then eval.
g = Gen("checkpoint")
ck = nn.BatchNorm2d(3)
with torch.no_grad():
    ck.weight.copy_(f32(1 + g.randn(3, scale=0.3)))
    ck.bias.copy_(f32(g.randn(3, scale=0.3)))
for _ in range(3):
    ck(f32(g.randn(4, 3, 3, 3, scale=2) + 1))
ck.eval()
x = f32(g.randn(2, 3, 3, 3))
with torch.no_grad():
    y = ck(x)
entries = []
for k, v in ck.state_dict().items():
    if v.dtype == torch.int64:
        entries.append((k, "I64", tuple(v.shape), struct.pack("<q", int(v))))
    else:
        entries.append((k, "F32", tuple(v.shape), v.detach().numpy().astype("<f4").tobytes()))
write_safetensors_file(os.path.join(OUT_DIR, "batchnorm.safetensors"), entries)

with open(os.path.join(OUT_DIR, "batchnorm.json"), "w") as fh:
    json.dump({"generator": "scripts/gen_batchnorm_fixtures.py", "torch": torch.__version__, "cases": CASES,
               "checkpoint": {"input": tensor_json(x), "out": tensor_json(y), "num_batches_tracked": int(ck.num_batches_tracked),
                              "keys": list(ck.state_dict().keys())}}, fh, separators=(",", ":"))
print(f"wrote {len(CASES)} cases and a checkpoint to {OUT_DIR}")
