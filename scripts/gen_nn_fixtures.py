#!/usr/bin/python3
"""Generate PyTorch oracle fixtures for tapegrad's nn modules, losses, optimizers and safetensors.

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_nn_fixtures.py

Writes
  test/fixtures/nn.json             module and loss cases (test/nn.test.ts)
  test/fixtures/optim.json          optimizer trajectories, clipGradNorm, LR schedules (test/optim.test.ts)
  test/fixtures/nn_safetensors.json expected values for the .safetensors files below (test/safetensors.test.ts)
  test/fixtures/nn_mlp.safetensors, nn_cnn.safetensors, nn_dtypes.safetensors

Module case: {"name", "spec", "eval", "state", "input", "out", "upstream", "inputGrad", "paramGrads"}
  spec       {"module": tapegrad class name, "args": [...], "kwargs": {...}, "children": [spec, ...]}
             -- the test calls new tg.nn[module](...args, kwargs) (kwargs only when non-empty);
             Sequential takes its children. build_torch() below is the PyTorch twin.
  state      the module's state dict {name: {"shape", "data"}}: explicit weights the test loads with
             loadStateDict (strict), so the key names are checked too
  input      {"shape", "data"} or {"index": {"shape", "data"}} (Embedding)
  upstream   the gradient passed to out.backward(upstream)
  inputGrad  gradient of the input (null for indices); paramGrads {name: {"shape", "data"}}
Loss case: {"name", "loss", "inputs", "kwargs", "out", "upstream", "grads"} with inputs as in
  scripts/gen_fixtures.py ({"shape", "data", "requiresGrad"} or {"index": {...}}).

Determinism: every case draws from its own numpy generator seeded by the CRC-32 of its name.
Inputs and weights are rounded to 7 significant digits before they reach torch, so the decimal in
the JSON parses to exactly the float32 torch used.

The .safetensors files are written by write_safetensors() below, a tiny pure-Python writer
(struct + json) that follows the format: 8-byte little-endian header length N, N bytes of JSON
header padded with spaces to a multiple of 8, then the little-endian data. The `safetensors` pip
package is not used because PyPI is unreachable from this machine and Debian does not package it;
scripts/check_safetensors.py reads files with the matching pure-Python reader.
"""

import json
import math
import os
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_common import Gen, T, Idx, round7, flat, tensor_json, sh, backward_with_upstream, write_safetensors_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")

warnings.filterwarnings("ignore", message=".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*")


# ----------------------------------------------------------------------------- numbers

def f32(a, grad=False):
    return torch.tensor(round7(a), dtype=torch.float32, requires_grad=grad)


# ----------------------------------------------------------------------------- modules

