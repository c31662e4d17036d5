// The training runs the browser test compares across platforms: Node imports this file directly,
// and each bundler builds it into the page (main.js). The runs themselves are mlp.js (which
// test/runtimes shares) and wide.js (large enough to split over threads).
import * as tg from 'tapegrad';
import { trainMLP } from './mlp.js';
import { trainWide } from './wide.js';

/** Trains the fixed MLP of mlp.js with this build of tapegrad; returns the losses and the build. */
export const train = (steps) => trainMLP(tg, steps);

/** Trains the wide MLP of wide.js, whose matmuls split over the thread pool where there is one. */
export const trainWideMLP = (steps) => trainWide(tg, steps);
