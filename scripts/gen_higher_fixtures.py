#!/usr/bin/python3
"""PyTorch oracle fixtures for gradients of gradients (createGraph; test/higher.test.ts).

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_higher_fixtures.py

Writes test/fixtures/higher.json.

Second order, one case per op (the test runs the op of the same name):
  {"name", "inputs", "v", "w", "first", "second"}
  first   d/dx_i Σ op(x)·v                              (torch.autograd.grad, create_graph=True)
  second  d/dx_i Σ_j Σ first_j·w_j                        (a Hessian-vector product per input)
Third order: {"name", "inputs", "v", "w", "u", "third"}: one more level, d/dx_i Σ_j Σ second_j·u_j.
Every case draws from its own generator seeded by the CRC-32 of its name; values are rounded to 7
significant digits before torch sees them.
"""

import json
import os

import torch
import torch.nn.functional as F

from fixture_common import Gen, round7, tensor_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "higher.json")
torch.set_default_dtype(torch.float64)  # the oracle in float64; the test compares float32 results


def t(a):
    return torch.tensor(round7(a), requires_grad=True)


MASK23 = torch.tensor([[True, False, True], [False, False, True]])
LABELS = torch.tensor([0, 3, 1])

# name → (input makers from a Gen, op). The test has a function of the same name.
OPS = {
    "add broadcast": (lambda g: [g.randn(2, 3), g.randn(3)], lambda a, b: a + b),
    "sub broadcast": (lambda g: [g.randn(2, 1), g.randn(3)], lambda a, b: a - b),
    "mul broadcast": (lambda g: [g.randn(2, 3), g.randn(1, 3)], lambda a, b: a * b),
    "div broadcast": (lambda g: [g.randn(2, 3), g.pos(3)], lambda a, b: a / b),
    "pow tensors": (lambda g: [g.pos(2, 3), g.randn(2, 3)], lambda a, b: a ** b),
    "pow 3": (lambda g: [g.randn(4)], lambda a: a ** 3),
    "pow 0.5": (lambda g: [g.pos(4)], lambda a: a ** 0.5),
    "2 ** x": (lambda g: [g.randn(4)], lambda a: 2 ** a),
    "3 * x": (lambda g: [g.randn(4)], lambda a: 3 * a),
    "2 / x": (lambda g: [g.pos(4)], lambda a: 2 / a),
    "x / 4": (lambda g: [g.randn(4)], lambda a: a / 4),
    "1 - x": (lambda g: [g.randn(4)], lambda a: 1 - a),
    "neg": (lambda g: [g.randn(4)], lambda a: -a),
    "exp": (lambda g: [g.randn(4)], torch.exp),
    "log": (lambda g: [g.pos(4)], torch.log),
    "sqrt": (lambda g: [g.pos(4)], torch.sqrt),
    "tanh": (lambda g: [g.randn(4)], torch.tanh),
    "sigmoid": (lambda g: [g.randn(4)], torch.sigmoid),
    "relu": (lambda g: [g.away(4)], torch.relu),
    "leakyRelu": (lambda g: [g.away(4)], lambda a: F.leaky_relu(a, 0.1)),
    "abs": (lambda g: [g.away(4)], torch.abs),
    "sin": (lambda g: [g.randn(4)], torch.sin),
    "cos": (lambda g: [g.randn(4)], torch.cos),
    "square": (lambda g: [g.randn(4)], torch.square),
    "rsqrt": (lambda g: [g.pos(4)], torch.rsqrt),
    "silu": (lambda g: [g.randn(4)], F.silu),
    "sum dim 1": (lambda g: [g.randn(2, 3, 4)], lambda a: (a ** 2).sum(1)),
    "mean dims [0, 2], keepdim": (lambda g: [g.randn(2, 3, 4)], lambda a: (a ** 2).mean((0, 2), keepdim=True)),
    "softmax dim 1": (lambda g: [g.randn(2, 3, 4)], lambda a: torch.softmax(a, 1)),
    "logSoftmax dim -1": (lambda g: [g.randn(2, 5)], lambda a: torch.log_softmax(a, -1)),
    "reshape": (lambda g: [g.randn(2, 6)], lambda a: (a ** 2).reshape(3, 4)),
    "permute": (lambda g: [g.randn(2, 3, 4)], lambda a: (a ** 2).permute(2, 0, 1)),
    "expand": (lambda g: [g.randn(1, 3)], lambda a: (a ** 2).expand(2, 3)),
    "matmul": (lambda g: [g.randn(2, 3), g.randn(3, 4)], lambda a, b: torch.tanh(a @ b)),
    "matmul batched broadcast": (lambda g: [g.randn(2, 3, 4), g.randn(4, 2)], lambda a, b: torch.tanh(a @ b)),
    "matmul vector-matrix": (lambda g: [g.randn(3), g.randn(3, 2)], lambda a, b: torch.tanh(a @ b)),
    "matmul matrix-vector": (lambda g: [g.randn(2, 3), g.randn(3)], lambda a, b: torch.tanh(a @ b)),
    "linear": (lambda g: [g.randn(4, 3), g.randn(2, 3), g.randn(2)], lambda x, w, b: torch.tanh(F.linear(x, w, b))),
    "mseLoss": (lambda g: [g.randn(2, 3), g.randn(2, 3)], lambda a, b: F.mse_loss(torch.tanh(a), b)),
    "maximum": (lambda g: [g.lattice(2, 3), g.lattice(3, odd=True)], lambda a, b: torch.maximum(a, b) ** 2),
    "minimum 0.3": (lambda g: [g.away(4)], lambda a: torch.clamp(a, max=0.3) ** 2),
    "gelu tanh": (lambda g: [g.randn(4)], lambda a: F.gelu(a, approximate="tanh")),
    "clamp": (lambda g: [g.lattice(5)], lambda a: torch.clamp(a, -0.5, 0.7) ** 2),
    "softplus": (lambda g: [g.randn(5)], lambda a: F.softplus(a, beta=2, threshold=3)),
    "where": (lambda g: [g.randn(2, 3), g.randn(2, 3)], lambda a, b: torch.where(MASK23, a ** 2, b ** 3)),
    "maskedFill": (lambda g: [g.randn(2, 3)], lambda a: (a ** 2).masked_fill(MASK23, 2.0) ** 2),
    "tril": (lambda g: [g.randn(3, 3)], lambda a: torch.tril(a ** 2)),
    "triu 1": (lambda g: [g.randn(3, 3)], lambda a: torch.triu(a ** 2, 1)),
    "logsumexp dim 1": (lambda g: [g.randn(2, 4)], lambda a: torch.logsumexp(a, 1)),
    "max dim 1": (lambda g: [g.distinct(2, 4)], lambda a: torch.max(a, 1).values ** 2),
    "min": (lambda g: [g.distinct(2, 3)], lambda a: a.min() ** 2),
    "var dim 1": (lambda g: [g.randn(2, 4)], lambda a: torch.var(a, 1)),
    "std dim 1": (lambda g: [g.randn(2, 4)], lambda a: torch.std(a, 1)),
    "cumsum dim 1": (lambda g: [g.randn(2, 4)], lambda a: torch.cumsum(a, 1) ** 2),
    "narrow": (lambda g: [g.randn(2, 5)], lambda a: a.narrow(1, 1, 2) ** 2),
    "cat": (lambda g: [g.randn(2, 2), g.randn(2, 3)], lambda a, b: torch.cat([a, b], 1) ** 2),
    "indexSelect": (lambda g: [g.randn(2, 3)], lambda a: torch.index_select(a, 1, torch.tensor([2, 0, 2])) ** 2),
    "sort": (lambda g: [g.distinct(2, 4)], lambda a: torch.sort(a, 1).values ** 2),
    "topk 2": (lambda g: [g.distinct(2, 4)], lambda a: torch.topk(a, 2, 1).values ** 2),
    "crossEntropy": (lambda g: [g.randn(3, 4)], lambda a: F.cross_entropy(a, LABELS)),
    "crossEntropy smoothing 0.1, sum": (lambda g: [g.randn(3, 4)], lambda a: F.cross_entropy(a, LABELS, label_smoothing=0.1, reduction="sum")),
    "nllLoss": (lambda g: [g.randn(3, 4)], lambda a: F.nll_loss(F.log_softmax(a, 1), LABELS)),
    "bce with logits": (lambda g: [g.randn(2, 3), g.uniform(0, 1, 2, 3)], lambda a, t: F.binary_cross_entropy_with_logits(a, t)),
    "layerNorm": (lambda g: [g.randn(3, 4), g.randn(4), g.randn(4)], lambda x, w, b: torch.tanh(F.layer_norm(x, [4], w, b))),
    "gelu": (lambda g: [g.randn(6) * 2], F.gelu),
    "gelu near 0": (lambda g: [g.randn(5) * 0.15], F.gelu),
    "gather dim 1": (lambda g: [g.randn(2, 3)], lambda a: torch.gather(a, 1, torch.tensor([[2, 0, 2], [1, 1, 0]])) ** 2),
    "conv2d": (lambda g: [g.randn(2, 2, 5, 5), g.randn(3, 2, 3, 3), g.randn(3)],
               lambda x, w, b: torch.tanh(F.conv2d(x, w, b, stride=2, padding=1))),
    "conv2d dilation 2, groups 2": (lambda g: [g.randn(1, 4, 6, 6), g.randn(4, 2, 2, 2)],
                                    lambda x, w: torch.tanh(F.conv2d(x, w, None, stride=1, padding=1, dilation=2, groups=2))),
    "convTranspose2d": (lambda g: [g.randn(1, 2, 3, 3), g.randn(2, 3, 3, 3), g.randn(3)],
                        lambda x, w, b: torch.tanh(F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1))),
    "avgPool2d": (lambda g: [g.randn(1, 2, 5, 5)], lambda x: F.avg_pool2d(x, 3, stride=2, padding=1) ** 2),
    "maxPool2d": (lambda g: [g.distinct(1, 2, 5, 5)], lambda x: F.max_pool2d(x, 3, stride=2, padding=1) ** 2),
    "maxPool2d 2x2": (lambda g: [g.distinct(2, 1, 4, 4)], lambda x: torch.tanh(F.max_pool2d(x, 2))),
    "attention causal": (lambda g: [g.randn(2, 4, 3), g.randn(2, 5, 3), g.randn(2, 5, 2)], lambda q, k, v: torch.tanh(sdpa(q, k, v, None, True))),
    "attention mask": (lambda g: [g.randn(3, 3), g.randn(4, 3), g.randn(4, 2), g.randn(3, 4)], lambda q, k, v, m: torch.tanh(sdpa(q, k, v, m, False))),
    "lstm": (lambda g: [g.randn(3, 2, 3), g.randn(8, 3) * 0.5, g.randn(8, 2) * 0.5, g.randn(8) * 0.1, g.randn(8) * 0.1],
             lambda x, wi, wh, bi, bh: lstm_out(x, wi, wh, bi, bh)),
    "gru": (lambda g: [g.randn(3, 2, 2), g.randn(6, 2) * 0.5, g.randn(6, 2) * 0.5, g.randn(6) * 0.1, g.randn(6) * 0.1],
                          lambda x, wi, wh, bi, bh: gru_out(x, wi, wh, bi, bh)),
}


