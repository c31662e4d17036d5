// The implementations, in table order. Importing this is cheap: libraries load in impl.init().
import os from 'node:os';
import tapegrad, { tapegradTrace } from './tapegrad.mjs';
import plainjs from './plainjs.mjs';
import { tfjs } from './tfjs.mjs';
import { jax } from './jax.mjs';
import jsPytorch from './js-pytorch.mjs';
import pytorch from './pytorch.mjs';

/** The thread count of the "-mt" columns: the machine's cores, or BENCH_THREADS. */
export const THREADS = threadCount(process.env.BENCH_THREADS);

function threadCount(env) {
  if (env === undefined || env === '') return os.availableParallelism?.() ?? os.cpus().length;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1) throw new Error(`BENCH_THREADS must be a whole number ≥ 1, got '${env}'`);
  return n;
}

const threads = (n) => `${n} thread${n > 1 ? 's' : ''}`;
/** `impl` on `n` threads (its init reads `this.threads`), labelled with its thread count. */
const onThreads = (impl, n, id = impl.id) => ({ ...impl, id, label: `${impl.label} (${threads(n)})`, threads: n });

// The single-threaded columns keep their ids (tapegrad, tapegrad-trace, pytorch), so results stay
// comparable with earlier runs; the "-mt" columns run the same code on THREADS threads.
export const IMPLS = [
  onThreads(tapegrad, 1), onThreads(tapegradTrace, 1), plainjs, tfjs('cpu'), tfjs('wasm'), jax('eager'), jax('jit'), jsPytorch, onThreads(pytorch, 1),
  onThreads(tapegrad, THREADS, 'tapegrad-mt'), onThreads(tapegradTrace, THREADS, 'tapegrad-trace-mt'), onThreads(pytorch, THREADS, 'pytorch-mt'),
];
