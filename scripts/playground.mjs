// The playground: playground/ bundled by esbuild against the built package (dist/, through the
// package's own name and exports map, as a user's app would import it). Two bundles: the page
// (main.js, drawing only) and the Web Worker that trains (train-worker.js, with tapegrad inside);
// the page finds the worker beside itself through new URL('./train-worker.js', import.meta.url).
//
//   node scripts/playground.mjs [--port 8080]    build, serve on 127.0.0.1, rebuild on edits
//   node scripts/playground.mjs --build [dir]    write static files (default playground/dist),
//                                                with HOSTING.md saying which headers to serve
import * as esbuild from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serve } from './static-server.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'playground');
const STATIC = ['index.html', 'style.css'];

/** Cross-origin isolation (SharedArrayBuffer, so wasm threads): a host must send these with every file. */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** How to host the static build: written beside it as HOSTING.md, and printed by --build. */
export const HOSTING = `Host these files as a static site, serving every file with these two headers:

${Object.entries(ISOLATION_HEADERS).map(([k, v]) => `    ${k}: ${v}`).join('\n')}

They make the page cross-origin isolated, so tapegrad runs its kernels on several threads (the
page shows "cross-origin isolated: yes" and the thread count). Without them the playground works
the same on one thread.
`;

function options(outDir) {
  return {
    entryPoints: [join(SRC, 'main.js'), join(SRC, 'train-worker.js')],
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    logLevel: 'warning',
  };
}

function checkBuilt() {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    throw new Error('playground: dist/index.js is missing; run `npm run build` first');
  }
}

function copyStatic(outDir) {
  for (const f of STATIC) copyFileSync(join(SRC, f), join(outDir, f));
}

/** Writes the playground's static files (index.html, style.css, main.js, train-worker.js, HOSTING.md) into outDir. */
export async function buildPlayground(outDir) {
  checkBuilt();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  copyStatic(outDir);
  writeFileSync(join(outDir, 'HOSTING.md'), HOSTING);
  await esbuild.build(options(outDir));
  return outDir;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--build')) {
    const dir = args[args.indexOf('--build') + 1];
    const out = await buildPlayground(resolve(dir && !dir.startsWith('--') ? dir : join(SRC, 'dist')));
    console.log(`playground written to ${out}\n\n${HOSTING}`);
    return;
  }
  const port = args.includes('--port') ? Number(args[args.indexOf('--port') + 1]) : 8080;
  const out = await buildPlayground(join(SRC, 'dist'));
  // rebuild the bundles on edits to playground/ (reload the page to see them)
  const ctx = await esbuild.context({
    ...options(out),
    plugins: [{ name: 'copy-static', setup: (b) => b.onEnd(() => copyStatic(out)) }],
  });
  await ctx.watch();
  const server = await serve(out, { port, headers: ISOLATION_HEADERS });
  console.log(`tapegrad playground: ${server.url}  (Ctrl+C to stop)`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e.message ?? e);
    process.exit(1);
  });
}
