// npm run test:browser — tapegrad as a browser user gets it.
//
// Packs the package, installs the tarball into a temporary project holding test/browser/app/,
// bundles that app with Vite (build and dev server), esbuild and webpack 5 (no wasm plugin or
// config), serves each on 127.0.0.1 with the cross-origin isolation headers (COOP/COEP) and opens
// it in Debian's Chromium through playwright-core. The page trains the fixed-seed MLP of
// app/mlp.js and the wide one of app/wide.js, whose matmuls split over the thread pool; Node runs
// the same module, and the losses must agree within 1e-5 relative. In each page the pool must be
// running (crossOriginIsolated, '+threads', more than one thread, workers up and running parts);
// the Vite build served again without the headers must fall back to one thread with the same
// losses. Then the playground is built, trained in Chromium (without the headers: one thread)
// until its loss falls below a threshold, and screenshotted to test-artifacts/playground.png; then
// its Web Worker is checked with the headers (threaded), and its main thread traced while training
// (playground-worker.mjs). Last, examples/worker (training in a Web Worker) is built with Vite and
// webpack 5 and run in Chromium (and from Vite's dev server): its losses must match Node's run of
// the same module and fall.
// Exits non-zero on any failure.
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import * as vite from 'vite';
import webpack from 'webpack';
import { ensureBuilt, installTarball, pack, relDiff } from '../packed.mjs';
import { serve } from '../../scripts/static-server.mjs';
import { ISOLATION_HEADERS, buildPlayground } from '../../scripts/playground.mjs';
import { openPlayground, testPlaygroundWorker } from './playground-worker.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP = join(ROOT, 'test', 'browser', 'app');
const WORKER_EXAMPLE = join(ROOT, 'examples', 'worker');
const WORKER_STEPS = 60;
const ARTIFACTS = join(ROOT, 'test-artifacts');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];
const REL_TOL = 1e-5;
/**
 * An absolute allowance besides REL_TOL: Chromium runs the relaxed-SIMD build (fused multiply-adds)
 * and Node 20 the SIMD one, so losses drift apart by a few float32 ulps a step, which is a large
 * relative difference once a loss is near 0 (the worker example ends at 0.04).
 */
const ABS_TOL = 1e-6;
const PLAYGROUND_LOSS = 0.05;
const PAGE_TIMEOUT = 60_000;

const t0 = performance.now();
const elapsed = () => `${((performance.now() - t0) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[${elapsed()}] ${msg}`);

/** npm pack into `work`, then a project there with the app copied in and the tarball installed. */
function packAndInstall(work) {
  const tarball = pack(work);
  const project = join(work, 'app');
  cpSync(APP, project, { recursive: true });
  installTarball(project, tarball, join(work, 'npm-cache'));
  return { tarball, project };
}

// ── the bundlers (each with no plugin and nothing about wasm in its configuration) ─────────

