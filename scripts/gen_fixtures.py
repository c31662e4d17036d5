#!/usr/bin/python3
"""Generate PyTorch oracle fixtures for tapegrad's ops.

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_fixtures.py

Writes test/fixtures/ops.json (and ops-2.json, ops-3.json, ... when the cases do not fit in
one file of ~1.4 MB); test/fixtures.test.ts replays every case against tapegrad.

Each case:
    {"name", "op", "inputs", "args", "kwargs", "out", "upstream", "grads"}
  inputs   [{"shape", "data", "requiresGrad"} | {"number": x} | {"index": {"shape", "data"}}]
  args     positional arguments after the tensors (JSON); kwargs become tapegrad's final
           options object
  out      {"shape", "data"} (flat, row-major) computed in float32
  upstream the gradient passed to out.backward(upstream); null when out is 0-d (backward())
           or when nothing requires grad (argmax / argmin)
  grads    per input: {"shape", "data"} for tensors with requiresGrad, else null

Determinism: every case draws its numbers from its own generator seeded by the CRC-32 of its
name, so adding or removing a case leaves every other case unchanged. Inputs are rounded to 7
significant digits *before* they reach torch, so the decimal in the JSON parses to exactly the
float32 torch used. Ops whose JS spelling differs are composed in both this script and the test
runner under an op named "composite:NAME".
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from fixture_common import Gen, T, Idx, flat, tensor_json, sh, backward_with_upstream

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
MAX_FILE_BYTES = 1_400_000



# ----------------------------------------------------------------------------- numbers

# Input specs: what a case builder returns.

class Num:
    def __init__(self, value):
        self.value = float(value)


# ----------------------------------------------------------------------------- ops
# Each entry: (inputs, args, kwargs) -> torch tensor, matching notes/API.md's semantics.
# inputs holds float32 tensors, python floats (Num) and int64 tensors (Idx), in order.

def as_tensor(v):
    return v if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=torch.float32)


def reduction(all_fn, dim_fn):
    def run(i, a, k):
        return all_fn(i[0]) if len(a) == 0 or a[0] is None else dim_fn(i[0], *a)
    return run


def indices(fn):
    def run(i, a, k):
        return (fn(i[0]) if len(a) == 0 else fn(i[0], *a)).to(torch.float32)
    return run


OPS = {
    "add": lambda i, a, k: i[0] + i[1],
    "sub": lambda i, a, k: i[0] - i[1],
    "mul": lambda i, a, k: i[0] * i[1],
    "div": lambda i, a, k: i[0] / i[1],
    "pow": lambda i, a, k: i[0] ** i[1],
    "maximum": lambda i, a, k: torch.maximum(as_tensor(i[0]), as_tensor(i[1])),
    "minimum": lambda i, a, k: torch.minimum(as_tensor(i[0]), as_tensor(i[1])),
    "neg": lambda i, a, k: torch.neg(i[0]),
    "abs": lambda i, a, k: torch.abs(i[0]),
    "exp": lambda i, a, k: torch.exp(i[0]),
    "log": lambda i, a, k: torch.log(i[0]),
    "sqrt": lambda i, a, k: torch.sqrt(i[0]),
    "tanh": lambda i, a, k: torch.tanh(i[0]),
    "sigmoid": lambda i, a, k: torch.sigmoid(i[0]),
    "relu": lambda i, a, k: torch.relu(i[0]),
    "leakyRelu": lambda i, a, k: F.leaky_relu(i[0], *a),
    "gelu": lambda i, a, k: F.gelu(i[0], **k),
    "matmul": lambda i, a, k: torch.matmul(i[0], i[1]),
    "sum": reduction(torch.sum, torch.sum),
    "mean": reduction(torch.mean, torch.mean),
    "max": reduction(torch.max, torch.amax),
    "min": reduction(torch.min, torch.amin),
    "logsumexp": reduction(lambda x: torch.logsumexp(x.reshape(-1), 0), torch.logsumexp),
    "argmax": indices(torch.argmax),
    "argmin": indices(torch.argmin),
    "reshape": lambda i, a, k: i[0].reshape(a[0]),
    "view": lambda i, a, k: i[0].view(a[0]),
    "flatten": lambda i, a, k: torch.flatten(i[0], *a),
    "transpose": lambda i, a, k: i[0].transpose(*a),
    "permute": lambda i, a, k: i[0].permute(*a[0]),
    "squeeze": lambda i, a, k: i[0].squeeze(*a),
    "unsqueeze": lambda i, a, k: i[0].unsqueeze(*a),
    "expand": lambda i, a, k: i[0].expand(*a[0]),
    "cat": lambda i, a, k: torch.cat(i, *a),
    "stack": lambda i, a, k: torch.stack(i, *a),
    "narrow": lambda i, a, k: i[0].narrow(*a),
    "indexSelect": lambda i, a, k: torch.index_select(i[0], a[0], i[1]),
    "gather": lambda i, a, k: torch.gather(i[0], a[0], i[1]),
    "softmax": lambda i, a, k: torch.softmax(i[0], a[0]),
    "logSoftmax": lambda i, a, k: torch.log_softmax(i[0], a[0]),
}


# Composites: the same graphs are spelled with tapegrad's API in test/fixtures.test.ts.

def mlp_xent(x, w1, b1, w2, b2, labels):
    h = torch.tanh(x @ w1 + b1)
    logp = torch.log_softmax(h @ w2 + b2, -1)
    return -torch.gather(logp, 1, labels).mean()


def layernorm(x, g, b):
    """Layer norm over the last dim with gain and bias."""
    centered = x - x.mean(-1, True)
    variance = centered.pow(2).mean(-1, True)
    return centered / (variance + 1e-5).sqrt() * g + b


COMPOSITES = {
    # x*x + exp(x)*x: x fans out into three uses
    "fanout": lambda x: x * x + x.exp() * x,
    # (x + b) * sigmoid(x - b): broadcast operand used twice
    "broadcast_reuse": lambda x, b: (x + b) * (x - b).sigmoid(),
    # mean(((a*b).sum(1) - c)^2)
    "sq_error": lambda a, b, c: ((a * b).sum(1) - c).pow(2).mean(),
    # x * detach(x) + x: gradient flows through one factor only
    "detach": lambda x: x * x.detach() + x,
    # sum(tanh(x @ x^T)): a leaf on both sides of a matmul
    "self_matmul": lambda x: (x @ x.transpose(0, 1)).tanh().sum(),
    # softmax(q k^T / sqrt(d)) v
    "attention": lambda q, k, v: ((q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])).softmax(-1) @ v,
    "layernorm": layernorm,
    # permute -> reshape -> narrow -> transpose -> mul -> sum(0)
    "shape_chain": lambda x, w: x.permute(2, 0, 1).reshape(4, 6).narrow(1, 1, 4).transpose(0, 1).mul(w).sum(0),
    # tanh(narrow(cat([x, 2x, y], 1), 1, 2, 4))
    "cat_fanout": lambda x, y: torch.cat([x, x * 2, y], 1).narrow(1, 2, 4).tanh(),
    # max(x, 1) - min(x, 1) + logsumexp(x, 1)
    "max_min_lse": lambda x: torch.amax(x, 1) - torch.amin(x, 1) + torch.logsumexp(x, 1),
    # sum(indexSelect(E, 0, ids) * w, -1): embedding lookup with repeated ids
    "embedding": lambda e, ids, w: (torch.index_select(e, 0, ids) * w).sum(-1),
    # sum(expand(unsqueeze(x, 1), [3, 4, 2]) * y, 1)
    "expand_chain": lambda x, y: (x.unsqueeze(1).expand(3, 4, 2) * y).sum(1),
    # relu(x) * gelu(x) + abs(leakyRelu(x, 0.2))
    "activations": lambda x: x.relu() * F.gelu(x) + F.leaky_relu(x, 0.2).abs(),
    # cross-entropy of a two-layer tanh MLP: grads for W1 b1 W2 b2
    "mlp_xent": mlp_xent,
}

for _name, _fn in COMPOSITES.items():
    OPS["composite:" + _name] = (lambda fn: lambda i, a, k: fn(*i))(_fn)


# ----------------------------------------------------------------------------- cases

CASES = []


def case(name, op, make_inputs, args=(), kwargs=None):
    """make_inputs: Gen -> list of T / Num / Idx."""
    CASES.append((name, op, make_inputs, list(args), kwargs or {}))


def fmt_args(args, empty="all"):
    """(0, [1,2], true) -- the JS call's argument list, for case names."""
    if not args:
        return f"({empty})"
    return "(" + ", ".join(sh(a) if isinstance(a, list) else json.dumps(a) for a in args) + ")"


