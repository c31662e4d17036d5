// Run by each runtime in a project with the packed tapegrad installed: the fixed MLP with the
// CommonJS build (require); the shared modules are ESM, hence the dynamic imports.
const tg = require('tapegrad');

Promise.all([import('./mlp.js'), import('./report.js')])
  .then(([{ trainMLP }, { report }]) => report('require', trainMLP(tg), tg));
