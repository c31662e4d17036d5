// The playground's datasets and heatmap grid, shared by the page (which draws them) and the
// worker (which trains on them). Seeded, so a dataset looks the same every time.

export const POINTS = 240; // training points (half per class)
export const GRID = 60;    // heatmap resolution (GRID × GRID model evaluations a snapshot)
export const VIEW = 1.6;   // the plane shown is [-VIEW, VIEW]²

function rng(seed) {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

const DATASETS = {
  moons(i, label, r) {
    const t = Math.PI * r.uniform();
    const [x, y] = label === 0 ? [Math.cos(t), Math.sin(t)] : [1 - Math.cos(t), 0.5 - Math.sin(t)];
    return [0.85 * (x - 0.5 + 0.1 * r.normal()), 0.85 * (y - 0.25 + 0.1 * r.normal())];
  },
  circles(i, label, r) {
    const t = 2 * Math.PI * r.uniform();
    const radius = (label === 0 ? 1.1 : 0.5) + 0.08 * r.normal();
    return [radius * Math.cos(t), radius * Math.sin(t)];
  },
  spirals(i, label, r) {
    const u = i / (POINTS / 2);
    const radius = 0.12 + 1.15 * u;
    const angle = 2.4 * Math.PI * u + label * Math.PI;
    return [radius * Math.cos(angle) + 0.04 * r.normal(), radius * Math.sin(angle) + 0.04 * r.normal()];
  },
  xor(i, label, r) {
    for (;;) {
      const x = 2.6 * r.uniform() - 1.3;
      const y = 2.6 * r.uniform() - 1.3;
      if (Math.abs(x) > 0.08 && Math.abs(y) > 0.08 && (x * y > 0 ? 1 : 0) === label) return [x, y];
    }
  },
};

/** `POINTS` points of the named dataset: xs (x, y pairs) and labels (0 or 1, alternating). */
export function makeDataset(name) {
  const r = rng(7);
  const xs = new Float32Array(POINTS * 2);
  const labels = new Int32Array(POINTS);
  for (let i = 0; i < POINTS; i++) {
    const label = i % 2;
    const [x, y] = DATASETS[name](i >> 1, label, r);
    xs[2 * i] = x;
    xs[2 * i + 1] = y;
    labels[i] = label;
  }
  return { xs, labels };
}

/** The heatmap's sample points, row by row from the top. */
export function gridPoints() {
  const points = new Float32Array(GRID * GRID * 2);
  for (let i = 0; i < GRID; i++) {
    for (let j = 0; j < GRID; j++) {
      points[2 * (i * GRID + j)] = -VIEW + ((j + 0.5) / GRID) * 2 * VIEW;
      points[2 * (i * GRID + j) + 1] = VIEW - ((i + 0.5) / GRID) * 2 * VIEW;
    }
  }
  return points;
}