# -- binary, broadcasting

BROADCAST = [  # (a shape, b shape)
    ((5,), (5,)),
    ((2, 3), (2, 3)),
    ((2, 3, 4), (2, 3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
    ((1,), (2, 3)),
    ((2, 1, 3), (2, 4, 3)),
    ((1, 1), (3, 1)),
]

# value generators for (a, b) per op: keep denominators away from 0, bases positive
ARITH = {
    "add": (Gen.randn, Gen.randn),
    "sub": (Gen.randn, Gen.randn),
    "mul": (Gen.randn, Gen.randn),
    "div": (Gen.randn, lambda g, *s: g.away(*s, margin=0.5)),
}
SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}

for op, (ga, gb) in ARITH.items():
    s = SYMBOL[op]
    for sa, sb in BROADCAST:
        case(f"{op}: {sh(sa)} {s} {sh(sb)}", op, lambda g, sa=sa, sb=sb, ga=ga, gb=gb: [T(ga(g, *sa)), T(gb(g, *sb))])
    case(f"{op}: [2,3] {s} [3], second operand without grad", op,
         lambda g, ga=ga, gb=gb: [T(ga(g, 2, 3)), T(gb(g, 3), grad=False)])
    case(f"{op}: [2,3] without grad {s} [2,1]", op,
         lambda g, ga=ga, gb=gb: [T(ga(g, 2, 3), grad=False), T(gb(g, 2, 1))])
    case(f"{op}: [2,3] {s} 2.5", op, lambda g, ga=ga: [T(ga(g, 2, 3)), Num(2.5)])
    case(f"{op}: 3 {s} [2,3]", op, lambda g, gb=gb: [Num(3), T(gb(g, 2, 3))])
    case(f"{op}: [] {s} -0.75", op, lambda g, ga=ga: [T(ga(g)), Num(-0.75)])

POW = [
    ("pow: [2,3] ** 2.5, positive base", lambda g: [T(g.pos(2, 3)), Num(2.5)]),
    ("pow: [2,3] ** 2, negative values", lambda g: [T(g.randn(2, 3)), Num(2)]),
    ("pow: [5] ** 3, negative values", lambda g: [T(g.randn(5)), Num(3)]),
    ("pow: [4] ** -1.5, positive base", lambda g: [T(g.pos(4)), Num(-1.5)]),
    ("pow: [2,2] ** 0.5, positive base", lambda g: [T(g.pos(2, 2)), Num(0.5)]),
    ("pow: [] ** 1.7, positive base", lambda g: [T(g.pos()), Num(1.7)]),
    ("pow: 2 ** [2,3]", lambda g: [Num(2), T(g.randn(2, 3))]),
    ("pow: 0.5 ** [4]", lambda g: [Num(0.5), T(g.randn(4))]),
    ("pow: [2,3] ** [2,3], positive base", lambda g: [T(g.pos(2, 3)), T(g.randn(2, 3))]),
    ("pow: [3,1] ** [1,4], positive base", lambda g: [T(g.pos(3, 1)), T(g.randn(1, 4))]),
    ("pow: [2,3,4] ** [4], positive base", lambda g: [T(g.pos(2, 3, 4)), T(g.randn(4))]),
    ("pow: [2,3] ** [], positive base", lambda g: [T(g.pos(2, 3)), T(g.randn())]),
    ("pow: [] ** [2,3], positive base", lambda g: [T(g.pos()), T(g.randn(2, 3))]),
    ("pow: [2,3] ** [2,3] exponent without grad", lambda g: [T(g.pos(2, 3)), T(g.randn(2, 3), grad=False)]),
    ("pow: [2,3] without grad ** [3]", lambda g: [T(g.pos(2, 3), grad=False), T(g.randn(3))]),
]
for name, make in POW:
    case(name, "pow", make)

for op in ("maximum", "minimum"):
    for sa, sb in [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)),
                   ((), (2, 3)), ((2, 3), ())]:
        case(f"{op}: {sh(sa)}, {sh(sb)}", op,
             lambda g, sa=sa, sb=sb: [T(g.lattice(*sa)), T(g.lattice(*sb, odd=True))])
    case(f"{op}: [2,3], 0.3", op, lambda g: [T(g.lattice(2, 3)), Num(0.3)])
    case(f"{op}: -0.1, [5]", op, lambda g: [Num(-0.1), T(g.lattice(5))])
    case(f"{op}: [2,3], [3] without grad", op,
         lambda g: [T(g.lattice(2, 3)), T(g.lattice(3, odd=True), grad=False)])

