// tapegrad as a user installs it, for the tests that run it outside vitest (test/browser,
// test/runtimes): build when stale, `npm pack`, and fresh projects with the tarball installed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** the environment without npm's lifecycle variables (set when run through `npm run`) */
export function cleanEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

/** Runs a command to completion and returns its stdout; a failure throws with both outputs. */
export function run(cmd, args, cwd, env = cleanEnv()) {
  try {
    return execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

function newestMtime(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newestMtime(join(path, f))));
}

/** Builds dist/ when it is missing or older than the sources (npm test has usually just built it). */
export function ensureBuilt(log) {
  const dist = join(ROOT, 'dist', 'index.js');
  const sources = ['assembly', 'bindings', 'asconfig.json', 'tsup.config.ts'].map((p) => join(ROOT, p));
  if (existsSync(dist) && statSync(dist).mtimeMs >= Math.max(...sources.map(newestMtime))) return;
  log('dist/ is missing or stale: npm run build');
  run('npm', ['run', 'build'], ROOT);
}

/** `npm pack` into `dest`; returns the tarball's path. */
export function pack(dest) {
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], ROOT);
  return join(dest, JSON.parse(out.slice(out.indexOf('[')))[0].filename);
}

/** Makes `project` (keeping any files already there) an ESM package with the tarball installed by npm, offline. */
export function installTarball(project, tarball, npmCache) {
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }, null, 2));
  run('npm', ['install', tarball, '--no-audit', '--no-fund', '--ignore-scripts', '--offline', '--cache', npmCache], project);
}

/** |a − b| relative to the larger magnitude (0 when equal) */
export function relDiff(a, b) {
  return a === b ? 0 : Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
}
