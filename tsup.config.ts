import { defineConfig } from 'tsup';

// One bundle for Node (ESM and CJS) and browsers: core.wasm is inlined as bytes and compiled
// synchronously at import, so no bundler needs a wasm plugin and no Node built-in is reached.
export default defineConfig({
  entry: { index: 'bindings/index.ts' },
  format: ['esm', 'cjs'],
  platform: 'neutral',
  target: 'es2020',
  dts: true,
  clean: true,
  minify: !process.env.TAPEGRAD_PROFILE,
  sourcemap: false,
  loader: { '.wasm': 'binary', '.bin': 'binary' },
});
