// The page: starts the worker, shows the losses it posts, and counts animation frames meanwhile
// (the main thread stays free while the worker trains). When training ends it publishes
// window.__result = {build, losses, frames} (the browser test reads it).
const steps = Number(new URLSearchParams(location.search).get('steps') ?? 300);
const out = document.querySelector('#out');
const losses = [];
let frames = 0;
const tick = () => { frames++; if (!window.__result) requestAnimationFrame(tick); };
requestAnimationFrame(tick);

// `new URL(…, import.meta.url)` with {type: 'module'} is the form bundlers (Vite, webpack 5) follow
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
worker.onmessage = ({ data }) => {
  if (data.type === 'loss') {
    losses.push(data.loss);
    out.textContent = `step ${data.step + 1}/${steps}  loss ${data.loss.toFixed(4)}`;
  } else {
    window.__result = data.type === 'done' ? { build: data.build, losses, frames } : { error: data.error };
    out.textContent += data.type === 'done' ? `\ndone (tapegrad build: ${data.build})` : `\n${data.error}`;
    worker.terminate();
  }
};
worker.onerror = (e) => { window.__result = { error: e.message || 'the worker failed to load' }; };
worker.postMessage({ steps });
