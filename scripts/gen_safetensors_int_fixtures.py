#!/usr/bin/python3
"""PyTorch fixtures for tg.load's integer and bool dtypes (test/safetensors-dtypes.test.ts).

Regenerate from the repository root with Debian's python3-torch 1.13:

    /usr/bin/python3 scripts/gen_safetensors_int_fixtures.py

Writes
  test/fixtures/st_batchnorm.safetensors  the state dict of nn.Sequential(nn.Linear(3, 4),
      nn.BatchNorm1d(4)) after three training-mode forward passes, in PyTorch's key order: the
      float32 weights and running statistics and the int64 0-d `1.num_batches_tracked` (= 3) that
      every BatchNorm state dict carries;
  test/fixtures/st_ints.safetensors  one tensor per integer dtype of the format (I8 I16 I32 I64 U8
      U16 U32 U64) and BOOL, holding the extremes that float32 represents exactly (-2^63, 2^64-2^40,
      -2^31, 2^32-256, ...), a 0-d and an empty tensor; torch 1.13 has no uint16/32/64, so those
      three come from numpy;
  test/fixtures/st_ints.json  the expected values of both files: every value as a JSON number
      (exact: each is an integer or a float32 widened to float64), the dtype, the shape, the file's
      key order, and for the BatchNorm file an input and PyTorch's eval-mode output on it.

The files are written by the few lines of struct + json below (the `safetensors` pip package is
not installable here; see gen_nn_fixtures.py), from each tensor's own bytes (`numpy().tobytes()`).
"""

import json
import os

import numpy as np
import torch
import torch.nn as nn

from fixture_common import write_safetensors_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "test", "fixtures")

torch.set_num_threads(1)

NUMPY_DTYPES = {
    np.dtype("int8"): "I8", np.dtype("int16"): "I16", np.dtype("int32"): "I32", np.dtype("int64"): "I64",
    np.dtype("uint8"): "U8", np.dtype("uint16"): "U16", np.dtype("uint32"): "U32", np.dtype("uint64"): "U64",
    np.dtype("bool"): "BOOL", np.dtype("float32"): "F32",
}


def as_numpy(t):
    return t.detach().contiguous().numpy() if isinstance(t, torch.Tensor) else np.ascontiguousarray(t)


def write_safetensors(path, tensors):
    """tensors: a list of (name, torch tensor or numpy array), written in that order."""
    entries = []
    for name, t in tensors:
        a = as_numpy(t)
        entries.append((name, NUMPY_DTYPES[a.dtype], a.shape, a.astype(a.dtype.newbyteorder("<")).tobytes()))
    write_safetensors_file(path, entries)


def expected(tensors):
    out = {}
    for name, t in tensors:
        a = as_numpy(t)
        values = [int(v) if a.dtype.kind in "iub" else float(v) for v in a.ravel().tolist()]
        out[name] = {"dtype": NUMPY_DTYPES[a.dtype], "shape": list(a.shape), "data": values}
    return out


def batchnorm():
    torch.manual_seed(31)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
    model.train()
    for _ in range(3):
        model(torch.randn(8, 3) * 2 + 1)  # updates running_mean / running_var; num_batches_tracked += 1
    model.eval()
    x = torch.randn(5, 3)
    with torch.no_grad():
        y = model(x)
    sd = list(model.state_dict().items())
    assert sd[-1][0] == "1.num_batches_tracked" and sd[-1][1].dtype == torch.int64 and int(sd[-1][1]) == 3
    write_safetensors(os.path.join(OUT_DIR, "st_batchnorm.safetensors"), sd)
    return {"file": "st_batchnorm.safetensors", "keys": [k for k, _ in sd], "tensors": expected(sd),
            "eps": model[1].eps,
            "input": {"shape": list(x.shape), "data": [float(v) for v in x.ravel().tolist()]},
            "out": {"shape": list(y.shape), "data": [float(v) for v in y.ravel().tolist()]}}


def ints():
    tensors = [
        ("i8", torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8)),
        ("u8", torch.tensor([[0, 1, 128], [200, 254, 255]], dtype=torch.uint8)),
        ("i16", torch.tensor([-32768, -300, 0, 32767], dtype=torch.int16)),
        ("u16", np.array([0, 1, 1234, 65535], dtype=np.uint16)),
        # float32 holds every integer up to 2^24 and, above, multiples of its spacing: 128 below 2^31
        ("i32", torch.tensor([[-2 ** 31, -16777216, -7], [0, 16777216, 2 ** 31 - 128]], dtype=torch.int32)),
        ("u32", np.array([0, 16777216, 2 ** 32 - 256, 3], dtype=np.uint32)),
        ("i64", torch.tensor([-2 ** 63, -2 ** 53, -5, 0, 2 ** 24, 2 ** 53, 2 ** 62, 2 ** 63 - 2 ** 39], dtype=torch.int64)),
        ("u64", np.array([0, 1, 2 ** 63, 2 ** 64 - 2 ** 40], dtype=np.uint64)),
        ("bool", torch.tensor([[True, False, False], [False, True, True]])),
        ("i32_scalar", torch.tensor(-42, dtype=torch.int32)),
        ("i64_empty", torch.zeros(0, 2, dtype=torch.int64)),
        ("bool_empty", torch.zeros(3, 0, dtype=torch.bool)),
    ]
    write_safetensors(os.path.join(OUT_DIR, "st_ints.safetensors"), tensors)
    return {"file": "st_ints.safetensors", "keys": [k for k, _ in tensors], "tensors": expected(tensors)}


def main():
    out = {"generator": "scripts/gen_safetensors_int_fixtures.py", "torch": torch.__version__,
           "batchnorm": batchnorm(), "ints": ints()}
    with open(os.path.join(OUT_DIR, "st_ints.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print("wrote test/fixtures/st_batchnorm.safetensors, st_ints.safetensors, st_ints.json")


if __name__ == "__main__":
    main()
