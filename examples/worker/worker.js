// The Web Worker: trains off the main thread and posts each loss to the page.
import { train } from './train.js';

self.onmessage = ({ data: { steps } }) => {
  try {
    const build = train(steps, (step, loss) => self.postMessage({ type: 'loss', step, loss }));
    self.postMessage({ type: 'done', build });
  } catch (e) {
    self.postMessage({ type: 'error', error: String(e && e.stack ? e.stack : e) });
  }
};
