// The published package works as a user installs it: `npm pack` the root, install the tarball
// into a fresh project (offline, no scripts: the tarball carries dist/), then import it from
// ESM and require it from CommonJS in child Node processes.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TIMEOUT = 120_000;

/** the environment without npm's lifecycle variables (set when run through `npm test`) */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, env: cleanEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

let work = '';
let project = '';
let tarball = '';
let packedFiles: string[] = [];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tapegrad-pack-'));
  const out = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], ROOT);
  const info = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info[0].filename);
  packedFiles = info[0].files.map((f) => f.path);
  project = join(work, 'consumer');
  run('mkdir', ['-p', project], work);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2));
  run(
    'npm',
    ['install', tarball, '--no-audit', '--no-fund', '--ignore-scripts', '--offline', '--cache', join(work, 'npm-cache')],
    project,
  );
}, TIMEOUT);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function nodeJson(file: string): unknown {
  const out = run(process.execPath, [file], project).trim().split('\n');
  return JSON.parse(out[out.length - 1]);
}

describe('npm package', () => {
  it(
    'the tarball holds dist/ and every file package.json points to, and no sources or tests',
    () => {
      expect(existsSync(tarball)).toBe(true);
      expect(packedFiles).toContain('package.json');
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
      const targets = new Set<string>([pkg.main, pkg.module, pkg.types]);
      const walk = (v: unknown) => {
        if (typeof v === 'string') targets.add(v);
        else if (v && typeof v === 'object') Object.values(v).forEach(walk);
      };
      walk(pkg.exports);
      for (const t of targets) {
        if (!t || t === './package.json') continue;
        expect(packedFiles, `package.json points to ${t}`).toContain(t.replace(/^\.\//, ''));
      }
      expect(packedFiles).toContain('dist/index.js');
      expect(packedFiles).toContain('dist/index.cjs');
      expect(packedFiles).toContain('dist/index.d.ts');
      for (const f of packedFiles) expect(f).not.toMatch(/^(test|assembly|bindings|scripts|bench|node_modules|demo)\//);
      expect(packedFiles).not.toContain('data/kjv-genesis.txt.gz'); // the GPT demo's text stays in the repo
      expect(existsSync(join(project, 'node_modules', 'tapegrad', 'package.json'))).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "ESM: import { tensor } from 'tapegrad' computes d/dx sum(x*x) = 2x",
    () => {
      const file = join(project, 'esm-check.mjs');
      writeFileSync(
        file,
        [
          "import { tensor } from 'tapegrad';",
          "import * as tg from 'tapegrad';",
          'const x = tensor([1, 2, 3], { requiresGrad: true });',
          'x.mul(x).sum().backward();',
          'const grad = Array.from(x.grad.data());',
          'const y = tg.tidy(() => tg.tensor([[1, 2], [3, 4]]).matmul(tg.tensor([1, 1])).toArray());',
          'console.log(JSON.stringify({ grad, y, tidy: typeof tg.tidy }));',
        ].join('\n'),
      );
      expect(nodeJson(file)).toEqual({ grad: [2, 4, 6], y: [3, 7], tidy: 'function' });
    },
    TIMEOUT,
  );

  it(
    "CJS: const tg = require('tapegrad') computes d/dx sum(x*x) = 2x",
    () => {
      const file = join(project, 'cjs-check.cjs');
      writeFileSync(
        file,
        [
          "const tg = require('tapegrad');",
          'const x = tg.tensor([1, 2, 3], { requiresGrad: true });',
          'tg.tidy(() => x.mul(x).sum().backward());',
          'const grad = Array.from(x.grad.data());',
          "const { tensor } = require('tapegrad');",
          'const s = tensor([1, 2, 3]).sum().item();',
          'console.log(JSON.stringify({ grad, s }));',
        ].join('\n'),
      );
      expect(nodeJson(file)).toEqual({ grad: [2, 4, 6], s: 6 });
    },
    TIMEOUT,
  );

  // An uncaught error prints Node's excerpt of the throwing line and the stack: with a minified
  // bundle that line was the whole package, wasm included (107 KB). Now the message comes first
  // and the frames name tapegrad's functions.
  it.each([
    ['ESM', "import('tapegrad').then((tg) => tg.ones([2]).add(tg.ones([3])))"],
    ['CJS', "const tg = require('tapegrad'); tg.ones([2]).add(tg.ones([3]))"],
  ])(
    '%s: an uncaught error prints its message and a readable stack in at most 2 KB of stderr',
    (_, source) => {
      const r = spawnSync(process.execPath, ['-e', source], { cwd: project, env: cleanEnv(), encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(Buffer.byteLength(r.stderr)).toBeLessThanOrEqual(2048);
      expect(r.stderr).toContain('Error: add: shapes [2] and [3] cannot be broadcast (dim 0: 2 vs 3)');
      expect(r.stderr).toMatch(/\n {4}at broadcastShape \(.*node_modules\/tapegrad\/dist\/index\.c?js:\d+:\d+\)/);
      for (const line of r.stderr.split('\n')) expect(line.length).toBeLessThan(300);
    },
    TIMEOUT,
  );

  it(
    'the types resolve for TypeScript users from ESM and CommonJS (moduleResolution node16)',
    () => {
      writeFileSync(
        join(project, 'types-esm.mts'),
        [
          "import { tensor } from 'tapegrad';",
          'type Tensor = ReturnType<typeof tensor>;',
          'const x: Tensor = tensor([1, 2, 3], { requiresGrad: true });',
          'const s: number[] = x.shape;',
          'x.mul(x).sum().backward();',
          'const g: Tensor | null = x.grad;',
          'export { s, g };',
        ].join('\n'),
      );
      writeFileSync(
        join(project, 'types-cjs.cts'),
        [
          "import tg = require('tapegrad');",
          'const x: ReturnType<typeof tg.tensor> = tg.tensor([1, 2, 3]);',
          'const n: number = x.sum().item();',
          'export = n;',
        ].join('\n'),
      );
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'node16',
            moduleResolution: 'node16',
            target: 'es2020',
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: [],
          },
          files: ['types-esm.mts', 'types-cjs.cts'],
        }),
      );
      run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], project);
    },
    TIMEOUT,
  );
});