# -- unary

UNARY = [  # (name, op, args, kwargs, generator)
    ("neg", "neg", [], {}, Gen.randn),
    ("abs", "abs", [], {}, Gen.away),
    ("exp", "exp", [], {}, lambda g, *s: g.uniform(-3, 3, *s)),
    ("log", "log", [], {}, lambda g, *s: g.pos(*s, lo=0.05, hi=5)),
    ("sqrt", "sqrt", [], {}, lambda g, *s: g.pos(*s, lo=0.05, hi=5)),
    ("tanh", "tanh", [], {}, lambda g, *s: g.randn(*s, scale=1.5)),
    ("sigmoid", "sigmoid", [], {}, lambda g, *s: g.randn(*s, scale=2)),
    ("relu", "relu", [], {}, Gen.away),
    ("leakyRelu(0.2)", "leakyRelu", [0.2], {}, Gen.away),
    ("leakyRelu()", "leakyRelu", [], {}, Gen.away),
    ("gelu()", "gelu", [], {}, lambda g, *s: g.randn(*s, scale=2)),
    ("gelu({approximate:'none'})", "gelu", [], {"approximate": "none"}, lambda g, *s: g.randn(*s, scale=2)),
    ("gelu({approximate:'tanh'})", "gelu", [], {"approximate": "tanh"}, lambda g, *s: g.randn(*s, scale=2)),
]
for label, op, args, kwargs, gen in UNARY:
    for shape in [(7,), (2, 3, 4), ()]:
        case(f"{label}: {sh(shape)}", op, lambda g, gen=gen, shape=shape: [T(gen(g, *shape))], args, kwargs)
for label, op, args, kwargs in [("tanh", "tanh", [], {}), ("sigmoid", "sigmoid", [], {}),
                                ("gelu()", "gelu", [], {}), ("gelu({approximate:'tanh'})", "gelu", [], {"approximate": "tanh"}),
                                ("exp", "exp", [], {})]:
    lim = 20 if op == "exp" else 30
    case(f"{label}: [12], wide range [-{lim},{lim}]", op,
         lambda g, lim=lim: [T(np.concatenate([[-lim, lim], g.uniform(-lim, lim, 10)]))], args, kwargs)
case("log: [6], tiny and large", "log", lambda g: [T([1e-4, 3e-3, 0.5, 7.0, 250.0, 1e4])])
case("sqrt: [6], tiny and large", "sqrt", lambda g: [T([1e-4, 3e-3, 0.5, 7.0, 250.0, 1e4])])

# -- matmul

