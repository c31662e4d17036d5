import { defineConfig } from 'tsup';

// One bundle for Node (ESM and CJS) and browsers: core.wasm is inlined (as text) and compiled
// synchronously at import, so no bundler needs a wasm plugin and no Node built-in is reached.
// Not minified: an error's stack and the source line Node prints with it stay readable, and the
// wasm sits on a line of its own. Bundlers minify it for the browser (`npm run size` measures that).
export default defineConfig({
  entry: { index: 'bindings/index.ts' },
  format: ['esm', 'cjs'],
  platform: 'neutral',
  target: 'es2020',
  dts: true,
  clean: true,
  minify: false,
  sourcemap: false,
  loader: { '.txt': 'text', '.bin': 'binary' },
});
