#!/usr/bin/python3
"""Check that PyTorch reads the safetensors files tapegrad writes.

Run after `npx vitest run test/safetensors.test.ts` (which writes test-artifacts/), from the
repository root, with Debian's python3-torch 1.13:

    /usr/bin/python3 scripts/check_safetensors.py [test-artifacts]

For each file it checks the format from its description (u64 little-endian header length, a JSON
header padded with spaces to a multiple of 8, names sorted, "__metadata__" of strings, F32 entries
whose data_offsets tile the data section in order), builds torch tensors from the bytes, and then

  - tapegrad_mlp.safetensors: loads the state dict (strictly) into a PyTorch twin of
    tg.nn.MLP(4, [8, 6], 3, {activation: 'tanh'}) and compares its output on the test's input with
    the output tapegrad computed (rtol 1e-4, atol 1e-5);
  - tapegrad_misc.safetensors: compares every tensor bit for bit with the values the test recorded.

The `safetensors` pip package is not used: PyPI is unreachable from this machine and Debian does
not package it, so the reader below is a few lines of struct + json (as in gen_nn_fixtures.py).
CI cannot run Python; test/safetensors.test.ts checks the same bytes with an independent parser.
Exits 0 when every check passes.
"""

import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_nn_fixtures import TorchMLP  # noqa: E402  (the PyTorch twin of tg.nn.MLP)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CheckError(Exception):
    pass


def check(cond, message):
    if not cond:
        raise CheckError(message)


def read_safetensors(path):
    """Returns (tensors {name: torch.float32 tensor}, metadata, header key order)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    check(len(raw) >= 8, f"{path}: shorter than the 8-byte length field")
    (n,) = struct.unpack("<Q", raw[:8])
    check(8 + n <= len(raw), f"{path}: header length {n} exceeds the file")
    check(n % 8 == 0, f"{path}: header length {n} is not a multiple of 8")
    text = raw[8:8 + n].decode("utf-8")
    check(text.rstrip(" ").endswith("}"), f"{path}: the JSON header must be followed by nothing but space padding")
    header = json.loads(text)  # dicts keep the file's key order
    keys = list(header)
    names = [k for k in keys if k != "__metadata__"]
    check(names == sorted(names), f"{path}: header names are not sorted: {names}")
    metadata = header.get("__metadata__", {})
    check(all(isinstance(v, str) for v in metadata.values()), f"{path}: __metadata__ values must be strings")
    data = raw[8 + n:]
    offset = 0
    tensors = {}
    for name in names:
        e = header[name]
        check(e["dtype"] == "F32", f"{path}: {name} has dtype {e['dtype']}, expected F32")
        begin, end = e["data_offsets"]
        count = int(np.prod(e["shape"])) if e["shape"] else 1
        check(begin == offset, f"{path}: {name} starts at {begin}, expected {offset} (tensors in name order, no gaps)")
        check(end - begin == 4 * count, f"{path}: {name} holds {end - begin} bytes for shape {e['shape']}")
        offset = end
        buf = bytearray(data[begin:end])
        t = torch.frombuffer(buf, dtype=torch.float32) if count else torch.zeros(0, dtype=torch.float32)
        if sys.byteorder != "little":
            t = t.byteswap()
        tensors[name] = t.reshape(e["shape"]).clone()
    check(offset == len(data), f"{path}: {len(data) - offset} trailing bytes after the last tensor")
    return tensors, metadata, keys


def main():
    art = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "test-artifacts")
    with open(os.path.join(art, "tapegrad_expected.json")) as fh:
        expected = json.load(fh)
    failures = 0

    m = expected["model"]
    try:
        sd, metadata, keys = read_safetensors(os.path.join(art, m["file"]))
        check(metadata == m["metadata"], f"metadata {metadata} != {m['metadata']}")
        check(keys[0] == "__metadata__", "__metadata__ is not the first header key")
        model = TorchMLP(m["inFeatures"], m["hidden"], m["outFeatures"], m["activation"])
        check(sorted(model.state_dict().keys()) == sorted(m["keys"]), f"names {m['keys']} differ from PyTorch's {list(model.state_dict())}")
        model.load_state_dict(sd, strict=True)
        x = torch.tensor(m["input"]["data"], dtype=torch.float32).reshape(m["input"]["shape"])
        want = torch.tensor(m["output"]["data"], dtype=torch.float32).reshape(m["output"]["shape"])
        with torch.no_grad():
            got = model(x)
        diff = (got - want).abs().max().item()
        check(torch.allclose(got, want, rtol=1e-4, atol=1e-5), f"outputs differ: max |diff| {diff}")
        print(f"ok   {m['file']}: {len(sd)} tensors load into torch MLP(4,[8,6],3,tanh) (strict); "
              f"output {list(got.shape)} matches tapegrad's, max |diff| {diff:.3g}; metadata {metadata}")
    except (CheckError, KeyError, ValueError, RuntimeError) as err:
        failures += 1
        print(f"FAIL {m['file']}: {err}")

    mi = expected["misc"]
    try:
        tensors, metadata, _ = read_safetensors(os.path.join(art, mi["file"]))
        check(sorted(tensors) == sorted(mi["tensors"]), f"names {sorted(tensors)} != {sorted(mi['tensors'])}")
        for name, want in mi["tensors"].items():
            t = tensors[name]
            check(list(t.shape) == want["shape"], f"{name}: shape {list(t.shape)} != {want['shape']}")
            bits = np.array(want["bits"], dtype=np.uint32).reshape(want["shape"])
            check(np.array_equal(t.numpy().view(np.uint32), bits), f"{name}: values differ: {t.tolist()} vs {bits.view(np.float32).tolist()}")
        print(f"ok   {mi['file']}: {', '.join(f'{k} {list(v.shape)}' for k, v in tensors.items())} bit for bit")
    except (CheckError, KeyError, ValueError, RuntimeError) as err:
        failures += 1
        print(f"FAIL {mi['file']}: {err}")

    print(f"torch {torch.__version__}: {'all checks passed' if failures == 0 else f'{failures} file(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