class TorchMLP(nn.Module):
    """tapegrad's MLP: Linear layers in the list `layers` (names layers.0.weight, ...), the
    activation between them and not after the last."""

    ACTS = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "gelu": F.gelu,
        "leakyRelu": F.leaky_relu,
    }

    def __init__(self, n_in, hidden, n_out, activation="relu"):
        super().__init__()
        sizes = [n_in, *hidden, n_out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = self.ACTS[activation]

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x


class TorchRMSNorm(nn.Module):
    """PyTorch 2.4's nn.RMSNorm (Debian's 1.13 has none), from its documented formula:
    x * rsqrt(mean(x^2 over the normalized dims) + eps) * weight, eps None = finfo(float32).eps."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        super().__init__()
        self.shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.shape)) if elementwise_affine else None

    def forward(self, x):
        dims = tuple(range(-len(self.shape), 0))
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
        return y * self.weight if self.weight is not None else y


def pair(v):
    return tuple(v) if isinstance(v, list) else v


def build_torch(spec):
    m, a, k = spec["module"], spec.get("args", []), spec.get("kwargs", {})
    if m == "Linear":
        return nn.Linear(a[0], a[1], bias=k.get("bias", True))
    if m == "MLP":
        return TorchMLP(a[0], a[1], a[2], k.get("activation", "relu"))
    if m == "Embedding":
        return nn.Embedding(a[0], a[1])
    if m == "LayerNorm":
        return nn.LayerNorm(a[0], eps=k.get("eps", 1e-5), elementwise_affine=k.get("elementwiseAffine", True))
    if m == "GroupNorm":
        return nn.GroupNorm(a[0], a[1], eps=k.get("eps", 1e-5), affine=k.get("affine", True))
    if m == "RMSNorm":
        return TorchRMSNorm(a[0], eps=k.get("eps"), elementwise_affine=k.get("elementwiseAffine", True))
    if m == "Upsample":
        tup = lambda v: tuple(v) if isinstance(v, list) else v
        return nn.Upsample(size=tup(k.get("size")), scale_factor=tup(k.get("scaleFactor")), mode=k.get("mode", "nearest"),
                           align_corners=k.get("alignCorners"))
    if m == "Dropout":
        return nn.Dropout(*a)
    if m == "Conv2d":
        return nn.Conv2d(a[0], a[1], pair(a[2]), stride=pair(k.get("stride", 1)), padding=pair(k.get("padding", 0)),
                         dilation=pair(k.get("dilation", 1)), groups=k.get("groups", 1), bias=k.get("bias", True))
    if m == "ConvTranspose2d":
        return nn.ConvTranspose2d(a[0], a[1], pair(a[2]), stride=pair(k.get("stride", 1)), padding=pair(k.get("padding", 0)),
                                  output_padding=pair(k.get("outputPadding", 0)), groups=k.get("groups", 1),
                                  bias=k.get("bias", True), dilation=pair(k.get("dilation", 1)))
    if m == "Conv1d":
        return nn.Conv1d(a[0], a[1], a[2], stride=k.get("stride", 1), padding=k.get("padding", 0),
                         dilation=k.get("dilation", 1), groups=k.get("groups", 1), bias=k.get("bias", True))
    if m in ("MaxPool2d", "AvgPool2d"):
        cls = nn.MaxPool2d if m == "MaxPool2d" else nn.AvgPool2d
        return cls(pair(a[0]), stride=pair(k.get("stride")) if "stride" in k else None, padding=pair(k.get("padding", 0)))
    if m == "Flatten":
        return nn.Flatten(*a)
    if m == "GELU":
        return nn.GELU(approximate=k.get("approximate", "none"))
    if m == "LeakyReLU":
        return nn.LeakyReLU(*a)
    if m in ("ReLU", "Tanh", "Sigmoid", "Identity"):
        return getattr(nn, m)()
    if m == "Sequential":
        return nn.Sequential(*[build_torch(c) for c in spec["children"]])
    raise KeyError(m)


def init_weights(module, g):
    """Explicit weights (round7) for every state-dict entry: what the fixture stores."""
    state = {}
    for name, p in module.state_dict().items():
        shape = tuple(p.shape)
        if name.endswith("weight") and isinstance(_owner(module, name), (nn.LayerNorm, nn.GroupNorm, TorchRMSNorm)):
            v = 1 + g.randn(*shape, scale=0.3)
        elif name.endswith("weight") and isinstance(_owner(module, name), nn.Embedding):
            v = g.randn(*shape)
        elif len(shape) >= 2:
            v = g.randn(*shape, scale=1 / math.sqrt(int(np.prod(shape[1:]))))
        else:
            v = g.randn(*shape, scale=0.3)
        state[name] = round7(v)
    module.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    return state


def _owner(module, name):
    for part in name.split(".")[:-1]:
        module = getattr(module, part) if not part.isdigit() else module[int(part)]
    return module


MODULE_CASES = []


def mcase(name, spec, make_input, eval_mode=False):
    MODULE_CASES.append((name, spec, make_input, eval_mode))


def M(module, *args, children=None, **kwargs):
    spec = {"module": module, "args": list(args), "kwargs": kwargs}
    if children is not None:
        spec["children"] = children
    return spec


def randn_input(*shape, scale=1.0):
    return lambda g: ("x", g.randn(*shape, scale=scale))


def distinct_input(*shape):
    return lambda g: ("x", g.distinct(*shape))


def index_input(hi, *shape):
    return lambda g: ("index", g.index(hi, *shape))


# Linear
mcase("Linear(4, 3): x [5,4]", M("Linear", 4, 3), randn_input(5, 4))
mcase("Linear(4, 3, {bias:false}): x [5,4]", M("Linear", 4, 3, bias=False), randn_input(5, 4))
mcase("Linear(4, 6): x [2,3,4]", M("Linear", 4, 6), randn_input(2, 3, 4))
mcase("Linear(5, 2): x [5] (1-D input)", M("Linear", 5, 2), randn_input(5))
mcase("Linear(1, 1): x [3,1]", M("Linear", 1, 1), randn_input(3, 1))
mcase("Linear(33, 17): x [9,33]", M("Linear", 33, 17), randn_input(9, 33))
# MLP
for act in ("relu", "tanh", "sigmoid", "gelu", "leakyRelu"):
    mcase(f"MLP(4, [8,6], 3, {{activation:'{act}'}}): x [5,4]", M("MLP", 4, [8, 6], 3, activation=act), randn_input(5, 4))
mcase("MLP(4, [], 3): one Linear", M("MLP", 4, [], 3), randn_input(5, 4))
mcase("MLP(3, [16], 2) default relu: x [7,3]", M("MLP", 3, [16], 2), randn_input(7, 3))
# Embedding
mcase("Embedding(10, 4): ids [6] with repeats", M("Embedding", 10, 4), lambda g: ("index", np.array([3, 1, 3, 9, 0, 3])))
mcase("Embedding(7, 3): ids [3,2]", M("Embedding", 7, 3), index_input(7, 3, 2))
mcase("Embedding(5, 2): ids [2,2,3]", M("Embedding", 5, 2), index_input(5, 2, 2, 3))
# LayerNorm
mcase("LayerNorm(5): x [3,5]", M("LayerNorm", 5), randn_input(3, 5, scale=2))
mcase("LayerNorm([3,4]): x [2,3,4]", M("LayerNorm", [3, 4]), randn_input(2, 3, 4))
mcase("LayerNorm(6, {eps:1e-3}): x [2,3,6]", M("LayerNorm", 6, eps=1e-3), randn_input(2, 3, 6, scale=0.1))
mcase("LayerNorm(4, {elementwiseAffine:false}): x [3,4]", M("LayerNorm", 4, elementwiseAffine=False), randn_input(3, 4))
mcase("LayerNorm(64): x [4,64]", M("LayerNorm", 64), randn_input(4, 64))
# Conv2d dilation and groups, Conv1d (issue 12)
mcase("Conv2d(2, 4, 3, {dilation:2}): x [2,2,7,7]", M("Conv2d", 2, 4, 3, dilation=2), randn_input(2, 2, 7, 7))
mcase("Conv2d(4, 6, [3,2], {groups:2, dilation:[1,2], padding:1}): x [2,4,5,6]", M("Conv2d", 4, 6, [3, 2], groups=2, dilation=[1, 2], padding=1), randn_input(2, 4, 5, 6))
mcase("Conv2d(3, 3, 3, {groups:3, padding:1}) depthwise: x [2,3,5,5]", M("Conv2d", 3, 3, 3, groups=3, padding=1), randn_input(2, 3, 5, 5))
mcase("Conv2d(2, 6, 1, {groups:2, bias:false}) 1x1 grouped: x [3,2,4,4]", M("Conv2d", 2, 6, 1, groups=2, bias=False), randn_input(3, 2, 4, 4))
mcase("Conv2d(6, 6, 3, {groups:3, stride:2, dilation:2, padding:2}): x [2,6,9,9]", M("Conv2d", 6, 6, 3, groups=3, stride=2, dilation=2, padding=2), randn_input(2, 6, 9, 9))
mcase("Conv1d(3, 5, 3): x [2,3,8]", M("Conv1d", 3, 5, 3), randn_input(2, 3, 8))
mcase("Conv1d(4, 4, 3, {padding:2, dilation:2, groups:4}) depthwise: x [2,4,9]", M("Conv1d", 4, 4, 3, padding=2, dilation=2, groups=4), randn_input(2, 4, 9))
mcase("Conv1d(2, 4, 2, {stride:2, bias:false}): x [3,2,7]", M("Conv1d", 2, 4, 2, stride=2, bias=False), randn_input(3, 2, 7))
mcase("Conv1d(4, 6, 1, {groups:2}): x [2,4,5]", M("Conv1d", 4, 6, 1, groups=2), randn_input(2, 4, 5))
# ConvTranspose2d (issue 12)
mcase("ConvTranspose2d(3, 2, 3): x [2,3,4,4]", M("ConvTranspose2d", 3, 2, 3), randn_input(2, 3, 4, 4))
mcase("ConvTranspose2d(4, 2, 2, {stride:2}): x [2,4,3,5]", M("ConvTranspose2d", 4, 2, 2, stride=2), randn_input(2, 4, 3, 5))
mcase("ConvTranspose2d(2, 3, 3, {stride:2, padding:1, outputPadding:1}): x [1,2,4,4]", M("ConvTranspose2d", 2, 3, 3, stride=2, padding=1, outputPadding=1), randn_input(1, 2, 4, 4))
mcase("ConvTranspose2d(4, 6, [3,2], {groups:2, dilation:[2,1], bias:false}): x [2,4,3,3]", M("ConvTranspose2d", 4, 6, [3, 2], groups=2, dilation=[2, 1], bias=False), randn_input(2, 4, 3, 3))
mcase("ConvTranspose2d(3, 3, 3, {groups:3, stride:[1,2], padding:[1,0]}) depthwise: x [2,3,4,4]", M("ConvTranspose2d", 3, 3, 3, groups=3, stride=[1, 2], padding=[1, 0]), randn_input(2, 3, 4, 4))
# Upsample (issue 12): nearest and bilinear, by scale factor or to a size
mcase("Upsample({scaleFactor:2}): x [2,3,3,4]", M("Upsample", scaleFactor=2), randn_input(2, 3, 3, 4))
mcase("Upsample({size:[5,7]}) nearest: x [1,2,3,4]", M("Upsample", size=[5, 7]), randn_input(1, 2, 3, 4))
mcase("Upsample({scaleFactor:[1.5,2.5]}) nearest: x [1,2,4,3]", M("Upsample", scaleFactor=[1.5, 2.5]), randn_input(1, 2, 4, 3))
mcase("Upsample({scaleFactor:2, mode:'bilinear'}): x [2,2,3,4]", M("Upsample", scaleFactor=2, mode="bilinear"), randn_input(2, 2, 3, 4))
mcase("Upsample({size:[7,5], mode:'bilinear'}): x [1,2,4,3]", M("Upsample", size=[7, 5], mode="bilinear"), randn_input(1, 2, 4, 3))
mcase("Upsample({size:[6,9], mode:'bilinear', alignCorners:true}): x [1,2,4,3]", M("Upsample", size=[6, 9], mode="bilinear", alignCorners=True), randn_input(1, 2, 4, 3))
mcase("Upsample({scaleFactor:0.5, mode:'bilinear'}) downsampling: x [1,2,6,8]", M("Upsample", scaleFactor=0.5, mode="bilinear"), randn_input(1, 2, 6, 8))
mcase("Upsample({scaleFactor:3, mode:'bilinear', alignCorners:true}): x [1,1,2,3]", M("Upsample", scaleFactor=3, mode="bilinear", alignCorners=True), randn_input(1, 1, 2, 3))
# GroupNorm, RMSNorm (issue 12)
mcase("GroupNorm(2, 4): x [3,4,5]", M("GroupNorm", 2, 4), randn_input(3, 4, 5, scale=2))
mcase("GroupNorm(3, 6): x [2,6,4,4]", M("GroupNorm", 3, 6), randn_input(2, 6, 4, 4))
mcase("GroupNorm(1, 3) (layer norm over C,H,W): x [2,3,2,3]", M("GroupNorm", 1, 3), randn_input(2, 3, 2, 3))
mcase("GroupNorm(4, 4) (instance norm): x [2,4,6]", M("GroupNorm", 4, 4), randn_input(2, 4, 6))
mcase("GroupNorm(2, 4, {eps:1e-3, affine:false}): x [3,4]", M("GroupNorm", 2, 4, eps=1e-3, affine=False), randn_input(3, 4, scale=0.1))
mcase("RMSNorm(8): x [3,8]", M("RMSNorm", 8), randn_input(3, 8, scale=2))
mcase("RMSNorm([2,5]): x [3,2,5]", M("RMSNorm", [2, 5]), randn_input(3, 2, 5))
mcase("RMSNorm(6, {eps:1e-2}): x [2,4,6]", M("RMSNorm", 6, eps=1e-2), randn_input(2, 4, 6, scale=0.1))
mcase("RMSNorm(4, {elementwiseAffine:false}): x [5,4]", M("RMSNorm", 4, elementwiseAffine=False), randn_input(5, 4))
# Dropout in eval mode and with p = 0: identity
mcase("Dropout(0.5) in eval(): identity", M("Dropout", 0.5), randn_input(3, 4), eval_mode=True)
mcase("Dropout(0) in train(): identity", M("Dropout", 0), randn_input(3, 4))
# Conv2d: (in, out, kernel, kwargs, input shape)
CONVS = [
    (2, 3, 3, {}, (2, 2, 5, 5)),
    (1, 2, [2, 3], {}, (1, 1, 4, 6)),
    (3, 4, 3, {"stride": 2, "padding": 1}, (2, 3, 7, 7)),
    (2, 2, 3, {"stride": [2, 1], "padding": [1, 2]}, (1, 2, 6, 5)),
    (2, 3, 1, {}, (2, 2, 3, 3)),
    (3, 2, 3, {"padding": 2, "bias": False}, (1, 3, 4, 4)),
    (2, 4, [3, 2], {"stride": 2, "padding": [0, 1], "bias": False}, (2, 2, 7, 6)),
    (4, 3, 5, {"padding": 2}, (1, 4, 6, 6)),
    (1, 1, 3, {"stride": 3}, (1, 1, 9, 9)),
    (2, 2, 3, {"stride": 2}, (1, 2, 8, 7)),
    (3, 2, [1, 3], {"stride": [1, 2], "padding": [0, 1]}, (2, 3, 3, 8)),
    (8, 16, 3, {"padding": 1}, (2, 8, 12, 12)),
    (2, 3, 3, {"stride": 1, "padding": 1}, (1, 2, 2, 2)),
]
for cin, cout, k, kw, xs in CONVS:
    opts = ", ".join(f"{key}:{json.dumps(v)}" for key, v in kw.items())
    mcase(f"Conv2d({cin}, {cout}, {json.dumps(k)}{', {' + opts + '}' if opts else ''}): x {sh(xs)}",
          M("Conv2d", cin, cout, k, **kw), randn_input(*xs))
# Pooling: (kernel, kwargs, input shape)
POOLS = [
    (2, {}, (2, 3, 4, 4)),
    (3, {"stride": 1}, (1, 2, 5, 5)),
    (3, {"stride": 2, "padding": 1}, (2, 2, 7, 7)),
    ([2, 3], {"stride": [2, 1]}, (1, 2, 6, 7)),
    (2, {"stride": 1, "padding": 1}, (1, 1, 3, 4)),
    (3, {}, (1, 2, 7, 8)),
    ([3, 1], {"padding": [1, 0]}, (2, 1, 5, 3)),
    (4, {"stride": 2, "padding": 2}, (1, 3, 6, 5)),
]
for mod in ("MaxPool2d", "AvgPool2d"):
    for k, kw, xs in POOLS:
        opts = ", ".join(f"{key}:{json.dumps(v)}" for key, v in kw.items())
        mcase(f"{mod}({json.dumps(k)}{', {' + opts + '}' if opts else ''}): x {sh(xs)}", M(mod, k, **kw), distinct_input(*xs))
# Flatten and activations
mcase("Flatten(): x [2,3,2,2]", M("Flatten"), randn_input(2, 3, 2, 2))
mcase("Flatten(0, -1): x [2,3,2]", M("Flatten", 0, -1), randn_input(2, 3, 2))
mcase("Flatten(2): x [2,3,2,2]", M("Flatten", 2), randn_input(2, 3, 2, 2))
for mod, args, kw in [("ReLU", [], {}), ("Tanh", [], {}), ("Sigmoid", [], {}), ("GELU", [], {}),
                      ("GELU", [], {"approximate": "tanh"}), ("LeakyReLU", [], {}), ("LeakyReLU", [0.2], {}),
                      ("Identity", [], {})]:
    label = f"{mod}({', '.join(map(str, args))}{json.dumps(kw) if kw else ''})"
    mcase(f"{label}: x [3,5]", M(mod, *args, **kw), randn_input(3, 5, scale=2))
# Sequential models
CNN = M("Sequential", children=[
    M("Conv2d", 2, 4, 3, padding=1), M("ReLU"), M("MaxPool2d", 2),
    M("Conv2d", 4, 3, 3, stride=2, padding=1), M("Tanh"), M("Flatten"),
    M("Linear", 12, 5), M("LayerNorm", 5), M("Dropout", 0.3),
])
mcase("Sequential CNN: conv-relu-pool-conv-tanh-flatten-linear-layernorm-dropout (eval): x [2,2,8,8]", CNN,
      randn_input(2, 2, 8, 8), eval_mode=True)
mcase("Sequential(Linear(4,8), Tanh, Linear(8,3)): x [6,4]",
      M("Sequential", children=[M("Linear", 4, 8), M("Tanh"), M("Linear", 8, 3)]), randn_input(6, 4))
mcase("Sequential(Sequential(Linear(3,4), GELU), MLP(4,[5],2)): nested names",
      M("Sequential", children=[M("Sequential", children=[M("Linear", 3, 4), M("GELU")]), M("MLP", 4, [5], 2)]),
      randn_input(4, 3))


def run_module_case(name, spec, make_input, eval_mode):
    g = Gen(name)
    torch.manual_seed(0)
    module = build_torch(spec)
    state = init_weights(module, g)
    module.train(not eval_mode)
    kind, raw = make_input(g)
    if kind == "index":
        x = torch.tensor(raw, dtype=torch.int64)
        input_json = {"index": {"shape": list(x.shape), "data": [int(v) for v in x.ravel()]}}
    else:
        x = f32(raw, grad=True)
        input_json = {"shape": list(x.shape), "data": flat(round7(raw))}
    out = module(x)
    upstream = backward_with_upstream(out, g)
    params = dict(module.named_parameters())
    return {
        "name": name, "spec": spec, "eval": eval_mode,
        "state": {k: {"shape": list(v.shape), "data": flat(v)} for k, v in state.items()},
        "input": input_json,
        "out": tensor_json(out),
        "upstream": upstream,
        "inputGrad": tensor_json(x.grad) if kind != "index" else None,
        "paramGrads": {k: tensor_json(p.grad) for k, p in params.items()},
    }


# ----------------------------------------------------------------------------- losses

def torch_ce(i, k):
    return F.cross_entropy(i[0], i[1], reduction=k.get("reduction", "mean"), label_smoothing=k.get("labelSmoothing", 0.0))


LOSSES = {
    "crossEntropy": torch_ce,
    "nllLoss": lambda i, k: F.nll_loss(i[0], i[1], reduction=k.get("reduction", "mean")),
    "mseLoss": lambda i, k: F.mse_loss(i[0], i[1], reduction=k.get("reduction", "mean")),
    "binaryCrossEntropyWithLogits": lambda i, k: F.binary_cross_entropy_with_logits(i[0], i[1], reduction=k.get("reduction", "mean")),
}

LOSS_CASES = []


def lcase(name, loss, make_inputs, kwargs=None):
    LOSS_CASES.append((name, loss, make_inputs, kwargs or {}))


def log_probs(g, n, c):
    return torch.log_softmax(torch.tensor(g.randn(n, c, scale=1.5)), -1).numpy()


REDUCTIONS = [{}, {"reduction": "mean"}, {"reduction": "sum"}, {"reduction": "none"}]


def kw_label(kw):
    return "{" + ", ".join(f"{k}:{json.dumps(v)}" for k, v in kw.items()) + "}" if kw else "defaults"


for kw in REDUCTIONS + [{"labelSmoothing": 0.1}, {"labelSmoothing": 0.1, "reduction": "sum"},
                        {"labelSmoothing": 0.1, "reduction": "none"}]:
    lcase(f"crossEntropy [5,4] {kw_label(kw)}", "crossEntropy", lambda g: [T(g.randn(5, 4, scale=2)), Idx(g.index(4, 5))], kw)
lcase("crossEntropy [8,10]", "crossEntropy", lambda g: [T(g.randn(8, 10, scale=2)), Idx(g.index(10, 8))])
lcase("crossEntropy [1,3]", "crossEntropy", lambda g: [T(g.randn(1, 3)), Idx([2])])
lcase("crossEntropy [3,2] logits of +-100", "crossEntropy",
      lambda g: [T([[100, -100], [-100, 100], [100, -100]]), Idx([0, 0, 1])])
lcase("crossEntropy [3,4] logits of +-100, labelSmoothing 0.1", "crossEntropy",
      lambda g: [T([[100, -100, 0, 50], [-100, 100, 99, -3], [0, 0, 0, 100]]), Idx([0, 2, 3])], {"labelSmoothing": 0.1})
lcase("crossEntropy [64,5] mean over a long batch", "crossEntropy", lambda g: [T(g.randn(64, 5)), Idx(g.index(5, 64))])
for kw in REDUCTIONS:
    lcase(f"nllLoss [5,4] {kw_label(kw)}", "nllLoss", lambda g: [T(log_probs(g, 5, 4)), Idx(g.index(4, 5))], kw)
lcase("nllLoss [2,7]", "nllLoss", lambda g: [T(log_probs(g, 2, 7)), Idx([6, 0])])
for kw in REDUCTIONS:
    lcase(f"mseLoss [3,4] {kw_label(kw)}", "mseLoss", lambda g: [T(g.randn(3, 4)), T(g.randn(3, 4))], kw)
lcase("mseLoss [7], target without grad", "mseLoss", lambda g: [T(g.randn(7)), T(g.randn(7), grad=False)])
lcase("mseLoss [2,3,4] sum", "mseLoss", lambda g: [T(g.randn(2, 3, 4)), T(g.randn(2, 3, 4))], {"reduction": "sum"})
for kw in REDUCTIONS:
    lcase(f"binaryCrossEntropyWithLogits [3,4] {kw_label(kw)}", "binaryCrossEntropyWithLogits",
          lambda g: [T(g.randn(3, 4, scale=2)), T(g.uniform(0, 1, 3, 4), grad=False)], kw)
lcase("binaryCrossEntropyWithLogits [6] 0/1 targets", "binaryCrossEntropyWithLogits",
      lambda g: [T(g.randn(6, scale=3)), T(g.index(2, 6).astype(float), grad=False)])
for kw in [{}, {"reduction": "none"}, {"reduction": "sum"}]:
    lcase(f"binaryCrossEntropyWithLogits [8] logits of +-100 (stable) {kw_label(kw)}", "binaryCrossEntropyWithLogits",
          lambda g: [T([100, -100, 100, -100, 50, -50, 0, 20]), T([1, 0, 0, 1, 0.5, 1, 0.5, 0.25], grad=False)], kw)


def run_loss_case(name, loss, make_inputs, kwargs):
    g = Gen(name)
    specs = make_inputs(g)
    inputs, spec_json = [], []
    for s in specs:
        if isinstance(s, T):
            inputs.append(torch.tensor(s.data, dtype=torch.float32, requires_grad=s.grad))
            spec_json.append({"shape": list(s.data.shape), "data": flat(s.data), "requiresGrad": s.grad})
        else:
            inputs.append(torch.tensor(s.data, dtype=torch.int64))
            spec_json.append({"index": {"shape": list(s.data.shape), "data": [int(v) for v in s.data.ravel()]}})
    out = LOSSES[loss](inputs, kwargs)
    upstream = backward_with_upstream(out, g)
    grads = [tensor_json(t.grad) if isinstance(s, T) and s.grad else None for s, t in zip(specs, inputs)]
    return {"name": name, "loss": loss, "inputs": spec_json, "kwargs": kwargs, "out": tensor_json(out),
            "upstream": upstream, "grads": grads}


# ----------------------------------------------------------------------------- optimizers

def opt_model():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def make_optimizer(kind, params, o):
    if kind == "SGD":
        return torch.optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0), dampening=o.get("dampening", 0),
                               nesterov=o.get("nesterov", False), weight_decay=o.get("weightDecay", 0))
    kw = dict(lr=o.get("lr", 1e-3), betas=tuple(o.get("betas", (0.9, 0.999))), eps=o.get("eps", 1e-8))
    if kind == "Adam":
        return torch.optim.Adam(params, weight_decay=o.get("weightDecay", 0), **kw)
    if kind == "AdamW":
        return torch.optim.AdamW(params, weight_decay=o.get("weightDecay", 1e-2), **kw)
    raise KeyError(kind)


def make_scheduler(spec, opt):
    if spec is None:
        return None
    if spec["kind"] == "StepLR":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=spec["stepSize"], gamma=spec.get("gamma", 0.1))
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=spec["tMax"], eta_min=spec.get("etaMin", 0))


TRAJECTORIES = [  # (name, optimizer, options, scheduler)
    ("SGD plain", "SGD", {"lr": 0.1}, None),
    ("SGD momentum 0.9", "SGD", {"lr": 0.1, "momentum": 0.9}, None),
    ("SGD nesterov", "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None),
    ("SGD dampening 0.1", "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1}, None),
    ("SGD weightDecay 0.01", "SGD", {"lr": 0.1, "weightDecay": 0.01}, None),
    ("SGD momentum + nesterov + weightDecay", "SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weightDecay": 0.05}, None),
    ("Adam default", "Adam", {}, None),
    ("Adam lr 0.01 betas [0.8,0.99] eps 1e-6", "Adam", {"lr": 0.01, "betas": [0.8, 0.99], "eps": 1e-6}, None),
    ("Adam weightDecay 0.01", "Adam", {"lr": 0.01, "weightDecay": 0.01}, None),
    ("AdamW default weightDecay", "AdamW", {"lr": 0.01}, None),
    ("AdamW weightDecay 0.1", "AdamW", {"lr": 0.01, "weightDecay": 0.1}, None),
    ("SGD momentum with StepLR(stepSize 3, gamma 0.5)", "SGD", {"lr": 0.2, "momentum": 0.9}, {"kind": "StepLR", "stepSize": 3, "gamma": 0.5}),
    ("Adam with CosineAnnealingLR(tMax 6, etaMin 0.001)", "Adam", {"lr": 0.02}, {"kind": "CosineAnnealingLR", "tMax": 6, "etaMin": 0.001}),
]
STEPS = 10


def opt_data():
    g = Gen("optimizer data")
    x = round7(g.randn(12, 4))
    labels = g.index(3, 12)
    model = opt_model()
    state = init_weights(model, g)
    return x, labels, state


def run_trajectory(name, kind, options, sched_spec, x, labels, state):
    model = opt_model()
    model.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    opt = make_optimizer(kind, model.parameters(), options)
    sched = make_scheduler(sched_spec, opt)
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(labels, dtype=torch.int64)
    steps = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        lr = opt.param_groups[0]["lr"]
        if sched is not None:
            sched.step()
        steps.append({"loss": float(loss), "lr": lr,
                      "params": {k: flat(v.detach().double().numpy()) for k, v in model.state_dict().items()}})
    return {"name": name, "optimizer": kind, "options": options, "scheduler": sched_spec, "steps": steps}


CLIPS = [  # (name, maxNorm, normType)
    ("clipGradNorm maxNorm 1 (clips)", 1.0, 2),
    ("clipGradNorm maxNorm 100 (no clipping)", 100.0, 2),
    ("clipGradNorm maxNorm 0.5 normType 1", 0.5, 1),
    ("clipGradNorm maxNorm 2 normType Infinity", 2.0, "inf"),
]


def run_clip(name, max_norm, norm_type):
    g = Gen(name)
    shapes = [(3, 4), (5,), (2, 2)]
    params = [f32(g.randn(*s), grad=True) for s in shapes]
    grads = [round7(g.randn(*s, scale=2)) for s in shapes]
    for p, gr in zip(params, grads):
        p.grad = torch.tensor(gr, dtype=torch.float32)
    nt = float("inf") if norm_type == "inf" else norm_type
    total = torch.nn.utils.clip_grad_norm_(params, max_norm, nt)
    return {"name": name, "maxNorm": max_norm, "normType": norm_type,
            "params": [{"shape": list(p.shape), "data": flat(p.detach().double().numpy())} for p in params],
            "grads": [{"shape": list(gr.shape), "data": flat(gr)} for gr in grads],
            "totalNorm": float(total), "clipped": [tensor_json(p.grad) for p in params]}


SCHEDULES = [  # (name, lr, scheduler spec, steps)
    ("StepLR(stepSize 3, gamma 0.5) from lr 0.1", 0.1, {"kind": "StepLR", "stepSize": 3, "gamma": 0.5}, 12),
    ("StepLR(stepSize 2) default gamma from lr 1", 1.0, {"kind": "StepLR", "stepSize": 2}, 7),
    ("CosineAnnealingLR(tMax 5) from lr 0.1", 0.1, {"kind": "CosineAnnealingLR", "tMax": 5}, 12),
    ("CosineAnnealingLR(tMax 4, etaMin 0.01) from lr 0.05", 0.05, {"kind": "CosineAnnealingLR", "tMax": 4, "etaMin": 0.01}, 10),
]


def run_schedule(name, lr, spec, n):
    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = make_scheduler(spec, opt)
    lrs = [opt.param_groups[0]["lr"]]
    last = [sched.get_last_lr()[0]]
    for _ in range(n):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        last.append(sched.get_last_lr()[0])
    assert all(abs(a - b) < 1e-15 for a, b in zip(lrs, last))
    return {"name": name, "lr": lr, "scheduler": spec, "lrs": lrs}


# ----------------------------------------------------------------------------- safetensors

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}


def tensor_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors, metadata=None, order=None):
    """Pure-Python safetensors writer: tensors {name: torch.Tensor} written in `order`
    (default: sorted names), header keys in the same order."""
    names = order or sorted(tensors)
    write_safetensors_file(path, [(n, DTYPES[tensors[n].dtype], tensors[n].shape, tensor_bytes(tensors[n])) for n in names], metadata)


def safetensors_fixtures():
    out = {}
    # 1) an MLP: load the file into tg.nn.MLP(4, [8,6], 3, {activation:'tanh'}) and compare outputs
    torch.manual_seed(1234)
    mlp = TorchMLP(4, [8, 6], 3, "tanh")
    g = Gen("safetensors mlp")
    x = f32(g.randn(5, 4))
    write_safetensors(os.path.join(OUT_DIR, "nn_mlp.safetensors"), mlp.state_dict(),
                      metadata={"format": "pt", "generator": "scripts/gen_nn_fixtures.py"})
    out["mlp"] = {"file": "nn_mlp.safetensors", "spec": M("MLP", 4, [8, 6], 3, activation="tanh"),
                  "metadata": {"format": "pt", "generator": "scripts/gen_nn_fixtures.py"},
                  "keys": list(mlp.state_dict().keys()),
                  "input": tensor_json(x), "out": tensor_json(mlp(x))}
    # 2) a small CNN, written in PyTorch's state_dict order (not sorted) and without metadata
    torch.manual_seed(99)
    cnn_spec = M("Sequential", children=[
        M("Conv2d", 1, 4, 3, padding=1), M("ReLU"), M("MaxPool2d", 2),
        M("Conv2d", 4, 8, 3, stride=2, padding=1), M("GELU"), M("AvgPool2d", 2), M("Flatten"),
        M("Linear", 8, 10), M("LayerNorm", 10),
    ])
    cnn = build_torch(cnn_spec)
    with torch.no_grad():  # LayerNorm's affine parameters away from ones / zeros
        cnn[8].weight.add_(torch.randn(10) * 0.3)
        cnn[8].bias.add_(torch.randn(10) * 0.3)
    cnn.eval()
    g = Gen("safetensors cnn")
    x = f32(g.randn(2, 1, 8, 8))
    sd = cnn.state_dict()
    write_safetensors(os.path.join(OUT_DIR, "nn_cnn.safetensors"), sd, order=list(sd.keys()))
    out["cnn"] = {"file": "nn_cnn.safetensors", "spec": cnn_spec, "keys": list(sd.keys()),
                  "input": tensor_json(x), "out": tensor_json(cnn(x))}
    # 3) dtypes: F16 / BF16 / F64 / F32, a 0-d and an empty tensor; expected values as float32
    g = Gen("safetensors dtypes")
    base = torch.tensor(round7(g.randn(2, 3, scale=3)), dtype=torch.float32)
    tensors = {
        "f32": base.clone(),
        "f16": base.to(torch.float16),
        "bf16": base.to(torch.bfloat16),
        "f64": torch.tensor(round7(g.randn(4)), dtype=torch.float64),
        "f16_specials": torch.tensor([0.0, -0.0, 1e-7, 65504.0, -2.0, 0.333251953125], dtype=torch.float16),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    write_safetensors(os.path.join(OUT_DIR, "nn_dtypes.safetensors"), tensors, metadata={"note": "mixed dtypes"})
    out["dtypes"] = {"file": "nn_dtypes.safetensors",
                     "tensors": {k: {"dtype": DTYPES[v.dtype], **tensor_json(v.to(torch.float32))} for k, v in tensors.items()}}
    return out


# ----------------------------------------------------------------------------- run

def dump(fname, obj):
    path = os.path.join(OUT_DIR, fname)
    with open(path, "w") as fh:
        json.dump(obj, fh, separators=(",", ":"))
        fh.write("\n")
    return os.path.getsize(path)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for cases in (MODULE_CASES, LOSS_CASES, TRAJECTORIES, CLIPS, SCHEDULES):
        names = [c[0] for c in cases]
        assert len(set(names)) == len(names), f"duplicate case names in {names}"

    modules = [run_module_case(*c) for c in MODULE_CASES]
    losses = [run_loss_case(*c) for c in LOSS_CASES]
    head = {"generator": "scripts/gen_nn_fixtures.py", "torch": torch.__version__}
    size = dump("nn.json", {**head, "modules": modules, "losses": losses})
    print(f"torch {torch.__version__}: nn.json {len(modules)} module cases, {len(losses)} loss cases ({size:,} bytes)")

    x, labels, state = opt_data()
    trajectories = [run_trajectory(n, k, o, s, x, labels, state) for n, k, o, s in TRAJECTORIES]
    clips = [run_clip(*c) for c in CLIPS]
    schedules = [run_schedule(*c) for c in SCHEDULES]
    size = dump("optim.json", {**head, "model": "Sequential(Linear(4,8), Tanh(), Linear(8,3)), crossEntropy",
                               "steps": STEPS, "data": {"x": {"shape": [12, 4], "data": flat(x)},
                                                        "labels": [int(v) for v in labels]},
                               "initial": {k: {"shape": list(v.shape), "data": flat(v)} for k, v in state.items()},
                               "trajectories": trajectories, "clips": clips, "schedules": schedules})
    print(f"  optim.json: {len(trajectories)} trajectories x {STEPS} steps, {len(clips)} clipGradNorm, "
          f"{len(schedules)} schedules ({size:,} bytes)")

    st = safetensors_fixtures()
    size = dump("nn_safetensors.json", {**head, **st})
    print(f"  nn_safetensors.json + {', '.join(v['file'] for v in st.values())} ({size:,} bytes)")


if __name__ == "__main__":
    sys.exit(main())
