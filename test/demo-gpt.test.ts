// The demo's character-level GPT (demo/gpt.mjs) for a few steps: it starts at the loss of a uniform
// guess over its alphabet, learns, and samples text of its own alphabet with tg.multinomial.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module with no types
import { runGpt, loadText } from '../demo/gpt.mjs';

describe('demo: character-level GPT', () => {
  it('trains on Genesis from ln(vocab) down, replaying a traced step, and samples from its alphabet', () => {
    const { losses, sample, chars, model } = runGpt({ seed: 7, log: () => {}, steps: 150 });
    const alphabet = new Set(loadText());
    expect(chars.length).toBe(alphabet.size);
    expect(Math.abs(losses[0] - Math.log(chars.length))).toBeLessThan(0.1); // N(0, 0.02) weights: a near-uniform guess
    expect(losses.length).toBe(151);
    const late = losses.slice(-20).reduce((s: number, v: number) => s + v, 0) / 20;
    expect(late).toBeLessThan(losses[0] - 1.2); // bigram statistics alone take it below ~2.5
    expect(sample.startsWith('CHAPTER 51\nAnd ')).toBe(true);
    expect(sample.length).toBe('CHAPTER 51\nAnd '.length + 240);
    for (const c of sample) expect(alphabet.has(c)).toBe(true);
    model.dispose();
  }, 120_000);
});
