"""PyTorch on the CPU for the tapegrad bench, driven by bench/impls/pytorch.mjs.

Usage: pytorch_worker.py [threads] (default 1; the caller sets OMP_NUM_THREADS, MKL_NUM_THREADS and
OPENBLAS_NUM_THREADS to the same count, since torch.set_num_threads does not reach OpenBLAS).

Reads one JSON request a line on stdin and answers one JSON line on stdout:
  {"id", "cmd": "make", "method", "spec"}  -> {"id", "ok": handle}   builds a workload's handle
  {"id", "cmd": "call", "handle", "name"}  -> {"id", "ok": result}   e.g. step, loss, read, grad
  {"id", "cmd": "measure", "handle", "name", "options"} -> {"id", "ok": {median, min, max, samples, inner}}
or {"id", "error": message}. Float32Array / Int32Array values travel as {"$f32": base64} /
{"$i32": base64}. The first line printed is {"ready": {...versions}}. The inputs are the arrays of
bench/lib/data.mjs, so every implementation trains the same weights on the same data, and
measure() is bench/lib/harness.mjs's measure(), so the timing method is the same too.
"""
import base64
import ctypes
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(THREADS)
torch.set_num_interop_threads(1)

GPT_PARAMETERS = 109_696


def decode(v):
    if isinstance(v, dict):
        if "$f32" in v:
            return torch.frombuffer(bytearray(base64.b64decode(v["$f32"])), dtype=torch.float32)
        if "$i32" in v:
            return torch.frombuffer(bytearray(base64.b64decode(v["$i32"])), dtype=torch.int32).long()
        return {k: decode(x) for k, x in v.items()}
    if isinstance(v, list):
        return [decode(x) for x in v]
    return v


def encode(v):
    if isinstance(v, torch.Tensor):
        return {"$f32": base64.b64encode(v.detach().float().contiguous().numpy().tobytes()).decode()}
    return v


# ------------------------------------------------------------------ timing (harness.mjs's measure)

WARM_MS = 300


def measure(fn, warmup=1, reps=5, minReps=3, maxMs=2000, minSampleMs=0):
    now = lambda: time.perf_counter() * 1000
    warm_start, warm_ms, last, i = now(), min(WARM_MS, maxMs / 5), 0.0, 0
    while True:
        elapsed = now() - warm_start
        want_more = (i == 0 or elapsed < maxMs / 5) if i < max(1, warmup) else elapsed < warm_ms
        if not want_more:
            break
        t0 = now()
        fn()
        last = now() - t0
        i += 1
    inner = max(1, math.ceil(minSampleMs / max(last, 1e-3))) if minSampleMs > 0 else 1
    samples, start = [], now()
    while len(samples) < reps and (len(samples) < minReps or now() - start < maxMs):
        t0 = now()
        for _ in range(inner):
            fn()
        samples.append((now() - t0) / inner)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "samples": len(samples), "inner": inner}


# ------------------------------------------------------------------ workloads


class Trainer:
    """A training step: zero grads, forward, loss, backward, clip (if given), update; loss() reads the last."""

    def __init__(self, loss_fn, opt, clip=lambda: None):
        self.loss_fn, self.opt, self.clip = loss_fn, opt, clip
        self.last = None

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss_fn()
        loss.backward()
        self.clip()
        self.opt.step()
        self.last = loss.detach()

    def loss(self):
        return self.last.item()


def linear_from(W, b, nin, nout):
    """nn.Linear holding y = x·W + b for W stored [in, out] (the layout of data.mjs's MLP)."""
    layer = nn.Linear(nin, nout)
    with torch.no_grad():
        layer.weight.copy_(W.view(nin, nout).t())
        layer.bias.copy_(b)
    return layer


class Matmul:
    def __init__(self, A, B, N):
        self.a, self.b, self.c = A.view(N, N), B.view(N, N), None

    def run(self):
        self.c = self.a @ self.b

    def read(self):
        return self.c


