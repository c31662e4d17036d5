#!/usr/bin/python3
"""Differential random-graph fuzzing: seeded random graphs of tapegrad's public ops, run in PyTorch.

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_fuzz_fixtures.py

A longer hunt, not committed (graphs from index 100000 on, so none repeats the fixture's):

    /usr/bin/python3 scripts/gen_fuzz_fixtures.py --graphs 30000 --first 100000 --out /tmp/fuzz.json
    FUZZ_FIXTURE=/tmp/fuzz.json npx vitest run test/fuzz.test.ts

Writes test/fixtures/fuzz.json; test/fuzz.test.ts replays every graph in tapegrad and compares the
output and every leaf's gradient (NaN and infinity positions must match exactly).

First come deterministic sweeps: each op family with a zero extent in every position of [2, 3, 4]
(both operand orders and six broadcast partners for the binary ops, every dim and keepdim for the
reductions, M, K, N and batch of 0 for matmul, batch 0 for the losses, conv and pooling). Then the
random graphs.

A graph is a list of entries, each a leaf or an op whose inputs are earlier entries; the last entry
is the output. Graph i draws every number from Gen(f"fuzz-{i}") (fixture_common), so a graph never
changes when another is added. Leaves are small (at most a few dozen elements); some have a zero
dim, some hold NaN, +inf, -inf or 0 at random positions; binary operands broadcast. An op that
PyTorch refuses for the shapes at hand is not recorded (another is drawn), so every graph is valid.

    {"e": [entry, ...], "out": {"s": shape, "d": values}, "up": values | null, "gr": {leaf: values | null}}
    leaf   {"s": shape, "d": values, "g": 1 | 0}       a float tensor (g: requiresGrad)
           {"s": shape, "i": ints}                      an index / label tensor
    op     {"o": name, "x": [ref | {"n": number}], "a": args, "k": kwargs}
  values are flat row-major numbers, with "nan", "inf", "-inf" for the non-finite ones; "up" is the
  gradient passed to backward (null: a 0-d output takes backward(), or nothing requires grad: "nb").
  "ex" names a known PyTorch quirk tapegrad does not follow (listed in test/fuzz.test.ts): the test
  then compares the values but not the gradients.

Not drawn, or worked around, because of PyTorch rather than tapegrad: conv2d with 0 input channels
(torch 1.13 answers 0 output channels), non-finite conv weights (0 * inf at the zero padding: NaN in
im2col, skipped by oneDNN), and GELU's backward given a non-contiguous gradient (Debian's torch 1.13
returns garbage there; a hook hands it a contiguous copy).

Op semantics are gen_fixtures.OPS and gen_nn_fixtures.LOSSES, the same tables the op fixtures use,
except max/min over one int dim, which is torch.max(x, dim).values (tapegrad's max(dim) gives the
gradient to the index max(dim) returns; OPS spells amax there because its inputs have no ties).
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_common import Gen  # noqa: E402  (also sets torch's threads and determinism)
from gen_fixtures import OPS  # noqa: E402
from gen_nn_fixtures import LOSSES  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "fuzz.json")
GRAPHS = 2500
MAX_NUMEL = 48


def torch_op(name, inputs, args, kwargs):
    if name in ("max", "min") and len(args) > 0 and isinstance(args[0], int):
        fn = torch.max if name == "max" else torch.min
        return fn(inputs[0], args[0], args[1] if len(args) > 1 else False).values
    if name in LOSSES:
        return LOSSES[name](inputs, kwargs)
    if name == "maxPool2d":
        return F.max_pool2d(inputs[0], args[0], **kwargs)
    if name == "avgPool2d":
        return F.avg_pool2d(inputs[0], args[0], **kwargs)
    if name == "conv2d":
        return F.conv2d(inputs[0], inputs[1], inputs[2] if len(inputs) > 2 else None, **kwargs)
    return OPS[name](inputs, args, kwargs)


def num(v):
    """A JSON number with 7 significant digits (integers without a point), or a string for NaN/inf."""
    v = float(v)
    if v != v:
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    r = float(f"{v:.7g}")
    return int(r) if r.is_integer() and abs(r) < 1e15 else r


def values(t):
    return [num(v) for v in t.detach().to(torch.float64).reshape(-1).tolist()]


class Builder:
    def __init__(self, g):
        self.g = g
        self.rng = g.rng
        self.entries = []   # JSON entries
        self.vals = []      # torch value of each entry
        self.leaves = []    # entry indices of float leaves that require grad
        self.exclusion = None
        self.all_grad = False  # the sweep's leaves all require grad

    # -- leaves

    def shape(self, rank=None, empty=0.1):
        r = self.rng
        if rank is None:
            rank = int(r.choice([0, 1, 1, 2, 2, 2, 3, 3, 4]))
        dims = [int(r.integers(1, 5)) for _ in range(rank)]
        if rank and r.random() < empty:
            dims[int(r.integers(0, rank))] = 0
        while int(np.prod(dims)) > MAX_NUMEL:
            dims[int(np.argmax(dims))] -= 1
        return dims

    def data(self, shape, kind="normal", specials=0.2):
        r = self.rng
        n = int(np.prod(shape))
        if kind == "pos":
            a = r.uniform(0.2, 2.5, n)
        elif kind == "unit":
            a = r.uniform(0, 1, n)
        elif kind == "ties":  # a few integers: ties for max / min / maximum / argmax / pooling
            a = r.integers(-2, 3, n).astype(np.float64)
        elif kind == "large":
            a = r.standard_normal(n) * 3 + float(r.choice([-8000, 8000, 300, -90]))
        else:
            a = r.standard_normal(n) * float(r.choice([0.5, 1, 1, 3]))
        a = np.array([float(f"{v:.4g}") for v in a])
        if n and r.random() < specials:
            for _ in range(int(r.integers(1, 4))):
                a[int(r.integers(0, n))] = r.choice([np.nan, np.inf, -np.inf, 0.0, np.nan])
        return a.reshape(shape)

    def leaf(self, shape, kind="normal", grad=None, specials=0.25):
        if grad is None:
            grad = self.all_grad or self.rng.random() < 0.85
        a = self.data(shape, kind, specials)
        t = torch.tensor(a, dtype=torch.float32).requires_grad_(grad)
        self.entries.append({"s": list(shape), "d": values(t), "g": 1 if grad else 0})
        self.vals.append(t)
        if grad:
            self.leaves.append(len(self.entries) - 1)
        return len(self.entries) - 1

    def index(self, hi, shape):
        a = self.rng.integers(0, hi, shape) if hi > 0 else np.zeros(shape, dtype=np.int64)
        self.entries.append({"s": list(shape), "i": [int(v) for v in np.asarray(a).reshape(-1)]})
        self.vals.append(torch.tensor(a, dtype=torch.int64))
        return len(self.entries) - 1

    # -- ops

    def apply(self, name, refs, args=(), kwargs=None):
        """Runs the op in torch; records it and returns its ref, or None when torch refuses it
        (the caller then rolls back the leaves made for it)."""
        kwargs = kwargs or {}
        inputs = [self.vals[x] if isinstance(x, int) else float(x["n"]) for x in refs]
        try:
            out = torch_op(name, inputs, list(args), kwargs)
        except (RuntimeError, IndexError, ValueError, TypeError):
            return None
        if out.numel() > 4 * MAX_NUMEL or out.dim() > 6:
            return None
        if name in ("max", "min") and args and isinstance(args[0], list) and out.requires_grad:
            if torch.isnan(inputs[0]).any():
                self.exclusion = "amax-nonfinite"  # see test/fuzz.test.ts: PyTorch's amax gradient at NaN
            out.register_hook(self.check_amax_grad)
        if name == "gelu" and out.requires_grad:
            # Debian's torch 1.13 returns garbage from the exact GELU's backward when the incoming
            # gradient is not contiguous (after a transpose or permute): hand it a contiguous copy
            out.register_hook(lambda grad: grad.contiguous())
        if name == "conv2d" and kwargs.get("padding", 0) and out.requires_grad:
            out.register_hook(self.check_conv_grad)
        if name in ("crossEntropy", "nllLoss") and out.requires_grad:
            out.register_hook(self.check_loss_grad)
        e = {"o": name, "x": refs}
        if args:
            e["a"] = list(args)
        if kwargs:
            e["k"] = kwargs
        self.entries.append(e)
        self.vals.append(out)
        return len(self.entries) - 1

    def check_amax_grad(self, grad):
        if not torch.isfinite(grad).all():
            self.exclusion = "amax-nonfinite"  # amax's backward multiplies by its mask: ∞ · 0 = NaN

    def check_conv_grad(self, grad):
        if not torch.isfinite(grad).all():
            self.exclusion = "conv-pad-nonfinite"  # see test/fuzz.test.ts: 0 · ∞ at the zero padding

    def check_loss_grad(self, grad):
        if not torch.isfinite(grad).all():
            self.exclusion = "loss-inf-grad"  # see test/fuzz.test.ts: an infinite gradient into a fused loss

    def rollback(self, mark):
        del self.entries[mark:]
        del self.vals[mark:]
        self.leaves = [i for i in self.leaves if i < mark]

    def partner_shape(self, s):
        """A shape that broadcasts with s (sometimes to a bigger result)."""
        r = self.rng
        p = list(s)
        if p and r.random() < 0.4:
            p = p[int(r.integers(0, len(p) + 1)):]
        p = [1 if r.random() < 0.3 else d for d in p]
        if r.random() < 0.25 and len(p) < 4:
            p = [int(r.choice([0, 1, 2, 3]))] + p
        return p

    def step(self, cur, only=None):
        """One random op on entry `cur` (and new leaves), of the families `only` when given;
        returns the new entry's ref or None."""
        r = self.rng
        t = self.vals[cur]
        s = list(t.shape)
        rank = len(s)
        families = ["binary", "binary", "unary", "unary", "reduce", "matmul", "softmax", "shape", "shape", "loss"]
        family = r.choice(only or (families + (["pool"] * 4 if rank == 4 else [])))
        if family == "binary":
            op = str(r.choice(["add", "sub", "mul", "div", "pow", "maximum", "minimum"]))
            u = r.random()
            if u < 0.25:
                n = {"n": num(r.choice([2.0, 0.5, -1.0, 3.0, 0.0, 1.5, -0.5, np.inf, -np.inf, np.nan, float(f"{r.standard_normal():.3g}")]))}
                refs = [n, cur] if r.random() < 0.3 else [cur, n]
            elif u < 0.4:
                # fan-in: cur with itself or an earlier float entry (gradients accumulate)
                earlier = [k for k, e in enumerate(self.entries) if "i" not in e]
                refs = [cur, int(r.choice(earlier))] if r.random() < 0.7 else [cur, cur]
            else:
                other = self.leaf(self.partner_shape(s), "pos" if op == "pow" and r.random() < 0.7 else "normal")
                refs = [cur, other] if r.random() < 0.6 else [other, cur]
            return self.apply(op, refs)
        if family == "unary":
            op = str(r.choice(["neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "leakyRelu", "gelu"]))
            if op == "leakyRelu":
                return self.apply(op, [cur], [float(r.choice([0.01, 0.2, 1.5]))])
            if op == "gelu" and r.random() < 0.5:
                return self.apply(op, [cur], [], {"approximate": "tanh"})
            return self.apply(op, [cur])
        if family == "reduce":
            op = str(r.choice(["sum", "mean", "max", "min", "logsumexp", "argmax", "argmin"]))
            keep = bool(r.random() < 0.4)
            if rank == 0 or r.random() < 0.3:
                return self.apply(op, [cur]) if op != "logsumexp" or rank else None
            if op in ("argmax", "argmin") or r.random() < 0.6:
                return self.apply(op, [cur], [int(r.integers(-rank, rank)), keep])
            k = int(r.integers(1, rank + 1))
            dims = [int(d) for d in r.permutation(rank)[:k]]
            dims = [d - rank if r.random() < 0.3 else d for d in dims]
            return self.apply(op, [cur], [dims, keep])
        if family == "matmul":
            if rank == 0:
                return None
            n = int(r.choice([0, 1, 2, 3, 5])) if r.random() < 0.9 else 0
            if rank == 1 or r.random() < 0.6:  # cur on the left: [..., K] @ [K, N] / [K] / [b, K, N]
                K = s[-1]
                ps = [K] if r.random() < 0.2 else ([K, n] if r.random() < 0.7 else [int(r.integers(1, 3)), K, n])
                other = self.leaf(ps, specials=0.05)
                return self.apply("matmul", [cur, other])
            K = s[-2]
            ps = [K] if r.random() < 0.2 else [n, K]
            other = self.leaf(ps, specials=0.05)
            return self.apply("matmul", [other, cur])
        if family == "softmax":
            if rank == 0:
                return None
            return self.apply(str(r.choice(["softmax", "logSoftmax"])), [cur], [int(r.integers(-rank, rank))])
        if family == "shape":
            return self.shape_op(cur, s)
        if family == "loss":
            return self.loss_op(cur, s)
        return self.pool_op(cur, s)

    def shape_op(self, cur, s):
        r = self.rng
        rank = len(s)
        op = str(r.choice(["reshape", "transpose", "permute", "squeeze", "unsqueeze", "flatten", "expand",
                           "narrow", "cat", "stack", "indexSelect", "gather"]))
        n = int(np.prod(s))
        if op == "reshape":
            dims = []
            m = n
            while m > 1 and len(dims) < 3:
                f = [d for d in range(2, m + 1) if m % d == 0]
                d = int(r.choice(f))
                dims.append(d)
                m //= d
            if n == 0:
                dims = [int(r.integers(1, 3)), 0] if r.random() < 0.5 else [0]
            r.shuffle(dims)
            if dims and n > 0 and r.random() < 0.3:
                dims[int(r.integers(0, len(dims)))] = -1
            return self.apply(op, [cur], [dims])
        if op == "unsqueeze":
            return self.apply(op, [cur], [int(r.integers(-rank - 1, rank + 1))])
        if op == "flatten":
            return self.apply(op, [cur]) if r.random() < 0.3 or rank < 2 else self.apply(op, [cur], [0, int(r.integers(-1, rank))])
        if rank == 0:
            return None
        if op == "transpose":
            return self.apply(op, [cur], [int(r.integers(-rank, rank)), int(r.integers(-rank, rank))])
        if op == "permute":
            return self.apply(op, [cur], [[int(d) for d in r.permutation(rank)]])
        if op == "squeeze":
            return self.apply(op, [cur]) if r.random() < 0.4 else self.apply(op, [cur], [int(r.integers(-rank, rank))])
        if op == "expand":
            target = [int(r.integers(0, 4)) if d == 1 and r.random() < 0.7 else (-1 if r.random() < 0.2 else d) for d in s]
            if r.random() < 0.3:
                target = [int(r.integers(0, 3))] + target
            return self.apply(op, [cur], [target])
        ax = int(r.integers(-rank, rank))
        size = s[ax]
        if op == "narrow":
            start = int(r.integers(0, size + 1))
            return self.apply(op, [cur], [ax, start, int(r.integers(0, size - start + 1))])
        if op in ("cat", "stack"):
            other_shape = list(s)
            if op == "cat":
                other_shape[ax] = int(r.integers(0, 3))
            refs = [cur, cur] if r.random() < 0.25 else [cur, self.leaf(other_shape)]
            return self.apply(op, refs, [ax if op == "cat" else int(r.integers(-rank - 1, rank + 1))])
        if op == "indexSelect":
            idx = self.index(size, [int(r.integers(0, 5)) if size > 0 else 0])
            return self.apply(op, [cur, idx], [ax])
        # gather: an index no larger than the input outside dim ax
        ishape = [int(r.integers(0, d + 1)) if i != (ax % rank) else int(r.integers(0, 4)) for i, d in enumerate(s)]
        if size == 0:
            ishape[ax % rank] = 0
        idx = self.index(size, ishape)
        return self.apply(op, [cur, idx], [ax])

    def loss_op(self, cur, s):
        r = self.rng
        op = str(r.choice(["crossEntropy", "nllLoss", "mseLoss", "binaryCrossEntropyWithLogits"]))
        kw = {}
        if r.random() < 0.75:
            kw["reduction"] = str(r.choice(["mean", "sum", "none"]))
        if op in ("crossEntropy", "nllLoss"):
            if len(s) != 2 or s[1] == 0:
                return None
            if op == "crossEntropy" and r.random() < 0.3:
                kw["labelSmoothing"] = float(r.choice([0.1, 0.25]))
            labels = self.index(s[1], [s[0]])
            return self.apply(op, [cur, labels], [], kw)
        target = self.leaf(s, "unit" if op != "mseLoss" else "normal", grad=bool(r.random() < 0.5), specials=0.05)
        return self.apply(op, [cur, target], [], kw)

    def pool_op(self, cur, s):
        r = self.rng
        if len(s) != 4:
            return None
        op = str(r.choice(["maxPool2d", "avgPool2d", "conv2d"]))
        kw = {}
        if op == "conv2d":
            if s[1] == 0:
                return None  # PyTorch 1.13 answers 0 output channels for 0 input channels (tapegrad: the bias)
            k = int(r.integers(1, 3))
            # finite weights: 0 · ∞ at a padded position is NaN in im2col but skipped by PyTorch's
            # direct kernels, an implementation detail either way (the input may hold NaN and ∞)
            w = self.leaf([int(r.integers(1, 4)), s[1], k, k], specials=0)
            refs = [cur, w] + ([self.leaf([self.vals[w].shape[0]], specials=0)] if r.random() < 0.6 else [])
            if r.random() < 0.4:
                kw["stride"] = int(r.integers(1, 3))
            if r.random() < 0.4:
                kw["padding"] = int(r.integers(0, 2))
            return self.apply(op, refs, [], kw)
        k = int(r.integers(1, 4))
        if r.random() < 0.4:
            kw["stride"] = int(r.integers(1, 3))
        if r.random() < 0.3:
            kw["padding"] = int(r.integers(0, k // 2 + 1))
        return self.apply(op, [cur], [k], kw)


def build(i):
    g = Gen(f"fuzz-{i}")
    r = g.rng
    b = Builder(g)
    u = r.random()
    only = None
    if u < 0.15:
        first = b.leaf([int(r.integers(0, 3)), int(r.integers(1, 3)), int(r.integers(2, 5)), int(r.integers(2, 5))])
    elif u < 0.22:
        # logits near ±8e3 go straight into an op that must stay precise there (softmax, losses,
        # logsumexp); through a matmul first, f32 rounding of ~1e8-sized products is all one sees
        first = b.leaf(b.shape(2), "large", specials=0.1)
        only = ["softmax", "loss", "reduce"]
    elif u < 0.32:
        first = b.leaf(b.shape(empty=0.05), "ties", specials=0.1)
    else:
        first = b.leaf(b.shape(empty=0.15))
    cur = first
    steps = int(r.integers(1, 6))
    tries = 0
    while steps > 0 and tries < 40:
        tries += 1
        mark = len(b.entries)
        nxt = b.step(cur, only if cur == first else None)
        if nxt is None:
            b.rollback(mark)
            continue
        cur = nxt
        steps -= 1
    if cur == first:
        return None
    return finish(b, cur)


def finish(b, cur):
    """The graph ending at entry `cur`, with PyTorch's output and every leaf's gradient."""
    r = b.rng
    out = b.vals[cur]
    graph = {"e": b.entries, "out": {"s": list(out.shape), "d": values(out)}}
    if not out.requires_grad:
        graph["nb"] = 1  # nothing to differentiate: an amax exclusion would not matter
        return graph
    if out.dim() == 0:
        out.backward()
        graph["up"] = None
    else:
        up = torch.tensor(np.array([float(f"{v:.3g}") for v in r.standard_normal(out.numel())]).reshape(list(out.shape)),
                          dtype=torch.float32)
        out.backward(up)
        graph["up"] = values(up)
    if b.exclusion:  # set while building (amax over NaN) or by a hook during backward
        graph["ex"] = b.exclusion
    graph["gr"] = {str(k): (values(b.vals[k].grad) if b.vals[k].grad is not None else None) for k in b.leaves}
    return graph


def sweep():
    """Deterministic graphs with a zero extent in every position of [2, 3, 4] for each op family
    (the random graphs reach most of these too, but not each one for sure)."""
    graphs = []

    def make(k, body):
        b = Builder(Gen(f"sweep-{k}"))
        b.all_grad = True
        cur = body(b)
        if cur is not None:
            graphs.append(finish(b, cur))

    cases = []
    for z in range(3):
        shape = [2, 3, 4]
        shape[z] = 0
        for op in ("add", "sub", "mul", "div", "pow", "maximum", "minimum"):
            for partner in ([], [1], [4], [1, 3, 1], [2, 1, 4], [5, 1, 1, 1]):
                for left in (True, False):
                    cases.append(lambda b, sh=shape, op=op, p=partner, left=left: (
                        lambda x, y: b.apply(op, [x, y] if left else [y, x]))(b.leaf(sh), b.leaf(p)))
        for op in ("sum", "mean", "logsumexp", "max", "min", "argmax", "argmin"):
            for d in range(3):
                for keep in (False, True):
                    cases.append(lambda b, sh=shape, op=op, d=d, keep=keep: b.apply(op, [b.leaf(sh)], [d, keep]))
            cases.append(lambda b, sh=shape, op=op: b.apply(op, [b.leaf(sh)]))
            cases.append(lambda b, sh=shape, op=op: b.apply(op, [b.leaf(sh)], [[0, 2], True]))
        for op in ("softmax", "logSoftmax"):
            for d in range(3):
                cases.append(lambda b, sh=shape, op=op, d=d: b.apply(op, [b.leaf(sh)], [d]))
        for op in ("neg", "abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "gelu"):
            cases.append(lambda b, sh=shape, op=op: b.apply(op, [b.leaf(sh)]))
        cases.append(lambda b, sh=shape: b.apply("permute", [b.leaf(sh)], [[2, 0, 1]]))
        cases.append(lambda b, sh=shape: b.apply("transpose", [b.leaf(sh)], [0, 2]))
        cases.append(lambda b, sh=shape: b.apply("reshape", [b.leaf(sh)], [[sh[2], sh[0], sh[1]]]))
        cases.append(lambda b, sh=shape: b.apply("expand", [b.leaf(sh)], [[2] + sh]))
        cases.append(lambda b, sh=shape: b.apply("expand", [b.leaf([1] + sh[1:])], [[0] + sh[1:]]))
        for d in range(3):
            cases.append(lambda b, sh=shape, d=d: b.apply("narrow", [b.leaf(sh)], [d, 0, sh[d]]))
            cases.append(lambda b, sh=shape, d=d: b.apply("cat", [b.leaf(sh), b.leaf([2 if i == d else n for i, n in enumerate(sh)])], [d]))
            cases.append(lambda b, sh=shape, d=d: b.apply("stack", [b.leaf(sh), b.leaf(sh)], [d]))
            cases.append(lambda b, sh=shape, d=d: b.apply("indexSelect", [b.leaf(sh), b.index(sh[d], [0 if sh[d] == 0 else 2])], [d]))
            cases.append(lambda b, sh=shape, d=d: b.apply("gather", [b.leaf(sh), b.index(sh[d], [0 if sh[d] == 0 and i == d else n for i, n in enumerate(sh)])], [d]))
        # matmul with M, K or N (and a batch) of 0: [M, K] @ [K, N], batched, 1-D
        m, k, n = shape[0], shape[1], shape[2]
        cases.append(lambda b, m=m, k=k, n=n: b.apply("matmul", [b.leaf([m, k]), b.leaf([k, n])]))
        cases.append(lambda b, sh=shape, n=n: b.apply("matmul", [b.leaf(sh), b.leaf([sh[2], 5])]))
        cases.append(lambda b, sh=shape: b.apply("matmul", [b.leaf([sh[0], 1, sh[1]]), b.leaf([sh[1], sh[2]])]))
        cases.append(lambda b, k=k: b.apply("matmul", [b.leaf([k]), b.leaf([k])]))
        cases.append(lambda b, k=k: b.apply("matmul", [b.leaf([2, k]), b.leaf([k])]))
        # conv / pooling with N, C or a spatial extent of 0 where PyTorch allows it
        cases.append(lambda b, sh=shape: b.apply("maxPool2d", [b.leaf([sh[0], sh[1], 4, 4])], [2]))
        cases.append(lambda b, sh=shape: b.apply("avgPool2d", [b.leaf([sh[0], sh[1], 4, 4])], [2]))
        if shape[1] > 0:
            cases.append(lambda b, sh=shape: b.apply("conv2d", [b.leaf([sh[0], sh[1], 4, 4]), b.leaf([max(sh[2], 0), sh[1], 3, 3], specials=0), b.leaf([max(sh[2], 0)], specials=0)], [], {"padding": 1}))
    for red in ("mean", "sum", "none"):
        for op in ("crossEntropy", "nllLoss"):
            cases.append(lambda b, op=op, red=red: b.apply(op, [b.leaf([0, 3]), b.index(3, [0])], [], {"reduction": red}))
        for op in ("mseLoss", "binaryCrossEntropyWithLogits"):
            cases.append(lambda b, op=op, red=red: b.apply(op, [b.leaf([0, 4]), b.leaf([0, 4], "unit")], [], {"reduction": red}))
    cases.append(lambda b: b.apply("crossEntropy", [b.leaf([0, 3]), b.index(3, [0])], [], {"labelSmoothing": 0.1}))
    for k, body in enumerate(cases):
        make(k, body)
    return graphs


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--graphs", type=int, default=GRAPHS)
    ap.add_argument("--first", type=int, default=0, help="index of the first random graph's seed")
    ap.add_argument("--out", default=OUT)
    opts = ap.parse_args()
    graphs = sweep()
    n_sweep = len(graphs)
    i = opts.first
    while len(graphs) < n_sweep + opts.graphs:
        gr = build(i)
        i += 1
        if gr is not None:
            graphs.append(gr)
    lines = [json.dumps(gr, separators=(",", ":")) for gr in graphs]
    header = json.dumps({"generator": "scripts/gen_fuzz_fixtures.py", "torch": torch.__version__, "count": len(graphs)})[:-1]
    with open(opts.out, "w") as fh:
        fh.write(header + ',"graphs":[\n' + ",\n".join(lines) + "\n]}\n")
    ops = {}
    for gr in graphs:
        for e in gr["e"]:
            if "o" in e:
                ops[e["o"]] = ops.get(e["o"], 0) + 1
    n_empty = sum(1 for gr in graphs if any("s" in e and 0 in e["s"] for e in gr["e"]))
    n_special = sum(1 for gr in graphs if any(isinstance(v, str) for e in gr["e"] for v in e.get("d", [])))
    print(f"torch {torch.__version__}: {len(graphs)} graphs ({n_sweep} zero-extent sweeps, {i - opts.first} random drawn), {sum(ops.values())} ops; "
          f"{n_empty} with an empty leaf, {n_special} with NaN/inf leaves")
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    print(f"  wrote {os.path.relpath(opts.out, ROOT)}: {os.path.getsize(opts.out):,} bytes")


if __name__ == "__main__":
    sys.exit(main())
