// The page: runs the shared trainings and publishes the result for the test (window.__result):
// the small MLP's {build, losses}, and under `threads` what the thread pool did for the wide one.
import * as tg from 'tapegrad';
import { train, trainWideMLP } from './train.js';

const pool = tg.__testing.threads;
const TRIES = 20;

/**
 * Whether a worker runs a part here: a test job of 2 parts whose part 1 fails while part 0 waits
 * for it to start, so whichever thread claims second takes part 1 and reports the error. Before
 * each try the workers are left to fall asleep (they spin 2 ms after a job), so the main thread
 * claims first and a worker's error shows that the worker ran part 1.
 */
async function workerRanPart() {
  const before = pool.workerErrors;
  for (let i = 0; i < TRIES && pool.workerErrors === before; i++) {
    await new Promise((done) => setTimeout(done, 20));
    try { pool.trapInPart(1, 2); } catch { /* the expected failure */ }
  }
  return pool.workerErrors > before;
}

/**
 * The wide MLP twice: a page's workers start only once it yields, so the first run splits its
 * matmuls but the main thread runs every part; the second runs after the workers are up.
 */
async function threaded() {
  const pooled = tg.build.endsWith('+threads');
  const alone = trainWideMLP().losses;
  const workers = pooled ? await pool.workersReady() : 0;
  const jobs = pool.jobs;
  const { losses } = trainWideMLP();
  return {
    isolated: globalThis.crossOriginIsolated, count: tg.getNumThreads(), workers,
    jobs: pool.jobs - jobs, workerRanPart: pooled && await workerRanPart(), alone, losses,
  };
}

/** Publishes the result (or the error) for the test, and shows it. */
function publish(result) {
  window.__result = result;
  document.querySelector('#out').textContent = JSON.stringify(result, null, 2);
}

// (no top-level await: Vite's default build target does not have it)
Promise.resolve().then(async () => ({ ...train(), threads: await threaded() })).then(
  publish,
  (e) => publish({ error: String(e && e.stack ? e.stack : e) }),
);
