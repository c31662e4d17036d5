// PyTorch on the CPU (on 1 or `threads` threads), as a reference column: a Python process (pytorch_worker.py) holds the
// models and this adapter drives it, one JSON line a request. The inputs are the arrays of
// lib/data.mjs, sent over once; the results (losses, matmul product, gradient) come back to be
// checked by the same code as every other implementation's; a handle's timing runs inside Python
// (handle.measure, the harness's measure() ported), so no inter-process call is timed.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Unavailable } from '../lib/harness.mjs';

const WORKER = fileURLToPath(new URL('./pytorch_worker.py', import.meta.url));
const NOT_INSTALLED = 'PyTorch not installed (python3 with torch not found)';
/** Interpreters tried in turn: $PYTHON, the python3 on PATH, then the system one (Debian's torch). */
const PYTHONS = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean);
/**
 * Debian's torch does its matrix products in whatever libblas.so.3 the system selects, and the
 * default is the reference BLAS (4 GFLOP/s here, against 52 with OpenBLAS on one thread). When
 * OpenBLAS is installed (apt-get install libopenblas0-pthread) the worker loads it, as a pip
 * torch would use MKL; the report names the library either way.
 */
const OPENBLAS = `/usr/lib/${{ x64: 'x86_64', arm64: 'aarch64' }[process.arch]}-linux-gnu/openblas-pthread`;

/** Typed arrays travel as base64 of their bytes. */
function encode(v) {
  if (v instanceof Float32Array || v instanceof Int32Array) {
    const b64 = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    return v instanceof Float32Array ? { $f32: b64 } : { $i32: b64 };
  }
  if (Array.isArray(v)) return v.map(encode);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  return v;
}

const decode = (v) => (v?.$f32 !== undefined ? new Float32Array(new Uint8Array(Buffer.from(v.$f32, 'base64')).buffer) : v);

/** Starts the worker with `python` on `threads` threads; resolves to { request, meta }, or null when it cannot import torch. */
function start(python, threads) {
  return new Promise((resolve) => {
    const n = String(threads);
    const env = { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n };
    if (existsSync(OPENBLAS)) env.LD_LIBRARY_PATH = [OPENBLAS, env.LD_LIBRARY_PATH].filter(Boolean).join(':');
    const proc = spawn(python, [WORKER, n], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let ready = false;
    const waiting = [];
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('error', () => resolve(null)); // no such interpreter
    proc.on('exit', (code) => {
      if (!ready) resolve(null); // e.g. ModuleNotFoundError: torch
      const why = `the PyTorch worker exited (${code}) ${stderr.trim().split('\n').at(-1) ?? ''}`;
      waiting.splice(0).forEach(({ reject }) => reject(new Error(why)));
    });
    process.on('exit', () => proc.kill());
    let id = 0;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const msg = JSON.parse(line);
      if (msg.ready) {
        ready = true;
        resolve({ request, meta: msg.ready });
        return;
      }
      const { resolve: ok, reject } = waiting.shift();
      if (msg.error) reject(new Error(msg.error));
      else ok(decode(msg.ok));
    });
    function request(msg) {
      return new Promise((ok, reject) => {
        waiting.push({ resolve: ok, reject });
        proc.stdin.write(JSON.stringify(encode({ id: id++, ...msg })) + '\n');
      });
    }
  });
}

let request;

/** A handle whose every method is a call into the worker, plus measure(name, options). */
async function remote(method, ...args) {
  const handle = await request({ cmd: 'make', method, args });
  const call = (name) => () => request({ cmd: 'call', handle, name });
  return {
    run: call('run'), read: call('read'), step: call('step'), loss: call('loss'), grad: call('grad'),
    measure: (name, options) => request({ cmd: 'measure', handle, name, options }),
  };
}

export default {
  id: 'pytorch',
  label: 'PyTorch',
  unsupported: {
    micrograd: 'not run: scalar autograd in PyTorch (a tensor per number) measures Python overhead, not what PyTorch is for',
    memory: 'not measured: the JS heap and wasm memory of this workload do not apply to a Python process',
  },

  /** Starts the worker on `this.threads` threads (set by impls/index.mjs) and checks torch and the BLAS use that many. */
  async init() {
    const wanted = this.threads ?? 1;
    for (const python of PYTHONS) {
      const worker = await start(python, wanted);
      if (!worker) continue;
      request = worker.request;
      const { torch, python: version, threads, blas, blasThreads } = worker.meta;
      if (threads !== wanted || (blasThreads ?? wanted) !== wanted) {
        throw new Error(`PyTorch runs on ${threads} threads${blasThreads == null ? '' : ` and its BLAS on ${blasThreads}`}, not ${wanted}`);
      }
      const reference = /\/blas\/libblas/.test(blas) ? ' (the reference BLAS: slow matrix products; apt-get install libopenblas0-pthread)' : '';
      return { version: `torch ${torch}, Python ${version} (${python}), BLAS ${blas}${reference}` };
    }
    throw new Unavailable(NOT_INSTALLED);
  },

  matmul: (A, B, N) => remote('matmul', A, B, N),
  trainMlp: (spec) => remote('trainMlp', spec),
  trainConv: (spec) => remote('trainConv', spec),
  chain: (spec) => remote('chain', spec),
  trainGpt: (spec) => remote('trainGpt', spec),
  trainMakemore: (spec) => remote('trainMakemore', spec),
  trainLstm: (spec) => remote('trainLstm', spec),
};
