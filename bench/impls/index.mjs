// The implementations, in table order. Importing this is cheap: libraries load in impl.init().
import tapegrad, { tapegradTrace } from './tapegrad.mjs';
import plainjs from './plainjs.mjs';
import { tfjs } from './tfjs.mjs';
import { jax } from './jax.mjs';
import jsPytorch from './js-pytorch.mjs';
import pytorch from './pytorch.mjs';

export const IMPLS = [tapegrad, tapegradTrace, plainjs, tfjs('cpu'), tfjs('wasm'), jax('eager'), jax('jit'), jsPytorch, pytorch];
