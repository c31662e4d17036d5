// Threads (issue 10): kernels that split over worker threads give bit-identical results for any
// thread count (each output element is computed by one part, in the same order, wherever the split
// falls), the pool starts by itself, errors in a worker's part reach the caller as the same Error,
// a worker that stops does not hang the caller, and the pool never keeps a process alive.
// The oracle for values is the one-thread run, which the PyTorch fixtures check.
import { execFileSync, spawnSync } from 'node:child_process';
import { describe, it, expect, afterAll } from 'vitest';
import * as tg from '../dist/index.js';

const threads = tg.__testing.threads;
const DIST = new URL('../dist/index.js', import.meta.url).href;
const COUNTS = [1, 2, 3, 4];

/** Runs `fn` (which returns arrays to compare) at each thread count, workers started. */
async function atEachCount(fn: () => Float32Array[]): Promise<Float32Array[][]> {
  const out: Float32Array[][] = [];
  for (const n of COUNTS) {
    tg.setNumThreads(n);
    fn(); // the first split starts the workers
    expect(await threads.workersReady()).toBe(n - 1);
    out.push(fn());
  }
  return out;
}

function expectBitIdentical(results: Float32Array[][]): void {
  for (let r = 1; r < results.length; r++) {
    results[r].forEach((a, k) => {
      const b = results[0][k];
      expect(a.length).toBe(b.length);
      const differ = a.findIndex((v, i) => !Object.is(v, b[i]));
      expect(differ, `${COUNTS[r]} threads, output ${k}: first difference at ${differ}`).toBe(-1);
    });
  }
}

/** Values and gradients of `f` at fresh inputs of `shapes` (seeded, so equal for every count). */
function valueAndGrads(shapes: number[][], f: (...xs: tg.Tensor[]) => tg.Tensor): Float32Array[] {
  return tg.tidy(() => {
    tg.manualSeed(3);
    const xs = shapes.map((s) => tg.randn(s).requiresGrad_(true));
    const y = f(...xs);
    y.mul(tg.randn(y.shape)).sum().backward();
    return [y.data() as Float32Array, ...xs.map((x) => x.grad!.data() as Float32Array)];
  });
}

afterAll(() => tg.setNumThreads(2));