def train_mlp(spec):
    layers = []
    for i, l in enumerate(spec["layers"]):
        layers.append(linear_from(l["W"], l["b"], l["nin"], l["nout"]))
        if i + 1 < len(spec["layers"]):
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    x, y = spec["X"].view(spec["batch"], spec["sizes"][0]), spec["labels"]
    return Trainer(lambda: F.cross_entropy(model(x), y), torch.optim.SGD(model.parameters(), lr=spec["lr"]))


def train_conv(spec):
    convs = []
    for c in spec["convs"]:
        conv = nn.Conv2d(c["cin"], c["cout"], 3, padding=1)
        with torch.no_grad():
            conv.weight.copy_(c["W"].view(c["cout"], c["cin"], 3, 3))
            conv.bias.copy_(c["b"])
        convs += [conv, nn.ReLU()]
    fc = spec["fc"]
    model = nn.Sequential(*convs, nn.Flatten(), linear_from(fc["W"], fc["b"], fc["nin"], fc["nout"]))
    x = spec["X"].view(spec["batch"], 1, spec["height"], spec["width"])
    return Trainer(lambda: F.cross_entropy(model(x), spec["labels"]), torch.optim.SGD(model.parameters(), lr=spec["lr"]))


class Chain:
    def __init__(self, spec):
        self.ops, self.a, self.m = spec["ops"], spec["a"], spec["m"]
        self.x = spec["x"].clone().requires_grad_(True)

    def step(self):
        self.x.grad = None
        h = self.x
        for op in self.ops:
            h = h + self.a if op == "add" else h * self.m if op == "mul" else torch.tanh(h)
        h.sum().backward()

    def grad(self):
        return self.x.grad


class Block(nn.Module):
    """bench/lib/gpt.mjs's Block, attribute for attribute (so the state-dict names match)."""

    def __init__(self, embed, heads, hidden, mask):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(embed)
        self.qkv = nn.Linear(embed, 3 * embed)
        self.proj = nn.Linear(embed, embed)
        self.ln2 = nn.LayerNorm(embed)
        self.fc = nn.Linear(embed, hidden)
        self.fc2 = nn.Linear(hidden, embed)
        self.mask = mask  # a plain attribute: neither a parameter nor in the state dict

    def attention(self, x):
        B, T, C = x.shape
        H, D = self.heads, C // self.heads
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))
        att = (q @ k.transpose(-2, -1) * (1 / math.sqrt(D)) + self.mask).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab, block, embed, heads, layers, hidden, **_):
        super().__init__()
        self.block, self.embed = block, embed
        self.wte = nn.Embedding(vocab, embed)
        self.wpe = nn.Embedding(block, embed)
        mask = torch.zeros(block, block).masked_fill(torch.ones(block, block).triu(1).bool(), float("-inf"))
        self.h = nn.ModuleList(Block(embed, heads, hidden, mask) for _ in range(layers))
        self.lnF = nn.LayerNorm(embed)
        self.positions = torch.arange(block)

    def forward(self, idx):
        B = idx.numel() // self.block
        x = self.wte(idx).view(B, self.block, self.embed) + self.wpe(self.positions)
        for block in self.h:
            x = block(x)
        return F.linear(self.lnF(x).view(-1, self.embed), self.wte.weight)  # tied lm head


