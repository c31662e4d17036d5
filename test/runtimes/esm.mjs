// Run by each runtime in a project with the packed tapegrad installed: the fixed MLP with the ESM
// build (import).
import * as tg from 'tapegrad';
import { trainMLP } from './mlp.js';
import { report } from './report.js';

report('import', trainMLP(tg), tg);
