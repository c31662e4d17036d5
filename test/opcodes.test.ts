// The opcode enum exists twice (assembly/ops/opcodes.ts for the core, bindings/opcodes.ts for the
// façade), and every opcode needs a forward and a backward case in the core's two switches.
// These tests read the sources, so a missing rule fails here rather than giving a silent zero.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('..', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

const coreOps = new Map(
  [...read('assembly/ops/opcodes.ts').matchAll(/export const (\w+) = (\d+);/g)]
    .filter(([, name]) => name !== 'OP_COUNT')
    .map(([, name, value]) => [name, Number(value)]),
);
const bindingOps = new Map(
  [...read('bindings/opcodes.ts').matchAll(/(\w+) = (\d+)/g)].map(([, name, value]) => [name, Number(value)]),
);

/** The `case Op.X:` labels inside the body of function `name` in assembly/autograd.ts. */
function casesOf(name: string): Set<string> {
  const source = read('assembly/autograd.ts');
  const start = source.indexOf(`function ${name}(`);
  const body = source.slice(start, source.indexOf('\n}\n', start));
  return new Set([...body.matchAll(/case Op\.(\w+):/g)].map(([, op]) => op));
}

describe('opcodes', () => {
  it('the bindings mirror the core enum exactly', () => {
    expect(coreOps.size).toBeGreaterThan(30);
    expect(Object.fromEntries(bindingOps)).toEqual(Object.fromEntries(coreOps));
  });

  it('values are distinct and below OP_COUNT (gaps are blocks reserved for parts of an issue)', () => {
    const count = Number(/export const OP_COUNT = (\d+);/.exec(read('assembly/ops/opcodes.ts'))![1]);
    const values = [...coreOps.values()];
    expect(new Set(values).size).toBe(values.length);
    expect(Math.max(...values)).toBe(count - 1);
  });

  it('every opcode has a forward kernel and a backward rule', () => {
    const forward = casesOf('forward'), backward = casesOf('backwardRecord');
    for (const op of coreOps.keys()) {
      expect(forward.has(op), `forward case for ${op}`).toBe(true);
      expect(backward.has(op), `backward case for ${op}`).toBe(true);
    }
  });
});
