#!/usr/bin/env node
// npm run bench [-- --quick] [--impl tapegrad,tfjs-wasm] [--workload matmul,mlp]
// BENCH_THREADS=n npm run bench: the "-mt" columns on n threads instead of the machine's cores
//
// Installs the peers (bench/package.json, scripts ignored) when bench/node_modules is missing,
// builds tapegrad when dist/ is missing, then runs every workload of every implementation in its
// own child process, one at a time, and writes results/latest.{json,md} (partial.{json,md} when
// --impl or --workload selects a subset, quick.{json,md} for a --quick run of everything).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMPLS, THREADS } from './impls/index.mjs';
import { DIST as TAPEGRAD_DIST } from './impls/tapegrad.mjs';
import { WORKLOADS, unsupportedReason } from './lib/workloads.mjs';
import { RESULT_MARK, median } from './lib/harness.mjs';
import { toTerminal, toMarkdown } from './lib/report.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH);
const PEERS = ['@tensorflow/tfjs', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@jax-js/jax', 'js-pytorch'];

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const listArg = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1].split(',') : null;
};
const impls = IMPLS.filter((i) => !listArg('--impl') || listArg('--impl').includes(i.id));
const workloads = WORKLOADS.filter((w) => !listArg('--workload') || listArg('--workload').includes(w.id));
const CHILD_TIMEOUT_MS = quick ? 60_000 : 900_000;

