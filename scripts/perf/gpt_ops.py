# PyTorch's side of scripts/perf/gpt-ops.mjs: the same ops and shapes, one thread, forward +
# backward seeded with a fixed gradient, median µs of many reps.
# Run: /usr/bin/python3 scripts/perf/gpt_ops.py [filter] [--forward]  (--forward: forward alone, under no_grad)
import math, sys, time
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(0)
B, T, C, H, V = 16, 64, 64, 4, 86
D = C // H
param = lambda *s, scale=1.0: (torch.randn(*s) * scale).requires_grad_(True)
causal = torch.full((T, T), -math.inf).triu(1)

act = param(B, T, 4 * C); pos = (torch.rand(B, T, 4 * C) + 0.1).requires_grad_(True)
att = param(B, H, T, T); logits = param(B * T, V)
labels = torch.tensor([(i * 7919) % V for i in range(B * T)])
x = param(B, T, C); ln = [param(C), param(C)]
w192, b192, w256, b256 = param(3 * C, C, scale=0.1), param(3 * C), param(4 * C, C, scale=0.1), param(4 * C)
x256, w64, b64 = param(B, T, 4 * C), param(C, 4 * C, scale=0.1), param(C)
qkv, heads = param(B, T, 3 * C), param(B, H, T, D)
q, k, kt, p = param(B * H, T, D), param(B * H, T, D), param(B * H, D, T), param(B * H, T, T)
scale = 1 / math.sqrt(D)

def split(t):
    a, b, c = t.split(C, dim=-1)
    return [u.view(B, T, H, D).transpose(1, 2) for u in (a, b, c)]

cases = {
    'gelu [16,64,256]': ([act], lambda: F.gelu(act)),
    'gelu tanh [16,64,256]': ([act], lambda: F.gelu(act, approximate='tanh')),
    'exp [16,64,256]': ([act], lambda: act.exp()),
    'log [16,64,256]': ([pos], lambda: pos.log()),
    'tanh [16,64,256]': ([act], lambda: act.tanh()),
    'sigmoid [16,64,256]': ([act], lambda: act.sigmoid()),
    'silu (x·sigmoid x) [16,64,256]': ([act], lambda: F.silu(act)),
    'F.silu [16,64,256]': ([act], lambda: F.silu(act)),
    'relu (the loop without math) [16,64,256]': ([act], lambda: act.relu()),
    'scale+mask+softmax [16,4,64,64]': ([att], lambda: (att * scale + causal).softmax(-1)),
    'scale+mask+logSoftmax [16,4,64,64]': ([att], lambda: (att * scale + causal).log_softmax(-1)),
    'crossEntropy [1024,86]': ([logits], lambda: F.cross_entropy(logits, labels)),
    'layerNorm [16,64,64]': ([x, *ln], lambda: F.layer_norm(x, [C], ln[0], ln[1])),
    'linear 64→192 ×1024': ([x, w192, b192], lambda: F.linear(x, w192, b192)),
    'linear 64→256 ×1024': ([x, w256, b256], lambda: F.linear(x, w256, b256)),
    'linear 256→64 ×1024': ([x256, w64, b64], lambda: F.linear(x256, w64, b64)),
    'head split [16,64,192]→3×[16,4,64,16] (+sum)': ([qkv], lambda: (lambda a, b, c: a + b + c)(*split(qkv))),
    'head merge [16,4,64,16]→[16,64,64]': ([heads], lambda: heads.transpose(1, 2).reshape(B, T, C)),
    'matmul q·kᵀ [64,64,16]×[64,16,64]': ([q, kt], lambda: q @ kt),
    'matmul q·k.transpose [64,64,16]': ([q, k], lambda: q @ k.transpose(-1, -2)),
    'matmul p·v [64,64,64]×[64,64,16]': ([p, k], lambda: p @ k),
}

args = sys.argv[1:]
forward_only = '--forward' in args
args = [a for a in args if a != '--forward']
flt = args[0] if args else None
print(f'PyTorch {torch.__version__}, 1 thread  (µs, {"forward only" if forward_only else "forward + backward"}, median)')
for name, (inputs, f) in cases.items():
    if flt and flt not in name:
        continue
    with torch.no_grad():
        seed = torch.randn(f().shape)
    def step():
        if forward_only:
            with torch.no_grad():
                f()
            return
        for t in inputs:
            t.grad = None
        f().backward(seed)
    for _ in range(20):
        step()
    ts, until = [], time.perf_counter() + 1.5
    while len(ts) < 30 or (time.perf_counter() < until and len(ts) < 2000):
        t0 = time.perf_counter(); step(); ts.append(time.perf_counter() - t0)
    ts.sort()
    print(f'{name:<48} {ts[len(ts) // 2] * 1e6:7.0f}')