def train_gpt(spec):
    model = GPT(**spec["config"])
    model.load_state_dict({w["name"]: w["data"].view(w["shape"]) for w in spec["weights"]})
    count = sum(p.numel() for p in model.parameters())
    if count != GPT_PARAMETERS:
        raise ValueError(f"the GPT has {count} parameters, expected {GPT_PARAMETERS}")
    o = spec["optimizer"]
    opt = torch.optim.AdamW(model.parameters(), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weightDecay"])
    inputs, targets, params = spec["inputs"], spec["targets"], list(model.parameters())
    clip = lambda: nn.utils.clip_grad_norm_(params, spec["clipNorm"])
    return Trainer(lambda: F.cross_entropy(model(inputs), targets), opt, clip)


def train_makemore(spec):
    vocab, block, embed, hidden, batch = (spec[k] for k in ("vocab", "block", "embed", "hidden", "batch"))
    shapes = {"C": (vocab, embed), "W1": (block * embed, hidden), "b1": (hidden,), "W2": (hidden, vocab), "b2": (vocab,)}
    p = {k: spec[k].view(s).clone().requires_grad_(True) for k, s in shapes.items()}
    X, Y = spec["X"].view(batch, block), spec["labels"]

    def loss():
        h = torch.tanh(p["C"][X].view(batch, -1) @ p["W1"] + p["b1"])
        return F.cross_entropy(h @ p["W2"] + p["b2"], Y)

    return Trainer(loss, torch.optim.SGD(p.values(), lr=spec["lr"]))


def train_lstm(spec):
    T, B, I, H = (spec[k] for k in ("T", "B", "I", "H"))
    lstm, head = nn.LSTM(I, H), nn.Linear(H, 1)
    with torch.no_grad():
        for name, key, shape in (("weight_ih_l0", "W_ih", (4 * H, I)), ("weight_hh_l0", "W_hh", (4 * H, H)),
                                 ("bias_ih_l0", "b_ih", (4 * H,)), ("bias_hh_l0", "b_hh", (4 * H,))):
            getattr(lstm, name).copy_(spec[key].view(shape))
        head.weight.copy_(spec["headW"].view(1, H))
        head.bias.copy_(spec["headB"])
    x, y = spec["X"].view(T, B, I), spec["Y"].view(T, B, 1)
    opt = torch.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=spec["lr"])
    return Trainer(lambda: F.mse_loss(head(lstm(x)[0]), y), opt)


MAKERS = {
    "matmul": lambda args: Matmul(*args),
    "trainMlp": lambda args: train_mlp(args[0]),
    "trainConv": lambda args: train_conv(args[0]),
    "chain": lambda args: Chain(args[0]),
    "trainGpt": lambda args: train_gpt(args[0]),
    "trainMakemore": lambda args: train_makemore(args[0]),
    "trainLstm": lambda args: train_lstm(args[0]),
}


def blas_library():
    """The BLAS this process loaded (Debian's torch links libblas.so.3), or how torch was built."""
    try:
        with open("/proc/self/maps") as maps:
            return next(line.split()[-1] for line in maps if "blas" in line.rsplit("/", 1)[-1])
    except (OSError, StopIteration):
        return "built in" if torch.backends.mkl.is_available() else "unknown"


def blas_threads(library):
    """How many threads the BLAS runs on, where it says (OpenBLAS), else None."""
    try:
        return ctypes.CDLL(library).openblas_get_num_threads()
    except (OSError, AttributeError):
        return None


def main():
    out = sys.stdout
    say = lambda msg: (out.write(json.dumps(msg) + "\n"), out.flush())
    blas = blas_library()
    say({"ready": {"torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(), "blas": blas, "blasThreads": blas_threads(blas)}})
    handles = []
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "make":
                handles.append(MAKERS[req["method"]](decode(req["args"])))
                result = len(handles) - 1
            elif req["cmd"] == "call":
                result = encode(getattr(handles[req["handle"]], req["name"])())
            elif req["cmd"] == "measure":
                result = measure(getattr(handles[req["handle"]], req["name"]), **req["options"])
            else:
                raise ValueError(f"unknown command {req['cmd']}")
            say({"id": req["id"], "ok": result})
        except Exception as e:  # reported in the bench's cell, the worker keeps serving
            say({"id": req["id"], "error": f"{type(e).__name__}: {e}".splitlines()[0][:200]})


if __name__ == "__main__":
    main()
