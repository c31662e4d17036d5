// examples/: each runs as a user runs it (`node examples/x.mjs`, in a child process, importing
// the package by its name) for a few steps, and its output is checked against answers the
// example does not compute: the coefficients and noise level its data was generated with, the
// loss of a uniform prediction (ln of the class count), the text's own alphabet. The worker
// page runs in Chromium in `npm run test:browser`; here its training module runs in Node.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');
const TIMEOUT = 120_000;

/** stdout of `node examples/<file> ...args`, run from the repository root */
function runExample(file: string, ...args: string[]): string {
  return execFileSync(process.execPath, [join('examples', file), ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** every `step N loss X` line, as [N, X] */
function losses(out: string): [number, number][] {
  return [...out.matchAll(/^step (\d+) loss ([\d.]+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** the JSON after `label ` on its line */
function json(out: string, label: string): unknown {
  const line = out.split('\n').find((l) => l.startsWith(`${label} `));
  if (!line) throw new Error(`no "${label}" line in:\n${out}`);
  return JSON.parse(line.slice(label.length + 1));
}

describe('examples', () => {
  it('every file is at most 100 lines and its header says how to run it', () => {
    const files = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(mjs|js|html)$/.test(f) && !/(^|\/)dist\//.test(f));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const text = readFileSync(join(EXAMPLES, f), 'utf8');
      expect(text.trimEnd().split('\n').length, f).toBeLessThanOrEqual(100);
      if (/^[\w-]+\.mjs$/.test(f) && f !== 'util.mjs') expect(text, f).toContain(`node examples/${f}`);
    }
  });

  it('regression recovers the coefficients its data was made with, down to the noise', () => {
    const out = runExample('regression.mjs', '--steps', '300');
    const fitted = json(out, 'fitted') as number[];
    [0.5, -2, 1.5].forEach((w, i) => expect(Math.abs(fitted[i] - w), `w${i}`).toBeLessThan(0.05));
    // at the least-squares fit the mean squared residual is about the noise variance, 0.05²
    const [, final] = losses(out).at(-1)!;
    expect(final).toBeGreaterThan(0.0015);
    expect(final).toBeLessThan(0.0035);
  }, TIMEOUT);

  it('the digits CNN learns: its loss falls from ln 10 and held-out accuracy is far above chance', () => {
    const out = runExample('digits-cnn.mjs', '--steps', '30');
    const steps = losses(out);
    expect(steps[0][0]).toBe(0);
    expect(Math.abs(steps[0][1] - Math.log(10))).toBeLessThan(0.3); // a fresh model guesses about uniformly
    expect(steps.at(-1)![0]).toBe(29);
    expect(steps.at(-1)![1]).toBeLessThan(steps[0][1] / 2);
    const [, correct, total] = out.match(/held-out accuracy [\d.]+% \((\d+)\/(\d+)\)/)!.map(Number);
    expect(total).toBe(Math.round(1797 * 0.2)); // 20% of the 1797 digits
    expect(correct / total).toBeGreaterThan(0.5); // chance is 0.1
  }, TIMEOUT);

  it('makemore starts at the uniform loss ln 27, improves, and samples words of a–z', () => {
    const out = runExample('makemore.mjs', '--steps', '200');
    const [[, first]] = losses(out);
    expect(Math.abs(first - Math.log(27))).toBeLessThan(0.05);
    const [, train, dev] = out.match(/train loss ([\d.]+), held-out loss ([\d.]+)/)!.map(Number);
    expect(train).toBeLessThan(first - 0.2);
    expect(dev).toBeLessThan(Math.log(27) - 0.2);
    const samples = json(out, 'samples') as string[];
    expect(samples).toHaveLength(10);
    for (const w of samples) expect(w).toMatch(/^[a-z]{0,20}$/);
    expect(samples.some((w) => w.length > 0)).toBe(true);
  }, TIMEOUT);

  it('the GPT trains and samples the requested number of characters from the text\'s alphabet', () => {
    const out = runExample('gpt.mjs', '--steps', '40', '--chars', '50');
    const steps = losses(out);
    const alphabet = new Set(gunzipSync(readFileSync(join(ROOT, 'data', 'kjv-genesis.txt.gz'))).toString('utf8'));
    expect(steps[0][0]).toBe(0);
    expect(Math.abs(steps[0][1] - Math.log(alphabet.size))).toBeLessThan(1); // near uniform at the start
    expect(steps.at(-1)![0]).toBe(39);
    expect(steps.at(-1)![1]).toBeLessThan(steps[0][1] - 1);
    const sample = json(out, 'sample') as string;
    expect([...sample]).toHaveLength(50);
    for (const c of sample) expect(alphabet.has(c), JSON.stringify(c)).toBe(true);
  }, TIMEOUT);

  it('the LSTM forecaster beats the naive "next = this" forecast of its own held-out waves many times over', () => {
    const out = runExample('lstm-sine.mjs', '--steps', '200');
    const steps = losses(out);
    expect(steps[0][0]).toBe(0);
    expect(steps.at(-1)![0]).toBe(200);
    expect(steps.at(-1)![1]).toBeLessThan(steps[0][1] / 20);
    const r = json(out, 'result') as { oneStep: number; naive: number; forecastMean: number };
    // the naive forecast's mean squared error is 1 − cos ω on average, ≈ 0.045 for ω in [0.2, 0.4]
    expect(r.naive).toBeGreaterThan(0.02);
    expect(r.naive).toBeLessThan(0.08);
    expect(r.oneStep).toBeLessThan(r.naive / 20);
    expect(r.forecastMean).toBeLessThan(0.4); // a flat 0 forecast of a unit sine is off by 2/π ≈ 0.64 on average
  }, TIMEOUT);

  it('the worker\'s training module runs in Node: one loss per step, falling', async () => {
    const { train } = await import(pathToFileURL(join(EXAMPLES, 'worker', 'train.js')).href);
    const seen: [number, number][] = [];
    const build = train(40, (step: number, loss: number) => seen.push([step, loss]));
    expect(seen.map(([s]) => s)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(seen[0][1]).toBeGreaterThan(0.5); // two balanced classes: about ln 2 before training
    expect(seen[39][1]).toBeLessThan(seen[0][1] - 0.2);
    expect(build).toMatch(/^(relaxed-)?simd(\+threads)?$/);
  }, TIMEOUT);
});