def sdpa(q, k, v, mask, causal):
    """PyTorch 2's scaled_dot_product_attention by its formula (Debian's 1.13 predates it)."""
    s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    if mask is not None:
        s = s + mask
    if causal:
        s = s + torch.triu(torch.full((q.shape[-2], k.shape[-2]), float("-inf")), 1)
    return torch.softmax(s, -1) @ v


def lstm_out(x, wi, wh, bi, bh):
    """nn.LSTM(3, 2)'s output for these weights (input, hx, params, has_biases, layers, dropout, train, bidirectional, batch_first)."""
    out = torch._VF.lstm(x, (torch.zeros(1, 2, 2), torch.zeros(1, 2, 2)), [wi, wh, bi, bh], True, 1, 0.0, False, False, False)[0]
    return out


def gru_out(x, wi, wh, bi, bh):
    out = torch._VF.gru(x, torch.zeros(1, 2, 2), [wi, wh, bi, bh], True, 1, 0.0, False, False, False)[0]
    return out

THIRD = {
    "tanh": (lambda g: [g.randn(4)], torch.tanh),
    "gelu": (lambda g: [g.randn(6) * 2], F.gelu),
    "exp": (lambda g: [g.randn(4)], torch.exp),
    "sigmoid": (lambda g: [g.randn(4)], torch.sigmoid),
    "softmax dim 1": (lambda g: [g.randn(2, 3, 4)], lambda a: torch.softmax(a, 1)),
    "logSoftmax dim -1": (lambda g: [g.randn(2, 5)], lambda a: torch.log_softmax(a, -1)),
    "matmul chain": (lambda g: [g.randn(2, 3), g.randn(3, 4), g.randn(4, 2)], lambda a, b, c: a @ b @ c),
}