async function buildVite(project, outDir) {
  await vite.build({ root: project, configFile: false, logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  return outDir;
}

/** esbuild for the browser platform; its inputs show that the page reaches no Node built-in. */
async function buildEsbuild(project, outDir) {
  const result = await esbuild.build({
    entryPoints: [join(project, 'main.js')],
    outfile: join(outDir, 'main.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    minify: true,
    metafile: true,
    logLevel: 'warning',
  });
  cpSync(join(project, 'index.html'), join(outDir, 'index.html'));
  const inputs = Object.keys(result.metafile.inputs).map((f) => relative(project, join(process.cwd(), f)));
  const expected = new Set(['main.js', 'train.js', 'mlp.js', 'wide.js', join('node_modules', 'tapegrad', 'dist', 'index.js')]);
  const unexpected = inputs.filter((f) => !expected.has(f));
  if (unexpected.length) throw new Error(`esbuild: the browser bundle pulls in more than the package's ESM file: ${unexpected.join(', ')}`);
  log(`esbuild inputs: ${inputs.join(', ')} (no Node built-in)`);
  return outDir;
}

async function buildWebpack(project, outDir) {
  const stats = await new Promise((ok, fail) => {
    const compiler = webpack({ mode: 'production', context: project, entry: './main.js', output: { path: outDir, filename: 'main.js' } });
    compiler.run((err, s) => compiler.close(() => (err ? fail(err) : ok(s))));
  });
  if (stats.hasErrors()) throw new Error(`webpack:\n${stats.toString('errors-only')}`);
  if (stats.hasWarnings()) log(`webpack warnings:\n${stats.toString('errors-warnings')}`);
  cpSync(join(project, 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

async function startViteDev(project, headers = {}) {
  const server = await vite.createServer({
    root: project,
    configFile: false,
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: false, headers },
  });
  await server.listen();
  return { url: server.resolvedUrls.local[0], close: () => server.close() };
}

// ── Chromium ─────────────────────────────────────────────────────────────────────────────────

/** Opens `url` and waits for the page's result (window.__result); page errors fail the run. */
async function runPage(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  try {
    await page.goto(url);
    await page.waitForFunction(() => window.__result, null, { timeout: PAGE_TIMEOUT });
    const result = await page.evaluate(() => window.__result);
    if (result.error) throw new Error(result.error);
    if (errors.length) throw new Error(errors.join('\n'));
    return result;
  } finally {
    await page.close();
  }
}

/** Checks a Chromium run against Node's; returns the largest relative difference. */
function compare(name, node, browser) {
  if (browser.losses.length !== node.losses.length) throw new Error(`${name}: ${browser.losses.length} losses, Node has ${node.losses.length}`);
  const worst = Math.max(...node.losses.map((l, i) => relDiff(l, browser.losses[i])));
  const off = node.losses.findIndex((l, i) => !(Math.abs(l - browser.losses[i]) <= REL_TOL * Math.max(Math.abs(l), Math.abs(browser.losses[i])) + ABS_TOL));
  if (off >= 0) {
    throw new Error(`${name}: losses differ from Node's beyond ${REL_TOL} relative + ${ABS_TOL} absolute, first at step ${off + 1}: ${browser.losses[off]} vs ${node.losses[off]}`);
  }
  const isa = browser.build.replace(/\+threads$/, '');
  if (isa !== 'relaxed-simd') throw new Error(`${name}: Chromium loaded the '${browser.build}' build, expected 'relaxed-simd'`);
  return worst;
}

/**
 * Checks what the thread pool did in a page (app/main.js's `threads`). Served with COOP/COEP the
 * page is cross-origin isolated and loads the '+threads' build, runs on more than one thread, its
 * workers start, split the wide MLP's matmuls and run parts; without the headers it has one
 * thread and splits nothing. Either way the wide MLP's losses do not change once the workers are
 * up (bit for bit) and match Node's. Returns the largest relative difference from Node's.
 */
function checkThreads(name, result, isolated, nodeWide) {
  const t = result.threads;
  const fail = (what) => { throw new Error(`${name}: ${what} (served ${isolated ? 'with' : 'without'} COOP/COEP)`); };
  if (t.isolated !== isolated) fail(`crossOriginIsolated is ${t.isolated}`);
  if (result.build.endsWith('+threads') !== isolated) fail(`tg.build is '${result.build}'`);
  if (isolated) {
    if (!(t.count > 1)) fail(`tg.getNumThreads() is ${t.count}`);
    if (!(t.workers >= 1)) fail(`no worker started (workersReady: ${t.workers})`);
    if (!(t.jobs > 0)) fail('the wide MLP split no kernel over the pool');
    if (!t.workerRanPart) fail('no worker ran a part of a test job');
  } else if (t.count !== 1 || t.workers !== 0 || t.jobs !== 0 || t.workerRanPart) {
    fail(`${t.count} threads, ${t.workers} workers, ${t.jobs} split jobs, a worker ran a part: ${t.workerRanPart} (expected 1, 0, 0, false)`);
  }
  const differ = t.losses.findIndex((l, i) => !Object.is(l, t.alone[i]));
  if (differ >= 0) fail(`the wide MLP's loss at step ${differ + 1} changed once the workers were up: ${t.losses[differ]} vs ${t.alone[differ]}`);
  return compare(`${name} (wide MLP)`, nodeWide, { build: result.build, losses: t.losses });
}

/** The playground served as a plain static site (no COOP/COEP: one thread) trains to PLAYGROUND_LOSS. */
async function testPlayground(context, work) {
  const server = await serve(await buildPlayground(join(work, 'playground')));
  const { page, errors } = await openPlayground(context, server.url);
  try {
    const start = performance.now();
    await page.click('#train');
    const reached = await page.waitForFunction(
      (target) => window.playground.loss < target && { step: window.playground.step, loss: window.playground.loss },
      PLAYGROUND_LOSS, { timeout: PAGE_TIMEOUT },
    ).then((h) => h.jsonValue());
    const seconds = (performance.now() - start) / 1000;
    await page.waitForTimeout(300); // a few more frames, so steps/s is on screen
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'playground.png');
    await page.screenshot({ path: shot, fullPage: true });
    const info = await page.evaluate(() => ({ ...window.playground, tensors: document.querySelector('#tensors').textContent }));
    await page.click('#train');
    if (errors.length) throw new Error(errors.join('\n'));
    if (info.crossOriginIsolated || info.build.endsWith('+threads') || info.threads !== 1) {
      throw new Error(`playground without COOP/COEP: cross-origin isolated ${info.crossOriginIsolated}, build ${info.build}, ${info.threads} threads (expected false, no '+threads', 1)`);
    }
    log(`playground (spirals, no COOP/COEP: ${info.threads} thread): loss ${reached.loss.toPrecision(3)} < ${PLAYGROUND_LOSS} at step ${reached.step}, ${seconds.toFixed(1)}s after Train; ` +
      `at the screenshot: step ${info.step}, loss ${info.loss.toPrecision(3)}, accuracy ${(100 * info.accuracy).toFixed(1)}%, ` +
      `${Math.round(info.stepsPerSecond)} steps/s, ${info.tensors} live tensors, build ${info.build} → ${relative(ROOT, shot)}`);
    return { reached, seconds, atScreenshot: info, screenshot: relative(ROOT, shot) };
  } finally {
    await page.close();
    await server.close();
  }
}

/**
 * examples/worker, copied beside the app (so it resolves the installed package), built with Vite
 * (served with COOP/COEP) and webpack 5 and served by Vite's dev server (both without): the
 * worker's losses must match Node's run of the same train.js, fall, and arrive while the page
 * keeps drawing frames; its build has '+threads' exactly where the page is cross-origin isolated.
 */
async function testWorkerExample(context, project, work) {
  const dir = join(project, 'worker');
  cpSync(WORKER_EXAMPLE, dir, { recursive: true });
  const { train } = await import(pathToFileURL(join(dir, 'train.js')).href);
  const node = [];
  train(WORKER_STEPS, (_, loss) => node.push(loss));
  const built = await serve(await buildVite(dir, join(work, 'out', 'worker-vite')), { headers: ISOLATION_HEADERS });
  const packed = await serve(await buildWebpack(dir, join(work, 'out', 'worker-webpack')));
  const dev = await startViteDev(dir);
  try {
    for (const [name, url, isolated] of [['worker (vite build, COOP/COEP)', built.url, true], ['worker (webpack 5)', packed.url, false], ['worker (vite dev)', dev.url, false]]) {
      const result = await runPage(context, `${url}?steps=${WORKER_STEPS}`);
      const worst = compare(name, { losses: node }, result);
      if (result.build.endsWith('+threads') !== isolated) throw new Error(`${name}: the worker's tg.build is '${result.build}' ${isolated ? 'with' : 'without'} COOP/COEP`);
      const [first, last] = [result.losses[0], result.losses.at(-1)];
      if (!(last < first)) throw new Error(`${name}: the loss did not fall (${first} → ${last})`);
      if (!(result.frames > 0)) throw new Error(`${name}: the page drew no frame while the worker trained`);
      log(`${name}: ${WORKER_STEPS} losses from the worker, ${first.toFixed(4)} → ${last.toFixed(4)}, ` +
        `max relative difference from Node ${worst.toExponential(2)}, ${result.frames} frames drawn meanwhile, build ${result.build}`);
    }
  } finally {
    await built.close();
    await packed.close();
    await dev.close();
  }
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`);
  ensureBuilt(log);
  const work = mkdtempSync(join(tmpdir(), 'tapegrad-browser-'));
  const closers = [];
  try {
    const { tarball, project } = packAndInstall(work);
    log(`packed ${relative(work, tarball)} and installed it into a fresh project`);

    const { train, trainWideMLP } = await import(pathToFileURL(join(project, 'train.js')).href);
    const node = train();
    const nodeWide = trainWideMLP();
    log(`Node ${process.version}: build '${node.build}', ${node.losses.length} + ${nodeWide.losses.length} losses`);

    const out = (name) => join(work, 'out', name);
    const built = [];
    built.push(['vite build', await buildVite(project, out('vite'))]);
    log('vite build done');
    built.push(['esbuild', await buildEsbuild(project, out('esbuild'))]);
    built.push(['webpack 5', await buildWebpack(project, out('webpack'))]);
    log('webpack done');
    // each served with the isolation headers (threads), and the Vite build again without them
    const targets = built.map(([name, dir]) => [name, dir, true]);
    targets.push(['vite build, no COOP/COEP', built[0][1], false]);

    const userDataDir = join(work, 'chromium-profile');
    const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    closers.push(() => context.close());
    log(`Chromium ${context.browser()?.version() ?? ''} started`);

    const results = {};
    const isolatedAs = {};
    for (const [name, dir, isolated] of targets) {
      const server = await serve(dir, { headers: isolated ? ISOLATION_HEADERS : {} });
      closers.push(server.close);
      results[name] = await runPage(context, server.url);
      isolatedAs[name] = isolated;
      log(`${name}: ${server.url} → build '${results[name].build}'`);
    }
    const dev = await startViteDev(project, ISOLATION_HEADERS);
    closers.push(dev.close);
    results['vite dev'] = await runPage(context, dev.url);
    isolatedAs['vite dev'] = true;
    log(`vite dev: ${dev.url} → build '${results['vite dev'].build}'`);

    const names = Object.keys(results);
    const first = results[names[0]];
    console.log(`\nlosses, Node (${node.build}) vs Chromium (${first.build}):`);
    console.log(' step  Node          Chromium      rel. diff');
    node.losses.forEach((l, i) => {
      const c = first.losses[i];
      const same = names.every((n) => results[n].losses[i] === c) ? '' : '  (bundlers differ)';
      console.log(`${String(i + 1).padStart(5)}  ${l.toFixed(9)}   ${c.toFixed(9)}   ${relDiff(l, c).toExponential(2)}${same}`);
    });
    console.log(`\nwide MLP (split over threads), Node vs Chromium:`);
    nodeWide.losses.forEach((l, i) => {
      const c = first.threads.losses[i];
      const same = names.every((n) => results[n].threads.losses[i] === c) ? '' : '  (pages differ)';
      console.log(`${String(i + 1).padStart(5)}  ${l.toFixed(9)}   ${c.toFixed(9)}   ${relDiff(l, c).toExponential(2)}${same}`);
    });
    console.log();
    const worst = Object.fromEntries(names.map((n) => [n, compare(n, node, results[n])]));
    const worstWide = Object.fromEntries(names.map((n) => [n, checkThreads(n, results[n], isolatedAs[n], nodeWide)]));
    for (const n of names) {
      const t = results[n].threads;
      console.log(`  ${n.padEnd(24)} build ${results[n].build.padEnd(20)} crossOriginIsolated ${String(t.isolated).padEnd(5)} ` +
        `${t.count} threads, ${t.workers} workers, ${t.jobs} split jobs, a worker ran a part: ${t.workerRanPart}; ` +
        `max relative difference ${worst[n].toExponential(2)}, wide ${worstWide[n].toExponential(2)} (≤ ${REL_TOL})`);
    }
    console.log();

    const playground = await testPlayground(context, work);
    playground.worker = await testPlaygroundWorker(context, join(work, 'playground'), log);
    await testWorkerExample(context, project, work);

    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'browser-results.json'), JSON.stringify({ node: { version: process.version, ...node, wide: nodeWide }, chromium: results, maxRelDiff: worst, maxRelDiffWide: worstWide, playground }, null, 2) + '\n');
    log(`ok: Chromium loaded '${first.build}' (cross-origin isolated; one thread without COOP/COEP), Node '${node.build}'; ` +
      `losses agree within ${REL_TOL} relative (+ ${ABS_TOL} absolute) with Vite (build and dev), esbuild and webpack 5`);
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => log('test:browser passed'),
  (e) => {
    console.error(`\ntest:browser FAILED after ${elapsed()}:\n${e.stack ?? e}`);
    process.exitCode = 1;
  },
);