function npm(argv, cwd) {
  const r = spawnSync('npm', argv, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const tail = lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? `exit ${r.status}`;
  return { ok: r.status === 0, tail };
}

function ensurePeers() {
  if (existsSync(path.join(BENCH, 'node_modules'))) return;
  console.log('installing the peers into bench/node_modules (npm ci --ignore-scripts) …');
  // --ignore-scripts: js-pytorch → gpu.js → gl has a native build that fails here.
  const r = npm(['ci', '--ignore-scripts', '--no-audit', '--no-fund'], BENCH);
  if (!r.ok) throw new Error(`npm ci in bench/ failed: ${r.tail}`);
}

/** Builds tapegrad when dist/ is missing; returns the reason it cannot be benchmarked, or null. */
function ensureTapegrad() {
  if (existsSync(TAPEGRAD_DIST)) return null;
  if (process.env.TAPEGRAD_DIST) return `TAPEGRAD_DIST=${TAPEGRAD_DIST} does not exist`;
  console.log('dist/ is missing: npm run build …');
  const r = npm(['run', 'build'], ROOT);
  if (r.ok && existsSync(TAPEGRAD_DIST)) return null;
  return `npm run build failed: ${r.tail}`;
}

/** Runs one child; resolves to { status, reason?, meta?, rows } (rows printed before any crash). */
function runChild(impl, w) {
  return new Promise((resolve) => {
    const argv = ['--expose-gc', path.join(BENCH, 'child.mjs'), impl.id, w.id, ...(quick ? ['--quick'] : [])];
    const child = spawn(process.execPath, argv, { cwd: BENCH, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const msgs = stdout.split('\n').filter((l) => l.startsWith(RESULT_MARK)).map((l) => JSON.parse(l.slice(RESULT_MARK.length)));
      const rows = msgs.filter((m) => m.row).map((m) => m.row);
      const done = msgs.find((m) => m.done)?.done;
      if (done) return resolve({ ...done, rows });
      const why = signal === 'SIGKILL' ? `timed out after ${CHILD_TIMEOUT_MS / 1000} s` : `exit ${code ?? signal}`;
      const last = stderr.trim().split('\n').filter(Boolean).at(-1) ?? '';
      resolve({ status: 'error', reason: `child crashed (${why}) ${last}`.trim(), rows });
    });
  });
}

const isTapegrad = (id) => id.startsWith('tapegrad');

/**
 * Training losses against the peers (every library but tapegrad, the one under test, each once:
 * a "-mt" column is the same library on more threads): the second loss within rel 1e-3 of the
 * peers' median, and the first step's decrease (loss 1 − loss 2) within 5% of theirs, which also
 * catches a step whose update did not happen.
 */
function crossCheckLosses(w) {
  for (const c of w.cases) {
    const rows = Object.entries(c.results).filter(([, r]) => r.status === 'ok' && r.losses);
    const peers = rows.filter(([id]) => !isTapegrad(id) && !id.endsWith('-mt')).map(([, r]) => r.losses);
    if (rows.length < 2 || peers.length === 0) continue;
    const l1 = median(peers.map((l) => l[1]));
    const drop = median(peers.map((l) => l[0] - l[1]));
    for (const [, r] of rows) {
      const d = r.losses[0] - r.losses[1];
      const ok = Math.abs(r.losses[1] - l1) <= 1e-3 * Math.abs(l1) && Math.abs(d - drop) <= 0.05 * Math.abs(drop) + 1e-6;
      const of = `the median of ${peers.length} peer${peers.length > 1 ? 's' : ''}`;
      r.agreement = { ok, detail: `second loss ${r.losses[1].toFixed(6)}, decrease ${d.toExponential(3)} vs ${l1.toFixed(6)}, ${drop.toExponential(3)} (${of})` };
    }
  }
}

/**
 * tapegrad promises the same results on any thread count: a "-mt" column's losses (training
 * steps) or result digest (matmul product, gradient of the chain) must equal its 1-thread
 * column's, bit for bit.
 */
function checkThreadsAgree(w) {
  const shown = (r) => (r.losses ? `losses ${r.losses.join(', ')}` : `digest ${r.digest}`);
  for (const c of w.cases) {
    for (const [id, r] of Object.entries(c.results)) {
      const one = c.results[id.slice(0, -3)];
      if (!isTapegrad(id) || !id.endsWith('-mt') || r.status !== 'ok' || one?.status !== 'ok' || !(r.losses || r.digest)) continue;
      const ok = r.digest === one.digest && (r.losses ?? []).every((l, i) => Object.is(l, one.losses[i]));
      r.threadsAgree = { ok, detail: `${shown(r)} on ${THREADS} threads, ${shown(one)} on 1` };
    }
  }
}

function peerVersions() {
  return Object.fromEntries(PEERS.map((p) => {
    try {
      return [p, JSON.parse(readFileSync(path.join(BENCH, 'node_modules', p, 'package.json'), 'utf8')).version];
    } catch {
      return [p, 'missing'];
    }
  }));
}

const started = performance.now();
ensurePeers();
const tapegradError = impls.some((i) => isTapegrad(i.id)) ? ensureTapegrad() : null;
const meta = {
  date: new Date().toISOString(),
  quick,
  command: `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  threads: THREADS,
  platform: `${os.platform()} ${os.arch()}`,
  node: process.version,
  loadAverage: { start: os.loadavg()[0] },
  tapegrad: { build: 'unknown', ...(tapegradError && { error: tapegradError }) },
  peers: peerVersions(),
};

const results = { meta, impls: impls.map(({ id, label, threads }) => ({ id, label, threads: threads ?? 1 })), workloads: [] };
for (const w of workloads) {
  const cases = new Map(); // key → { key, results: { implId: row } }
  for (const impl of impls) {
    const t0 = performance.now();
    const unsupported = unsupportedReason(impl, w);
    const spawned = !unsupported && !(isTapegrad(impl.id) && tapegradError);
    const out = unsupported ? { status: 'na', reason: unsupported }
      : spawned ? await runChild(impl, w)
      : { status: 'error', reason: tapegradError };
    if (isTapegrad(impl.id) && out.meta?.build) meta.tapegrad.build = out.meta.build;
    if (impl.id.startsWith('pytorch') && spawned && !meta.pytorch?.startsWith('torch')) meta.pytorch = out.meta?.version ?? out.reason;
    // a failure outside any case ('*') fills every case this implementation has no row for
    const rows = out.status === 'ok' ? out.rows : [...(out.rows ?? []), { key: '*', status: out.status, reason: out.reason }];
    for (const row of rows) {
      if (!cases.has(row.key)) cases.set(row.key, { key: row.key, results: {} });
      cases.get(row.key).results[impl.id] = row;
    }
    if (spawned) {
      const summary = rows.map((r) => `${r.key}: ${r.status === 'ok' ? r.value.toFixed(2) : `${r.status} (${r.reason})`}`).join('; ');
      console.log(`${w.id.padEnd(9)} ${impl.id.padEnd(17)} ${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s  ${summary}`);
    }
  }
  const all = cases.get('*');
  cases.delete('*');
  if (cases.size === 0) cases.set('—', { key: '—', results: {} });
  if (all) for (const c of cases.values()) c.results = { ...all.results, ...c.results };
  const entry = { id: w.id, title: w.title, about: w.about, unit: w.unit, higherIsBetter: !!w.higherIsBetter, cases: [...cases.values()] };
  if (w.crossCheck) crossCheckLosses(entry);
  checkThreadsAgree(entry);
  results.workloads.push(entry);
}
meta.durationSec = (performance.now() - started) / 1000;
meta.loadAverage.end = os.loadavg()[0];

// Only a full run replaces the table the README quotes: a subset (--impl, --workload) writes
// partial.*, a --quick run of everything quick.*.
const name = listArg('--impl') || listArg('--workload') ? 'partial' : quick ? 'quick' : 'latest';
const dir = path.join(BENCH, 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(results, null, 2) + '\n');
writeFileSync(path.join(dir, `${name}.md`), toMarkdown(results));
console.log(`\n${toTerminal(results)}\n\nwritten: bench/results/${name}.json, bench/results/${name}.md`);