def level(outs, xs, seeds, create):
    """d/dxs Σ outs·seeds (outs and seeds lists), None for an input it does not depend on → zeros."""
    total = sum((o * s).sum() for o, s in zip(outs, seeds))
    if not total.requires_grad:  # a derivative that is constant (add's, neg's): the next is zero
        return [torch.zeros_like(x) for x in xs]
    gs = torch.autograd.grad(total, xs, create_graph=create, allow_unused=True)
    # (PyTorch answers some zeros with a ZeroTensor, which has no storage to read: written as zeros)
    return [torch.zeros_like(x) if gr is None or gr._is_zerotensor() else gr for x, gr in zip(xs, gs)]


def case(name, make, fn, third):
    g = Gen(name)
    xs = [t(a) for a in make(g)]
    y = fn(*xs)
    v = torch.tensor(round7(g.randn(*y.shape)))
    w = [torch.tensor(round7(g.randn(*x.shape))) for x in xs]
    first = level([y], xs, [v], True)
    second = level(first, xs, w, third)
    out = {"name": name, "inputs": [tensor_json(x) for x in xs], "v": tensor_json(v), "w": [tensor_json(a) for a in w],
           "first": [tensor_json(a) for a in first], "second": [tensor_json(a) for a in second]}
    if third:
        u = [torch.tensor(round7(g.randn(*x.shape))) for x in xs]
        out["u"] = [tensor_json(a) for a in u]
        out["third"] = [tensor_json(a) for a in level(second, xs, u, False)]
    return out