MATMUL = [
    ((5,), (5,)),
    ((4,), (4, 3)),
    ((3, 4), (4,)),
    ((3, 4), (4, 5)),
    ((1, 6), (6, 4)),
    ((5, 6), (6, 1)),
    ((1, 7), (7, 1)),
    ((4, 1), (1, 3)),
    ((2, 3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((1, 3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (3, 4, 5)),
    ((2, 3, 2, 4), (2, 3, 4, 3)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
    ((33, 65), (65, 17)),
    ((3, 9, 40), (40, 11)),
]
for sa, sb in MATMUL:
    case(f"matmul: {sh(sa)} @ {sh(sb)}", "matmul", lambda g, sa=sa, sb=sb: [T(g.randn(*sa)), T(g.randn(*sb))])
case("matmul: [3,4] @ [4,5] without grad", "matmul", lambda g: [T(g.randn(3, 4)), T(g.randn(4, 5), grad=False)])
case("matmul: [3,4] without grad @ [2,4,5]", "matmul", lambda g: [T(g.randn(3, 4), grad=False), T(g.randn(2, 4, 5))])

# -- reductions

REDUCE = [  # (shape, args)
    ((2, 3, 4), []),
    ((2, 3, 4), [0]),
    ((2, 3, 4), [1, True]),
    ((2, 3, 4), [-1]),
    ((2, 3, 4), [-1, True]),
    ((2, 3, 4), [[0, 2]]),
    ((2, 3, 4), [[-1, 0], True]),
    ((2, 3, 4), [[0, 1, 2]]),
    ((7,), [0]),
    ((), []),
    ((1,), []),
    ((3, 1, 2), [1]),
    ((3, 200), [-1]),
]
for op in ("sum", "mean", "max", "min", "logsumexp"):
    gen = Gen.distinct if op in ("max", "min") else Gen.randn
    for shape, args in REDUCE:
        case(f"{op}: {sh(shape)} {fmt_args(args)}", op, lambda g, gen=gen, shape=shape: [T(gen(g, *shape))], args)
case("logsumexp: [2,5] dim 1, logits of +-100", "logsumexp",
     lambda g: [T([[100, -100, 99.5, 0, 3], [-100, -99, -100, -101, -98]])], [1])
case("logsumexp: [4] all, logits of 100", "logsumexp", lambda g: [T([100, 98, 101, -50])])

for op in ("argmax", "argmin"):
    for shape, args in [((3, 4, 5), []), ((3, 4, 5), [0]), ((3, 4, 5), [1]), ((3, 4, 5), [-1, True]),
                        ((6,), [0])]:
        case(f"{op}: {sh(shape)} {fmt_args(args)}", op, lambda g, shape=shape: [T(g.distinct(*shape), grad=False)], args)

# -- shape ops

def shape_case(op, shape, args, note=""):
    case(f"{op}: {sh(shape)} {fmt_args(args, 'defaults')}{note}", op, lambda g: [T(g.randn(*shape))], args)


for shape, new in [((2, 3, 4), [6, 4]), ((2, 3, 4), [-1]), ((2, 3, 4), [4, -1, 2]), ((), [1]), ((1,), []),
                   ((6,), [2, 1, 3])]:
    shape_case("reshape", shape, [new])
for shape, new in [((2, 3, 4), [3, 8]), ((2, 3, 4), [-1, 2]), ((4,), [1, 4, 1])]:
    shape_case("view", shape, [new])
for shape, args in [((2, 3, 4), []), ((2, 3, 4), [1]), ((2, 3, 4), [0, 1]), ((2, 3, 4, 2), [1, 2]),
                    ((2, 3, 4), [-2, -1]), ((), [])]:
    shape_case("flatten", shape, args)
for shape, args in [((2, 3), [0, 1]), ((2, 3, 4), [0, 2]), ((2, 3, 4), [-1, -2]), ((2, 3, 4), [-1, 0]),
                    ((2, 3), [1, 1])]:
    shape_case("transpose", shape, args)
for shape, perm in [((2, 3, 4), [2, 0, 1]), ((2, 3, 4), [0, 2, 1]), ((2, 3, 4, 5), [1, 3, 0, 2]), ((3, 4), [1, 0])]:
    shape_case("permute", shape, [perm])
for shape, args in [((1, 3, 1, 2), []), ((1, 3, 1, 2), [0]), ((1, 3, 1, 2), [-2]), ((1,), []),
                    ((2, 3), [1]), ((3, 1), [-1])]:
    shape_case("squeeze", shape, args, note=" no-op: size is not 1" if args and shape[args[0]] != 1 else "")
for shape, args in [((2, 3), [0]), ((2, 3), [1]), ((2, 3), [2]), ((2, 3), [-1]), ((2, 3), [-3]), ((), [0])]:
    shape_case("unsqueeze", shape, args)
for shape, new in [((3, 1), [3, 4]), ((3, 1), [-1, 4]), ((3,), [2, 3]), ((1, 3), [2, 4, 3]), ((), [2, 3]),
                   ((2, 1, 1), [-1, 3, 4]), ((2, 1), [3, -1, 2])]:
    shape_case("expand", shape, [new])


def multi_case(op, shapes, args, grads=None, note=""):
    grads = grads or [True] * len(shapes)
    case(f"{op}: {', '.join(sh(s) for s in shapes)} {fmt_args(args, 'default dim')}{note}", op,
         lambda g: [T(g.randn(*s), grad=r) for s, r in zip(shapes, grads)], args)


multi_case("cat", [(2, 3), (1, 3)], [0])
multi_case("cat", [(2, 3), (2, 2)], [1])
multi_case("cat", [(2, 3, 2), (2, 3, 1)], [-1])
multi_case("cat", [(2, 3), (4, 3), (1, 3)], [0])
multi_case("cat", [(2, 1), (2, 3), (2, 2)], [1], grads=[True, False, True], note=", middle without grad")
multi_case("cat", [(2, 2), (3, 2)], [])
multi_case("cat", [(2, 3, 4), (2, 1, 4)], [-2])
multi_case("stack", [(2, 3), (2, 3)], [0])
multi_case("stack", [(2, 3), (2, 3), (2, 3)], [1])
multi_case("stack", [(2, 3), (2, 3)], [-1])
multi_case("stack", [(4,), (4,), (4,)], [])
multi_case("stack", [(), ()], [0])
multi_case("stack", [(2, 2), (2, 2)], [2], grads=[False, True], note=", first without grad")

for shape, args in [((4, 3), [0, 1, 2]), ((4, 3), [1, 0, 2]), ((2, 3, 5), [-1, 2, 3]), ((4, 3), [0, 0, 4]),
                    ((6,), [0, 5, 1])]:
    shape_case("narrow", shape, args)

for shape, dim, idx in [((4, 3), 0, [2, 0, 2, 1, 2]), ((3, 5), 1, [0, 0, 4]), ((2, 3, 4), -1, [3, 1, 3]),
                        ((5,), 0, [4, 4, 0]), ((2, 3, 4), 1, [1])]:
    case(f"indexSelect: {sh(shape)} dim {dim} {idx}", "indexSelect",
         lambda g, shape=shape, idx=idx: [T(g.randn(*shape)), Idx(idx)], [dim])

for shape, dim, ishape in [((3, 4), 0, (2, 4)), ((3, 4), 1, (3, 6)), ((2, 3, 4), -1, (2, 3, 5)),
                           ((3, 4), 1, (2, 2)), ((2, 3, 4), 1, (2, 5, 4))]:
    case(f"gather: {sh(shape)} dim {dim} index {sh(ishape)}", "gather",
         lambda g, shape=shape, dim=dim, ishape=ishape: [T(g.randn(*shape)), Idx(g.index(shape[dim], *ishape))],
         [dim])

# -- softmax family

for op in ("softmax", "logSoftmax"):
    for shape, dim in [((3, 4), 0), ((3, 4), 1), ((3, 4), -1), ((2, 3, 4), 1), ((5,), 0), ((2, 3, 4), -3)]:
        case(f"{op}: {sh(shape)} dim {dim}", op, lambda g, shape=shape: [T(g.randn(*shape, scale=2))], [dim])
    case(f"{op}: [2,4] dim -1, logits of +-100", op,
         lambda g: [T([[100, -100, 99, 0], [-100, -100, -99.5, -100]])], [-1])
    case(f"{op}: [3,2] dim 0, logits of +-100", op, lambda g: [T([[100, -100], [-100, 100], [90, 100]])], [0])

# -- composites

COMPOSITE_CASES = [
    ("fanout", "[2,3]", lambda g: [T(g.randn(2, 3))]),
    ("fanout", "[]", lambda g: [T(g.randn())]),
    ("broadcast_reuse", "[3,4], [4]", lambda g: [T(g.randn(3, 4)), T(g.randn(4))]),
    ("sq_error", "[4,3], [4,3], [4]", lambda g: [T(g.randn(4, 3)), T(g.randn(4, 3)), T(g.randn(4))]),
    ("detach", "[2,3]", lambda g: [T(g.randn(2, 3))]),
    ("self_matmul", "[3,4]", lambda g: [T(g.randn(3, 4, scale=0.5))]),
    ("attention", "[2,4,3], [2,5,3], [2,5,2]", lambda g: [T(g.randn(2, 4, 3)), T(g.randn(2, 5, 3)), T(g.randn(2, 5, 2))]),
    ("layernorm", "[3,6], [6], [6]", lambda g: [T(g.randn(3, 6)), T(g.randn(6)), T(g.randn(6))]),
    ("shape_chain", "[2,3,4], [4,4]", lambda g: [T(g.randn(2, 3, 4)), T(g.randn(4, 4))]),
    ("cat_fanout", "[2,3], [2,2]", lambda g: [T(g.randn(2, 3)), T(g.randn(2, 2))]),
    ("max_min_lse", "[3,5]", lambda g: [T(g.distinct(3, 5))]),
    ("embedding", "[5,3], ids [4,1,4,4,0], [3]", lambda g: [T(g.randn(5, 3)), Idx([4, 1, 4, 4, 0]), T(g.randn(3))]),
    ("expand_chain", "[3,2], [4,2]", lambda g: [T(g.randn(3, 2)), T(g.randn(4, 2))]),
    ("activations", "[2,5]", lambda g: [T(g.away(2, 5))]),
]


def mlp_inputs(batch, n_in, hidden, n_out):
    def make(g):
        return [
            T(g.randn(batch, n_in), grad=False),
            T(g.randn(n_in, hidden, scale=1 / math.sqrt(n_in))),
            T(g.randn(hidden, scale=0.1)),
            T(g.randn(hidden, n_out, scale=1 / math.sqrt(hidden))),
            T(g.randn(n_out, scale=0.1)),
            Idx(g.index(n_out, batch, 1)),
        ]
    return make


COMPOSITE_CASES += [
    ("mlp_xent", "x[8,5] W1[5,16] b1[16] W2[16,3] b2[3]", mlp_inputs(8, 5, 16, 3)),
    ("mlp_xent", "x[4,3] W1[3,7] b1[7] W2[7,5] b2[5]", mlp_inputs(4, 3, 7, 5)),
]
for name, label, make in COMPOSITE_CASES:
    case(f"composite:{name}: {label}", "composite:" + name, make)


# ----------------------------------------------------------------------------- run

def run_case(name, op, make_inputs, args, kwargs):
    g = Gen(name)
    specs = make_inputs(g)
    inputs, spec_json = [], []
    for s in specs:
        if isinstance(s, T):
            t = torch.tensor(s.data, dtype=torch.float32, requires_grad=s.grad)
            inputs.append(t)
            spec_json.append({"shape": list(s.data.shape), "data": flat(s.data), "requiresGrad": s.grad})
        elif isinstance(s, Num):
            inputs.append(s.value)
            spec_json.append({"number": s.value})
        else:
            inputs.append(torch.tensor(s.data, dtype=torch.int64))
            spec_json.append({"index": {"shape": list(s.data.shape), "data": [int(v) for v in s.data.ravel()]}})

    out = OPS[op](inputs, args, kwargs)
    assert out.dtype == torch.float32, (name, out.dtype)
    upstream = backward_with_upstream(out, g) if out.requires_grad else None

    grads = []
    for s, t in zip(specs, inputs):
        if isinstance(s, T) and s.grad:
            assert t.grad is not None, f"{name}: an input requiring grad got no gradient"
            grads.append(tensor_json(t.grad))
        else:
            grads.append(None)
    return {"name": name, "op": op, "inputs": spec_json, "args": args, "kwargs": kwargs,
            "out": tensor_json(out), "upstream": upstream, "grads": grads}


FAMILIES = {
    "binary": ["add", "sub", "mul", "div", "pow", "maximum", "minimum"],
    "unary": ["neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leakyRelu", "gelu"],
    "matmul": ["matmul"],
    "reduction": ["sum", "mean", "max", "min", "logsumexp", "argmax", "argmin"],
    "shape": ["reshape", "view", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "expand",
              "cat", "stack", "narrow", "indexSelect", "gather"],
    "softmax": ["softmax", "logSoftmax"],
}


def family(op):
    if op.startswith("composite:"):
        return "composite"
    for fam, ops in FAMILIES.items():
        if op in ops:
            return fam
    raise KeyError(op)


def main():
    names = [c[0] for c in CASES]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"duplicate case names: {dupes}"
    results = [run_case(*c) for c in CASES]

    missing = set(OPS) - {r["op"] for r in results}
    assert not missing, f"ops without a case: {missing}"

    lines = [json.dumps(r, separators=(",", ":")) for r in results]
    chunks, cur, size = [], [], 0
    for line in lines:
        if cur and size + len(line) > MAX_FILE_BYTES:
            chunks.append(cur)
            cur, size = [], 0
        cur.append(line)
        size += len(line) + 2
    chunks.append(cur)

    os.makedirs(OUT_DIR, exist_ok=True)
    for f in os.listdir(OUT_DIR):  # drop stale continuation files
        if f.startswith("ops-") and f.endswith(".json"):
            os.remove(os.path.join(OUT_DIR, f))
    written = []
    for k, chunk in enumerate(chunks):
        fname = "ops.json" if k == 0 else f"ops-{k + 1}.json"
        header = json.dumps({
            "generator": "scripts/gen_fixtures.py",
            "torch": torch.__version__,
            "count": len(chunk),
            "totalCount": len(results),
            "files": len(chunks),
        })[:-1]
        path = os.path.join(OUT_DIR, fname)
        with open(path, "w") as fh:
            fh.write(header + ',"cases":[\n' + ",\n".join(chunk) + "\n]}\n")
        written.append((fname, os.path.getsize(path)))

    per_family, per_op = {}, {}
    for r in results:
        per_family[family(r["op"])] = per_family.get(family(r["op"]), 0) + 1
        per_op[r["op"]] = per_op.get(r["op"], 0) + 1
    print(f"torch {torch.__version__}: {len(results)} cases")
    for fam, n in per_family.items():
        ops = ", ".join(f"{op} {per_op[op]}" for op in per_op if family(op) == fam)
        print(f"  {fam:10s} {n:4d}   ({ops})")
    for fname, size in written:
        print(f"  wrote test/fixtures/{fname}: {size:,} bytes")


# ============================================================================= issue 9: selection,
# masking, comparison, clamp and more unary ops (where maskedFill tril triu eq ne lt le gt ge clamp
# clampMin clampMax sin cos square rsqrt silu softplus). A condition / mask is a float tensor whose
# nonzero elements are true; torch gets `!= 0` of it.

def t32(v):
    return v if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=torch.float32)


OPS.update({
    "where": lambda i, a, k: torch.where(t32(i[0]) != 0, t32(i[1]), t32(i[2])),
    "maskedFill": lambda i, a, k: i[0].masked_fill(i[1] != 0, i[2]),
    "tril": lambda i, a, k: torch.tril(i[0], *a),
    "triu": lambda i, a, k: torch.triu(i[0], *a),
    **{name: (lambda fn: lambda i, a, k: fn(t32(i[0]), t32(i[1])).to(torch.float32))(fn)
       for name, fn in [("eq", torch.eq), ("ne", torch.ne), ("lt", torch.lt), ("le", torch.le),
                        ("gt", torch.gt), ("ge", torch.ge)]},
    "clamp": lambda i, a, k: torch.clamp(i[0], *a, **k),
    "clampMin": lambda i, a, k: torch.clamp_min(i[0], *a),
    "clampMax": lambda i, a, k: torch.clamp_max(i[0], *a),
    "sin": lambda i, a, k: torch.sin(i[0]),
    "cos": lambda i, a, k: torch.cos(i[0]),
    "square": lambda i, a, k: torch.square(i[0]),
    "rsqrt": lambda i, a, k: torch.rsqrt(i[0]),
    "silu": lambda i, a, k: F.silu(i[0]),
    "softplus": lambda i, a, k: F.softplus(i[0], **k),
})
FAMILIES["masking"] = ["where", "maskedFill", "tril", "triu", "eq", "ne", "lt", "le", "gt", "ge",
                       "clamp", "clampMin", "clampMax"]
FAMILIES["unary"] += ["sin", "cos", "square", "rsqrt", "silu", "softplus"]


def cond(g, *shape):
    """A condition: about half zeros, the rest nonzero values of either sign (not only 1)."""
    return np.where(g.uniform(0, 1, *shape) < 0.5, 0.0, g.randn(*shape) + np.sign(g.randn(*shape)))


def spec(g, s, grad=True):
    """T of shape s, or Num for s = "n"."""
    return Num(round(float(g.randn()), 3)) if s == "n" else T(g.randn(*s), grad=grad)


WHERE = [  # (condition, input, other) shapes; "n" is a plain number
    ((2, 3), (2, 3), (2, 3)),
    ((3, 1), (1, 4), ()),
    ((4,), (2, 3, 4), "n"),
    ((2, 1, 3), "n", (4, 1)),
    ((), (2, 3), (2, 3)),
    ((2, 3), "n", "n"),
    ((5,), (5,), (1,)),
    ((0, 3), (3,), ()),
    ((2, 2, 2), (2, 1, 2), (1, 2, 1)),
]
for sc, sx, sy in WHERE:
    label = ", ".join("number" if s == "n" else sh(s) for s in (sc, sx, sy))
    case(f"where: {label}", "where",
         lambda g, sc=sc, sx=sx, sy=sy: [T(cond(g, *sc), grad=False), spec(g, sx), spec(g, sy)])
case("where: [2,3], other without grad", "where",
     lambda g: [T(cond(g, 2, 3), grad=False), T(g.randn(2, 3)), T(g.randn(2, 3), grad=False)])

MASKED_FILL = [  # (input, mask) shapes, value
    ((2, 3), (2, 3), -1.5),
    ((2, 3, 4), (3, 1), 2.0),
    ((3, 4), (4,), 0.0),
    ((2, 3), (), -7.25),
    ((0, 4), (4,), 1.0),
    ((5,), (5,), -1e4),
]
for sx, sm, v in MASKED_FILL:
    case(f"maskedFill: {sh(sx)}, mask {sh(sm)}, {v}", "maskedFill",
         lambda g, sx=sx, sm=sm, v=v: [T(g.randn(*sx)), T(cond(g, *sm), grad=False), Num(v)])
case("maskedFill: [2,3], mask [3], 0-d tensor value with grad", "maskedFill",
     lambda g: [T(g.randn(2, 3)), T(cond(g, 3), grad=False), T(g.randn())])

for op in ("tril", "triu"):
    for shape, args in [((3, 4), []), ((4, 3), [1]), ((4, 4), [-1]), ((2, 3, 4), [2]), ((2, 2, 3, 3), [-2]),
                        ((3, 5), [10]), ((3, 5), [-10]), ((0, 3), []), ((2, 0, 3), [1]), ((1, 1), [0])]:
        case(f"{op}: {sh(shape)}{fmt_args(args, empty='')}", op, lambda g, shape=shape: [T(g.randn(*shape))], args)


def ints(g, *shape):
    """Small integers as floats: the comparisons meet ties."""
    return g.index(4, *shape) - 1.0


for op in ("eq", "ne", "lt", "le", "gt", "ge"):
    for sa, sb in [((2, 3), (2, 3)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 3)), ((0, 2), (2,))]:
        case(f"{op}: {sh(sa)}, {sh(sb)}", op,
             lambda g, sa=sa, sb=sb: [T(ints(g, *sa), grad=False), T(ints(g, *sb), grad=False)])
    case(f"{op}: [2,3], 1", op, lambda g: [T(ints(g, 2, 3), grad=False), Num(1)])
    case(f"{op}: 0, [5]", op, lambda g: [Num(0), T(ints(g, 5), grad=False)])


def with_bounds(g, *shape):
    """randn with the bounds ±0.5 themselves among the values (the gradient is 1 on them)."""
    x = np.array(g.randn(*shape))
    x.flat[:2] = [-0.5, 0.5][:min(2, x.size)]
    return x


CLAMP = [  # (label, args, kwargs, shape)
    ("clamp(-0.5, 0.5)", [-0.5, 0.5], {}, (2, 3, 4)),
    ("clamp(-0.5)", [-0.5], {}, (7,)),
    ("clamp(null, 0.5)", [None, 0.5], {}, (7,)),
    ("clamp({min:-0.5, max:0.5})", [], {"min": -0.5, "max": 0.5}, (3, 4)),
    ("clamp({max:0.5})", [], {"max": 0.5}, (3, 4)),
    ("clamp(0.5, -0.5), min > max", [0.5, -0.5], {}, (6,)),
    ("clamp(-0.5, 0.5)", [-0.5, 0.5], {}, ()),
    ("clamp(-0.5, 0.5)", [-0.5, 0.5], {}, (0, 2)),
]
for label, args, kwargs, shape in CLAMP:
    case(f"{label}: {sh(shape)}", "clamp", lambda g, shape=shape: [T(with_bounds(g, *shape))], args, kwargs)
case("clampMin(-0.5): [2,3]", "clampMin", lambda g: [T(with_bounds(g, 2, 3))], [-0.5])
case("clampMax(0.5): [2,3]", "clampMax", lambda g: [T(with_bounds(g, 2, 3))], [0.5])

MORE_UNARY = [  # (label, op, kwargs, generator)
    ("sin", "sin", {}, lambda g, *s: g.randn(*s, scale=3)),
    ("cos", "cos", {}, lambda g, *s: g.randn(*s, scale=3)),
    ("square", "square", {}, Gen.randn),
    ("rsqrt", "rsqrt", {}, lambda g, *s: g.pos(*s, lo=0.05, hi=5)),
    ("silu", "silu", {}, lambda g, *s: g.randn(*s, scale=3)),
    ("softplus()", "softplus", {}, lambda g, *s: g.randn(*s, scale=3)),
    ("softplus({beta:2, threshold:5})", "softplus", {"beta": 2.0, "threshold": 5.0}, lambda g, *s: g.randn(*s, scale=3)),
]
for label, op, kwargs, gen in MORE_UNARY:
    for shape in [(7,), (2, 3, 4), (), (0, 3)]:
        case(f"{label}: {sh(shape)}", op, lambda g, gen=gen, shape=shape: [T(gen(g, *shape))], [], kwargs)
for label, op, kwargs, lim in [("sin", "sin", {}, 1e4), ("cos", "cos", {}, 1e4), ("silu", "silu", {}, 40),
                               ("softplus()", "softplus", {}, 40),
                               ("softplus({beta:0.5, threshold:3})", "softplus", {"beta": 0.5, "threshold": 3.0}, 40)]:
    case(f"{label}: [13], wide range [-{lim:g},{lim:g}]", op,
         lambda g, lim=lim: [T(np.concatenate([[-lim, lim, 1e-3], g.uniform(-lim, lim, 10)]))], [], kwargs)
case("rsqrt: [6], tiny and large", "rsqrt", lambda g: [T([1e-4, 3e-3, 0.5, 7.0, 250.0, 1e4])])
case("softplus(): [6], near the threshold", "softplus", lambda g: [T([19.9, 20.0, 20.1, -20.0, 1e-4, -1e-4])])

# ============================================================================= issue 9: var std cumsum clone
# split chunk unbind oneHot sort topk (branch ops-shape). Ops that return several tensors are spelled
# as one: split/chunk/unbind give [count, each piece's dims..., piece k flattened times k + 1 ...]
# (so the size rules and the routing of each piece's gradient are both checked); sort/topk give
# stack([values, indices]).

def pieces_out(ps):
    head = torch.tensor([len(ps)] + [d for p in ps for d in p.shape], dtype=torch.float32)
    return torch.cat([head] + [p.reshape(-1) * (k + 1) for k, p in enumerate(ps)])


def sorted_out(r):
    return torch.stack([r.values, r.indices.to(torch.float32)])


OPS.update({
    "var": lambda i, a, k: torch.var(i[0], a[0], **k),
    "std": lambda i, a, k: torch.std(i[0], a[0], **k),
    "cumsum": lambda i, a, k: torch.cumsum(i[0], a[0]),
    "clone": lambda i, a, k: torch.clone(i[0]),
    "split": lambda i, a, k: pieces_out(torch.split(i[0], *a)),
    "chunk": lambda i, a, k: pieces_out(torch.chunk(i[0], *a)),
    "unbind": lambda i, a, k: pieces_out(torch.unbind(i[0], *a)),
    "sort": lambda i, a, k: sorted_out(torch.sort(i[0], **k)),
    "topk": lambda i, a, k: sorted_out(torch.topk(i[0], *a, **k)),
    "oneHot": lambda i, a, k: F.one_hot(i[0], *a).to(torch.float32),
})
FAMILIES["issue9-shape"] = ["var", "std", "cumsum", "clone", "split", "chunk", "unbind", "sort", "topk", "oneHot"]


def kw(k):
    return " " + json.dumps(k, separators=(",", ":")) if k else ""


for op in ("var", "std"):
    for shape, dim, k in [((2, 3, 4), None, {}), ((2, 3, 4), 1, {}), ((2, 3, 4), -1, {"keepdim": True}),
                          ((2, 3, 4), [0, 2], {"correction": 0}), ((2, 3, 4), [-1, 0], {"keepdim": True, "correction": 2}),
                          ((5,), 0, {"correction": 0}), ((), None, {"correction": 0}), ((3, 200), -1, {}),
                          ((4, 1), 1, {"correction": 0}), ((0, 3), 1, {}), ((2, 3), 1, {"unbiased": False}),
                          ((2, 3), None, {"keepdim": True})]:
        case(f"{op}: {sh(shape)} dim {dim}{kw(k)}", op, lambda g, shape=shape: [T(g.randn(*shape))], [dim], k)

for shape, dim in [((2, 3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((5,), 0), ((), 0), ((), -1), ((0, 3), 1),
                   ((3, 300), 1)]:
    case(f"cumsum: {sh(shape)} dim {dim}", "cumsum", lambda g, shape=shape: [T(g.randn(*shape))], [dim])
for shape in [(2, 3), ()]:
    case(f"clone: {sh(shape)}", "clone", lambda g, shape=shape: [T(g.randn(*shape))])

for op, shape, args in [("split", (5, 3), [2]), ("split", (5, 3), [[1, 3, 1]]), ("split", (2, 7), [3, -1]),
                        ("split", (2, 6), [[6], 1]), ("split", (4, 3), [4, 0]), ("split", (4, 3), [10]),
                        ("split", (0, 3), [2]), ("split", (4, 0), [0, 1]), ("split", (2, 5), [[2, 0, 3], 1]),
                        ("chunk", (5, 3), [4]), ("chunk", (6,), [4]), ("chunk", (2, 7), [3, -1]),
                        ("chunk", (0, 3), [3, 0]), ("chunk", (3, 2), [5]), ("chunk", (2, 3, 4), [2, -2]),
                        ("unbind", (3, 2), []), ("unbind", (3, 2), [1]), ("unbind", (2, 3, 4), [-1]),
                        ("unbind", (2, 0), [0])]:
    shape_case(op, shape, args)
case("unbind: [0,3] dim 0, no pieces", "unbind", lambda g: [T(g.randn(0, 3), grad=False)], [0])

for shape, k in [((5,), {}), ((3, 4), {"dim": 0}), ((3, 4), {"descending": True}),
                 ((2, 3, 4), {"dim": 1, "descending": True}), ((2, 3, 4), {"dim": -3, "stable": True}), ((), {}),
                 ((0, 3), {"dim": 1}), ((3, 0), {"dim": 0})]:
    case(f"sort: {sh(shape)}{kw(k)}", "sort", lambda g, shape=shape: [T(g.distinct(*shape))], [], k)
for k in [{"stable": True}, {"stable": True, "descending": True}]:
    case(f"sort: ties [8]{kw(k)}", "sort", lambda g: [T([1, 2, 1, 3, 2, 1, 0, 2])], [], k)
for shape, n, k in [((6,), 2, {}), ((3, 5), 3, {"dim": 0}), ((3, 5), 2, {"largest": False}),
                    ((2, 3, 4), 4, {"dim": -1, "largest": True, "sorted": True}), ((3, 4), 0, {}), ((), 1, {}),
                    ((4, 3), 3, {"dim": 1, "largest": False}), ((0, 4), 2, {})]:
    case(f"topk: {sh(shape)} k {n}{kw(k)}", "topk", lambda g, shape=shape: [T(g.distinct(*shape))], [n], k)

for idx, args in [([0, 2, 1], [-1]), ([[3, 0, 1], [4, 4, 2]], [5]), (2, [4]), ([], [3]), ([1, 0], [])]:
    case(f"oneHot: {json.dumps(idx)} {fmt_args(args, 'default numClasses')}", "oneHot", lambda g, idx=idx: [Idx(idx)], args)


if __name__ == "__main__":
    sys.exit(main())