describe('threads', () => {
  it('runs threaded in Node, and says so', () => {
    expect(tg.build).toMatch(/\+threads$/);
    expect(tg.getNumThreads()).toBeGreaterThanOrEqual(1);
  });

  it('memory grown while the workers run is theirs too: a product over a 64 MB operand splits and is right', async () => {
    tg.setNumThreads(2);
    const small = tg.ones([300, 300]);
    small.matmul(small);
    expect(await threads.workersReady()).toBe(1);
    const before = tg.memory().arenaBytes, jobs = threads.jobs;
    const big = tg.ones([4096, 4096]), b = tg.full([4096, 8], 0.5);
    expect(tg.memory().arenaBytes).toBeGreaterThan(before); // the memory grew after the workers started
    const y = big.matmul(b);
    expect(threads.jobs).toBeGreaterThan(jobs);
    expect(Array.from(new Set(y.data()))).toEqual([2048]);
    big.dispose(); b.dispose(); y.dispose();
  });

  it('matmul forward and both gradients are bit-identical for 1–4 threads (tall, wide, batched, transposed, with bias)', async () => {
    expectBitIdentical(await atEachCount(() => [
      ...valueAndGrads([[300, 200], [200, 150]], (a, b) => a.matmul(b)),
      ...valueAndGrads([[40, 300], [300, 700]], (a, b) => a.matmul(b)),
      ...valueAndGrads([[3, 130, 70], [70, 90]], (a, b) => a.matmul(b)),
      ...valueAndGrads([[257, 64], [192, 64], [192]], (x, w, b) => tg.nn.functional.linear(x, w, b)),
    ]));
  });

  it('elementwise kernels over large tensors are bit-identical for 1–4 threads, tails included', async () => {
    expectBitIdentical(await atEachCount(() => [
      ...valueAndGrads([[100_003]], (x) => x.gelu()),
      ...valueAndGrads([[70_001]], (x) => x.tanh().exp().sigmoid()),
      ...valueAndGrads([[65_539]], (x) => x.gelu({ approximate: 'tanh' }).relu()),
      ...valueAndGrads([[300, 401], [300, 401]], (x, y) => x.mul(y).add(x).div(y.abs().add(1)).sub(2).maximum(y).pow(2)),
      ...valueAndGrads([[200_003]], (x) => x.mul(3).sub(x.neg())),
      ...valueAndGrads([[301, 257]], (x) => x.sum(-1).add(x.mean(-1)).mul(x.max(1)).add(x.logsumexp(-1))),
      ...valueAndGrads([[16, 64, 12, 16]], (x) => x.transpose(1, 2).mul(x.transpose(1, 2))), // runs of 16 (a head split)
      ...valueAndGrads([[9, 130, 70]], (x) => x.transpose(1, 2).exp()), // 4×4 tiles
      ...valueAndGrads([[40, 30, 50]], (x) => x.permute([2, 0, 1]).add(1)), // a strided walk
      ...valueAndGrads([[37, 501, 9]], (x) => x.sum(1).add(x.min(1)).add(x.max(1))),
    ]));
  });

  it('fused attention (causal, masked, dropout, mask gradient) is bit-identical for 1–4 threads', async () => {
    const F = tg.nn.functional;
    expectBitIdentical(await atEachCount(() => [
      ...valueAndGrads([[5, 3, 70, 16], [5, 3, 90, 16], [5, 3, 90, 24]], (q, k, v) => F.scaledDotProductAttention(q, k, v, { isCausal: true })),
      ...valueAndGrads([[7, 64, 32], [7, 64, 32], [7, 64, 32]], (q, k, v) => {
        tg.manualSeed(11);
        return F.scaledDotProductAttention(q, k, v, { dropoutP: 0.2, attnMask: tg.randn([64, 64]).detach() });
      }),
      // a mask that requires grad: every batch item adds into one mask gradient (its backward runs whole)
      ...valueAndGrads([[6, 4, 64, 16], [6, 4, 64, 16], [6, 4, 64, 16], [4, 64, 64]], (q, k, v, m) => F.scaledDotProductAttention(q, k, v, { attnMask: m })),
    ]));
  });

  it('conv2d and convTranspose2d forward and gradients (split by image) are bit-identical for 1–4 threads', async () => {
    const F = tg.nn.functional;
    expectBitIdentical(await atEachCount(() => [
      ...valueAndGrads([[9, 3, 20, 20], [16, 3, 3, 3], [16]], (x, w, b) => F.conv2d(x, w, b, { padding: 1 })),
      ...valueAndGrads([[5, 8, 17, 15], [4, 8, 5, 3]], (x, w) => F.conv2d(x, w, undefined, { stride: 2, padding: [2, 1] })),
      ...valueAndGrads([[6, 5, 12, 12], [13, 5, 3, 3], [13]], (x, w, b) => F.conv2d(x, w, b)), // 13 channels: bands of 4 and a last of 5
      ...valueAndGrads([[8, 6, 14, 14], [9, 2, 3, 3], [9]], (x, w, b) => F.conv2d(x, w, b, { groups: 3, dilation: 2, padding: 1 })), // dW by whole groups
      ...valueAndGrads([[8, 12, 16, 16], [12, 1, 3, 3]], (x, w) => F.conv2d(x, w, null, { groups: 12, padding: 1 })), // depthwise
      ...valueAndGrads([[8, 6, 9, 9], [6, 5, 3, 3], [10]], (x, w, b) => F.convTranspose2d(x, w, b, { stride: 2, padding: 1, outputPadding: 1, groups: 2 })),
    ]));
  });

  it.each(['Adam', 'AdamW', 'SGD'])('a whole training run (conv net, %s, traced steps too) is bit-identical for 1–4 threads', async (kind) => {
    const train = (): Float32Array[] => tg.tidy(() => {
      tg.manualSeed(5);
      const net = new tg.nn.Sequential(new tg.nn.Conv2d(3, 16, 3, { padding: 1 }), new tg.nn.GELU(), new tg.nn.Flatten(), new tg.nn.Linear(16 * 16 * 16, 64), new tg.nn.Tanh(), new tg.nn.Linear(64, 10));
      const opt = kind === 'SGD' ? new tg.optim.SGD(net.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })
        : kind === 'AdamW' ? new tg.optim.AdamW(net.parameters(), { lr: 1e-3 }) : new tg.optim.Adam(net.parameters(), { lr: 1e-3, weightDecay: 1e-2 });
      const x = tg.randn([32, 3, 16, 16]), y = tg.randint(0, 10, [32]);
      const losses: number[] = [];
      const step = () => { opt.zeroGrad(); const loss = tg.nn.functional.crossEntropy(net.forward(x), y); loss.backward(); opt.step(); return loss; };
      for (let i = 0; i < 3; i++) losses.push(step().item());
      const traced = tg.trace(step);
      for (let i = 0; i < 3; i++) traced.run();
      const out = [Float32Array.from(losses), ...net.parameters().map((p) => p.data() as Float32Array)];
      traced.dispose();
      return out;
    });
    expectBitIdentical(await atEachCount(train));
  });

  it('an error in a part run by a worker reaches the caller as the same Error as with one thread, and the engine goes on', async () => {
    tg.setNumThreads(1);
    let single: unknown;
    try { threads.trapInPart(0, 1); } catch (e) { single = e; }
    expect(single).toBeInstanceOf(WebAssembly.RuntimeError);

    tg.setNumThreads(2);
    expect(await threads.workersReady()).toBe(1); // (it starts them)
    const before = threads.workerErrors;
    const kept = tg.keep(tg.arange(0, 6));
    for (let i = 0; i < 6; i++) { // the failing part alternates: whichever thread claims first, a worker gets one
      let threaded: unknown;
      try { threads.trapInPart(i % 2, 2); } catch (e) { threaded = e; }
      expect(threaded).toBeInstanceOf(WebAssembly.RuntimeError);
      expect((threaded as Error).message).toBe((single as Error).message);
    }
    expect(threads.workerErrors).toBeGreaterThan(before); // at least one came from the worker
    expect(Array.from(kept.data())).toEqual([0, 1, 2, 3, 4, 5]);
    const a = tg.ones([300, 300]), jobs = threads.jobs;
    expect(a.matmul(a).sum().item()).toBe(300 * 300 * 300);
    expect(threads.jobs).toBe(jobs + 1); // kernels still split after the error
    kept.dispose();
  });

  it('a worker that dies while idle costs nothing: the parts run elsewhere', async () => {
    tg.setNumThreads(2);
    const a = tg.ones([400, 300]), b = tg.ones([300, 500]);
    a.matmul(b);
    expect(await threads.workersReady()).toBe(1);
    threads.killWorker(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(await threads.workersReady(100)).toBe(0);
    expect(a.matmul(b).sum().item()).toBe(400 * 500 * 300);
  });

  it('a worker that stops inside a part does not hang the caller: a clear Error, then one thread', async () => {
    tg.setNumThreads(2);
    const a = tg.ones([300, 300]);
    a.matmul(a); // a split: starts the workers
    expect(await threads.workersReady()).toBe(1);
    threads.limits.stallMs = 300;
    try {
      expect(() => threads.trapInPart(1, 2, true)).toThrow(/a worker thread stopped answering during a kernel.*threads are switched off/);
    } finally {
      threads.limits.stallMs = 10_000;
    }
    expect(tg.getNumThreads()).toBe(1);
    expect(a.matmul(a).sum().item()).toBe(300 * 300 * 300);
  });

  it('setNumThreads takes 1–64 and refuses anything else, naming the argument', () => {
    expect(() => tg.setNumThreads(0)).toThrow(/setNumThreads: n 0 is out of range/);
    expect(() => tg.setNumThreads(65)).toThrow(/setNumThreads: n 65 is out of range/);
    expect(() => tg.setNumThreads(1.5 as number)).toThrow(/setNumThreads: n must be an integer/);
    tg.setNumThreads(3);
    expect(tg.getNumThreads()).toBe(3);
  });

  it('TAPEGRAD_NUM_THREADS sets the default, and a bad value is a clear error', () => {
    const run = (value: string) => spawnSync(process.execPath, ['--input-type=module', '-e',
      `import(${JSON.stringify(DIST)}).then((tg) => console.log(tg.getNumThreads()))`], { env: { ...process.env, TAPEGRAD_NUM_THREADS: value }, encoding: 'utf8' });
    expect(run('3').stdout.trim()).toBe('3');
    const bad = run('many');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain("TAPEGRAD_NUM_THREADS must be a whole number ≥ 1, got 'many'");
  });

  it('without SharedArrayBuffer (a page that is not cross-origin isolated) the same module runs on one thread, with the same results', () => {
    const program = (prelude: string) => execFileSync(process.execPath, ['--input-type=module', '-e', `${prelude}
      const tg = await import(${JSON.stringify(DIST)});
      tg.manualSeed(1);
      const a = tg.randn([300, 200]).requiresGrad_(true), b = tg.randn([200, 260]).requiresGrad_(true);
      const y = a.matmul(b).gelu(); y.sum().backward();
      const digest = (t) => Array.from(t.data()).reduce((h, v) => (h * 31 + Math.round(v * 1e6)) % 1000000007, 7);
      console.log(JSON.stringify({ build: tg.build, threads: tg.getNumThreads(), y: digest(y), ga: digest(a.grad), gb: digest(b.grad) }));`],
    { encoding: 'utf8', env: { ...process.env, TAPEGRAD_NUM_THREADS: '2' } });
    const shared = JSON.parse(program(''));
    const unshared = JSON.parse(program('globalThis.SharedArrayBuffer = undefined;'));
    expect(shared.build).toMatch(/\+threads$/);
    expect(shared.threads).toBe(2);
    expect(unshared.build).not.toMatch(/threads/);
    expect(unshared.threads).toBe(1);
    expect({ ...unshared, build: 0, threads: 0 }).toEqual({ ...shared, build: 0, threads: 0 });
  });

  it('the pool never keeps a process alive', () => {
    const started = performance.now();
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      `const tg = await import(${JSON.stringify(DIST)}); const a = tg.randn([512, 512]); a.matmul(a); await tg.__testing.threads.workersReady(); console.log(tg.getNumThreads(), 'done')`],
    { encoding: 'utf8', timeout: 20_000 });
    expect(out.trim()).toMatch(/^\d+ done$/);
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});
