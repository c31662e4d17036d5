import json
import struct
"""Helpers shared by the fixture generators (gen_fixtures.py, gen_nn_fixtures.py): how numbers are
rounded into the JSON, the per-case random source, and the input specs case builders return."""
import zlib

import numpy as np
import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def round7(a):
    """Round to 7 significant digits (what the JSON holds), as float64."""
    a = np.asarray(a, dtype=np.float64)
    return np.array([float(f"{v:.7g}") for v in a.ravel()], dtype=np.float64).reshape(a.shape)


def flat(a):
    return [float(f"{v:.7g}") for v in np.asarray(a, dtype=np.float64).ravel()]


def tensor_json(t):
    a = t.detach().to(torch.float64).numpy()
    if not np.all(np.isfinite(a)):
        raise ValueError("non-finite value")
    return {"shape": list(t.shape), "data": flat(a)}


class Gen:
    """Per-case random source; every method returns a float64 array of the given shape."""

    def __init__(self, name):
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))

    def randn(self, *shape, scale=1.0):
        return self.rng.standard_normal(shape) * scale

    def uniform(self, lo, hi, *shape):
        return self.rng.uniform(lo, hi, shape)

    def away(self, *shape, margin=0.05):
        """Normal-ish values with |x| >= margin (for relu / abs / leakyRelu kinks)."""
        x = self.rng.standard_normal(shape)
        return np.sign(x + 1e-300) * (np.abs(x) + margin)

    def pos(self, *shape, lo=0.2, hi=2.5):
        return self.rng.uniform(lo, hi, shape)

    def distinct(self, *shape, step=0.1):
        """All values distinct (gap >= 0.6 * step): no ties for max / min / argmax."""
        n = int(np.prod(shape))
        base = (self.rng.permutation(n) - n / 2) * step
        return (base + self.rng.uniform(-0.2 * step, 0.2 * step, n)).reshape(shape)

    def lattice(self, *shape, odd=False):
        """Values near multiples of 0.2 (odd=False) or near odd multiples of 0.1 (odd=True):
        an even and an odd lattice never come within 0.06 of each other (maximum / minimum)."""
        k = self.rng.integers(-10, 11, shape) * 0.2 + (0.1 if odd else 0.0)
        return k + self.rng.uniform(-0.02, 0.02, shape)

    def index(self, hi, *shape):
        return self.rng.integers(0, hi, shape)


def backward_with_upstream(out, g):
    """out.backward() for a one-element out; else backward from a random upstream gradient,
    returned as JSON (the tests pass the same one to backward(grad))."""
    if out.dim() == 0:
        out.backward()
        return None
    up = round7(g.randn(*out.shape))
    out.backward(torch.tensor(up, dtype=torch.float32))
    return {"shape": list(out.shape), "data": flat(up)}


def sh(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"



# Input specs: what a case builder returns.

class T:
    def __init__(self, data, grad=True):
        self.data = round7(data)
        self.grad = grad


class Idx:
    def __init__(self, data):
        self.data = np.asarray(data, dtype=np.int64)


def write_safetensors_file(path, entries, metadata=None):
    """Writes a safetensors file: entries are (name, dtype, shape, little-endian bytes), in the
    order given (the header lists them in that order too); metadata goes first when given."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for blob in blobs:
            fh.write(blob)
