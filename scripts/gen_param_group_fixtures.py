#!/usr/bin/python3
"""Generate PyTorch oracle fixtures for optimizer parameter groups and module buffers (issue 9).

Regenerate (from the repository root, with Debian's python3-torch 1.13):

    /usr/bin/python3 scripts/gen_param_group_fixtures.py

Writes
  test/fixtures/param_groups.json   (test/param-groups.test.ts, test/buffers.test.ts)
  test/fixtures/buffers.safetensors the persistent state dict of the buffer model below, as
                                    PyTorch saves it (test/buffers.test.ts loads it)

param_groups.json
  model        Sequential(Linear(4,8), LayerNorm(8), Tanh(), Linear(8,3)) trained with crossEntropy
               on fixed data from the explicit weights in "initial"
  groups       "decay": the two Linear weights; "noDecay": the biases and the LayerNorm's weight
               and bias (the usual transformer split), each listed by state-dict key in model order
  trajectories {"name", "optimizer", "defaults", "groups": [{"group": "decay"|"noDecay", ...options}],
               "scheduler", "steps": [{"loss", "lrs" (each group's lr used by that step), "params"}]}
  buffers      the buffer model's state-dict keys, its named buffers, its parameters, the input and
               output, and the missing / unexpected keys PyTorch reports for a non-strict load of a
               state dict with one buffer removed and a non-persistent buffer's key added

Determinism: inputs and weights come from numpy generators seeded by the CRC-32 of a name and are
rounded to 7 significant digits before torch sees them (scripts/fixture_common.py).
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

from fixture_common import Gen, round7, flat, tensor_json, write_safetensors_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")
STEPS = 12

warnings.filterwarnings("ignore", message=".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*")


# ----------------------------------------------------------------------------- parameter groups

def model():
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 3))


def init_weights(m, g):
    state = {}
    for name, p in m.state_dict().items():
        shape = tuple(p.shape)
        if name == "1.weight":
            v = 1 + g.randn(*shape, scale=0.3)
        elif len(shape) >= 2:
            v = g.randn(*shape, scale=1 / math.sqrt(shape[1]))
        else:
            v = g.randn(*shape, scale=0.3)
        state[name] = round7(v)
    return state


DECAY = ["0.weight", "3.weight"]
NO_DECAY = ["0.bias", "1.weight", "1.bias", "3.bias"]

TORCH_KEYS = {"weightDecay": "weight_decay"}

TRAJECTORIES = [  # (name, optimizer, defaults, groups, scheduler)
    ("SGD momentum: decay lr 0.1 wd 0.05 / noDecay lr 0.05 wd 0, StepLR(4, 0.5)", "SGD",
     {"lr": 0.1, "momentum": 0.9},
     [{"group": "decay", "weightDecay": 0.05}, {"group": "noDecay", "lr": 0.05, "weightDecay": 0}],
     {"kind": "StepLR", "stepSize": 4, "gamma": 0.5}),
    ("SGD nesterov decay group / plain noDecay group, CosineAnnealingLR(8, 0.01)", "SGD",
     {"lr": 0.2, "weightDecay": 0.01},
     [{"group": "decay", "momentum": 0.8, "nesterov": True}, {"group": "noDecay", "lr": 0.1, "weightDecay": 0}],
     {"kind": "CosineAnnealingLR", "tMax": 8, "etaMin": 0.01}),
    ("AdamW: decay wd 0.1 / noDecay lr 0.005 wd 0, CosineAnnealingLR(8, 0.001)", "AdamW",
     {"lr": 0.01},
     [{"group": "decay", "weightDecay": 0.1}, {"group": "noDecay", "lr": 0.005, "weightDecay": 0}],
     {"kind": "CosineAnnealingLR", "tMax": 8, "etaMin": 0.001}),
    ("Adam: decay betas [0.8,0.99] / noDecay lr 0.03 eps 1e-6 wd 0.01, StepLR(5, 0.3)", "Adam",
     {"lr": 0.02},
     [{"group": "decay", "betas": [0.8, 0.99]}, {"group": "noDecay", "lr": 0.03, "eps": 1e-6, "weightDecay": 0.01}],
     {"kind": "StepLR", "stepSize": 5, "gamma": 0.3}),
]


def torch_options(o):
    out = {}
    for k, v in o.items():
        if k == "group":
            continue
        out[TORCH_KEYS.get(k, k)] = tuple(v) if k == "betas" else v
    return out


def make_optimizer(kind, groups, defaults):
    d = torch_options(defaults)
    return {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}[kind](groups, **d)


def make_scheduler(spec, opt):
    if spec["kind"] == "StepLR":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=spec["stepSize"], gamma=spec["gamma"])
    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=spec["tMax"], eta_min=spec["etaMin"])


def run_trajectory(name, kind, defaults, groups, sched_spec, x, labels, state):
    m = model()
    m.load_state_dict({k: torch.tensor(v, dtype=torch.float32) for k, v in state.items()})
    named = dict(m.named_parameters())
    keys = {"decay": DECAY, "noDecay": NO_DECAY}
    opt = make_optimizer(kind, [{"params": [named[k] for k in keys[g["group"]]], **torch_options(g)} for g in groups], defaults)
    sched = make_scheduler(sched_spec, opt)
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(labels, dtype=torch.int64)
    steps = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(m(xt), yt)
        loss.backward()
        opt.step()
        lrs = [g["lr"] for g in opt.param_groups]
        sched.step()
        steps.append({"loss": float(loss), "lrs": lrs,
                      "params": {k: flat(v.detach().double().numpy()) for k, v in m.state_dict().items()}})
    return {"name": name, "optimizer": kind, "defaults": defaults, "groups": groups, "scheduler": sched_spec, "steps": steps}


# ----------------------------------------------------------------------------- buffers

class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 3)
        self.register_buffer("mask", torch.tril(torch.ones(4, 4)))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)

    def forward(self, x):
        return self.mask @ self.proj(x)


class BufferNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.tensor([2.0]))
        self.gain = nn.Parameter(torch.ones(3))
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        for b in self.blocks:
            x = torch.tanh(b(x))
        return self.head(x * self.gain * self.scale)


def run_buffers():
    g = Gen("buffers")
    net = BufferNet()
    state = {}
    for name, t in net.state_dict().items():
        if name.endswith("mask"):
            v = np.tril(round7(g.uniform(0.5, 1.5, *t.shape)))
        else:
            v = round7(g.randn(*t.shape, scale=0.5)) + (1 if name in ("scale", "gain") else 0)
        state[name] = torch.tensor(v, dtype=torch.float32)
    net.load_state_dict(state)
    x = torch.tensor(round7(g.randn(4, 3)), dtype=torch.float32)
    out = net(x)
    write_safetensors_file(os.path.join(OUT_DIR, "buffers.safetensors"),
                           [(k, "F32", t.shape, t.numpy().astype("<f4").tobytes()) for k, t in net.state_dict().items()])
    partial = dict(net.state_dict())
    del partial["blocks.1.mask"]
    partial["blocks.0.scratch"] = torch.zeros(2)
    result = BufferNet().load_state_dict(partial, strict=False)
    return {
        "stateDictKeys": list(net.state_dict().keys()),
        "namedBuffers": [k for k, _ in net.named_buffers()],
        "namedParameters": [k for k, _ in net.named_parameters()],
        "input": tensor_json(x),
        "out": tensor_json(out),
        "partialLoad": {"removed": "blocks.1.mask", "added": "blocks.0.scratch",
                        "missingKeys": result.missing_keys, "unexpectedKeys": result.unexpected_keys},
    }


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    torch.set_num_threads(1)
    g = Gen("param group data")
    x = round7(g.randn(12, 4))
    labels = g.index(3, 12)
    state = init_weights(model(), g)
    trajectories = [run_trajectory(*c, x, labels, state) for c in TRAJECTORIES]
    out = {
        "generator": "scripts/gen_param_group_fixtures.py", "torch": torch.__version__,
        "model": "Sequential(Linear(4,8), LayerNorm(8), Tanh(), Linear(8,3)), crossEntropy",
        "steps": STEPS, "data": {"x": {"shape": [12, 4], "data": flat(x)}, "labels": [int(v) for v in labels]},
        "initial": {k: {"shape": list(v.shape), "data": flat(v)} for k, v in state.items()},
        "groups": {"decay": DECAY, "noDecay": NO_DECAY},
        "trajectories": trajectories,
        "buffers": run_buffers(),
    }
    path = os.path.join(OUT_DIR, "param_groups.json")
    with open(path, "w") as fh:
        json.dump(out, fh, separators=(",", ":"))
        fh.write("\n")
    print(f"torch {torch.__version__}: param_groups.json {len(trajectories)} trajectories ({os.path.getsize(path):,} bytes), buffers.safetensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