def wgan_gp():
    """A WGAN-GP gradient penalty on a critic Linear(3, 8) → LeakyReLU(0.2) → Linear(8, 1)."""
    g = Gen("wgan-gp")
    w1, b1, w2, b2 = t(g.randn(8, 3, scale=0.5)), t(g.randn(8, scale=0.1)), t(g.randn(1, 8, scale=0.5)), t(g.randn(1, scale=0.1))
    real, fake = torch.tensor(round7(g.randn(5, 3))), torch.tensor(round7(g.randn(5, 3)))
    eps = torch.tensor(round7(g.uniform(0, 1, 5, 1)))
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    critic = lambda x: F.linear(F.leaky_relu(F.linear(x, w1, b1), 0.2), w2, b2)
    (gx,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    penalty = ((gx.square().sum(1).sqrt() - 1) ** 2).mean()
    params = [w1, b1, w2, b2]  # b2 does not move the critic's slope: its gradient is zero
    grads = [torch.zeros_like(p) if gr is None else gr for p, gr in zip(params, torch.autograd.grad(penalty, params, allow_unused=True))]
    return {"params": [tensor_json(p) for p in (w1, b1, w2, b2)], "real": tensor_json(real), "fake": tensor_json(fake),
            "eps": tensor_json(eps), "penalty": float(penalty), "grads": [tensor_json(gr) for gr in grads]}


def transforms():
    """torch.autograd.functional on g(x) = tanh(W·x) (vector) and f(x) = Σ g(x)² · x₀ (scalar), x [3]."""
    gen = Gen("func")
    W, x = torch.tensor(round7(gen.randn(2, 3))), torch.tensor(round7(gen.randn(3)))
    v3, v2 = torch.tensor(round7(gen.randn(3))), torch.tensor(round7(gen.randn(2)))
    g = lambda t: torch.tanh(W @ t)
    f = lambda t: (g(t) ** 2).sum() * t[0]
    AF = torch.autograd.functional
    return {"W": tensor_json(W), "x": tensor_json(x), "v3": tensor_json(v3), "v2": tensor_json(v2),
            "value": float(f(x)),
            "jacobian": tensor_json(AF.jacobian(g, x)), "hessian": tensor_json(AF.hessian(f, x)),
            "hvp": tensor_json(AF.hvp(f, x, v3)[1]), "jvp": tensor_json(AF.jvp(g, x, v3)[1]), "vjp": tensor_json(AF.vjp(g, x, v2)[1]),
            "gradOf": tensor_json(AF.vjp(f, x)[1])}


fixtures = {"generator": "scripts/gen_higher_fixtures.py", "torch": torch.__version__, "wganGp": wgan_gp(), "func": transforms(),
            "second": [case(n, m, f, False) for n, (m, f) in OPS.items()],
            "third": [case(n, m, f, True) for n, (m, f) in THIRD.items()]}
with open(OUT, "w") as fh:
    json.dump(fixtures, fh, separators=(",", ":"))
print(f"wrote {len(fixtures['second'])} second-order and {len(fixtures['third'])} third-order cases to {OUT}")
