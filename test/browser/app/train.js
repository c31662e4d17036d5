// The training run the browser test compares across platforms: Node imports this file directly,
// and each bundler builds it into the page (main.js). The run itself is mlp.js, which
// test/runtimes shares.
import * as tg from 'tapegrad';
import { trainMLP } from './mlp.js';

/** Trains the fixed MLP of mlp.js with this build of tapegrad; returns the losses and the build. */
export const train = (steps) => trainMLP(tg, steps);
