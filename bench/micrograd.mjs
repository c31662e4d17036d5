// A faithful JavaScript port of karpathy/micrograd (engine.py + nn.py) and of the training step of
// its demo.ipynb. Python's operator overloads become methods: `a + b` → a.add(b), `a * b` →
// a.mul(b), `a ** k` → a.pow(k); a plain number operand is wrapped in a Value, as __add__/__mul__
// do (so `1 + v` in Python, which calls v.__radd__(1) = v + 1, is v.add(1) here).
//
// Neuron/Layer/MLP and demoLoss take an optional `scalar` factory so the bench can build the very
// same graph from another engine's scalars (anything with add/mul/relu accepting numbers).

export class Value {
  /** Number of Value objects ever created (the bench counts the nodes of one step). */
  static count = 0;

  constructor(data, _children = [], _op = '') {
    this.data = data;
    this.grad = 0;
    this._backward = () => {};
    this._prev = new Set(_children);
    this._op = _op;
    Value.count++;
  }

  add(other) {
    other = other instanceof Value ? other : new Value(other);
    const out = new Value(this.data + other.data, [this, other], '+');
    out._backward = () => {
      this.grad += out.grad;
      other.grad += out.grad;
    };
    return out;
  }

  mul(other) {
    other = other instanceof Value ? other : new Value(other);
    const out = new Value(this.data * other.data, [this, other], '*');
    out._backward = () => {
      this.grad += other.data * out.grad;
      other.grad += this.data * out.grad;
    };
    return out;
  }

  pow(other) {
    if (typeof other !== 'number') throw new TypeError('only supporting int/float powers for now');
    const out = new Value(this.data ** other, [this], `**${other}`);
    out._backward = () => {
      this.grad += other * this.data ** (other - 1) * out.grad;
    };
    return out;
  }

  relu() {
    const out = new Value(this.data < 0 ? 0 : this.data, [this], 'ReLU');
    out._backward = () => {
      this.grad += (out.data > 0) * out.grad;
    };
    return out;
  }

  backward() {
    // topological order all of the children in the graph
    const topo = [];
    const visited = new Set();
    const buildTopo = (v) => {
      if (!visited.has(v)) {
        visited.add(v);
        for (const child of v._prev) buildTopo(child);
        topo.push(v);
      }
    };
    buildTopo(this);
    // go one variable at a time and apply the chain rule to get its gradient
    this.grad = 1;
    for (let i = topo.length - 1; i >= 0; i--) topo[i]._backward();
  }

  neg() { return this.mul(-1); }
  sub(other) { return this.add(other instanceof Value ? other.neg() : -other); }
  div(other) { return this.mul(other instanceof Value ? other.pow(-1) : other ** -1); }
  toString() { return `Value(data=${this.data}, grad=${this.grad})`; }
}

const newValue = (x) => new Value(x);

export class Module {
  zeroGrad() {
    for (const p of this.parameters()) p.grad = 0;
  }
  parameters() {
    return [];
  }
}

export class Neuron extends Module {
  /** random: () => [0, 1) (Python's random.random); scalar: number → parameter. */
  constructor(nin, { nonlin = true, random = Math.random, scalar = newValue } = {}) {
    super();
    this.w = Array.from({ length: nin }, () => scalar(-1 + 2 * random())); // random.uniform(-1, 1)
    this.b = scalar(0);
    this.nonlin = nonlin;
  }
  call(x) {
    // sum((wi*xi for wi,xi in zip(self.w, x)), self.b)
    let act = this.b;
    for (let i = 0; i < this.w.length; i++) act = act.add(this.w[i].mul(x[i]));
    return this.nonlin ? act.relu() : act;
  }
  parameters() {
    return [...this.w, this.b];
  }
}

export class Layer extends Module {
  constructor(nin, nout, opts = {}) {
    super();
    this.neurons = Array.from({ length: nout }, () => new Neuron(nin, opts));
  }
  call(x) {
    const out = this.neurons.map((n) => n.call(x));
    return out.length === 1 ? out[0] : out;
  }
  parameters() {
    return this.neurons.flatMap((n) => n.parameters());
  }
}

export class MLP extends Module {
  constructor(nin, nouts, { random = Math.random, scalar = newValue } = {}) {
    super();
    const sz = [nin, ...nouts];
    this.layers = nouts.map((_, i) => new Layer(sz[i], sz[i + 1], { nonlin: i !== nouts.length - 1, random, scalar }));
  }
  call(x) {
    for (const layer of this.layers) x = layer.call(x);
    return x;
  }
  parameters() {
    return this.layers.flatMap((l) => l.parameters());
  }
}

/** Python's sum(iterable): starts from the int 0, so the first addition is items[0].__radd__(0). */
function pySum(iterable) {
  let acc = null;
  for (const v of iterable) acc = acc === null ? v.add(0) : acc.add(v);
  return acc;
}

/**
 * The demo's loss(): SVM "max-margin" loss + L2 regularization, and the accuracy.
 * X: number[][], y: ±1 labels. `scalar` lifts an input number (Python: list(map(Value, xrow)));
 * `read` reads a scalar's value (Python: scorei.data).
 */
export function demoLoss(model, X, y, { scalar = newValue, read = (v) => v.data } = {}) {
  const inputs = X.map((xrow) => xrow.map(scalar));
  const scores = inputs.map((x) => model.call(x));
  // svm "max-margin" loss: (1 + -yi*scorei).relu()
  const losses = scores.map((scorei, i) => scorei.mul(-y[i]).add(1).relu());
  const dataLoss = pySum(losses).mul(1.0 / losses.length);
  // L2 regularization: alpha * sum((p*p for p in model.parameters()))
  const alpha = 1e-4;
  const regLoss = pySum((function* squares(ps) { for (const p of ps) yield p.mul(p); })(model.parameters())).mul(alpha);
  const totalLoss = dataLoss.add(regLoss);
  // also get accuracy
  let correct = 0;
  for (let i = 0; i < y.length; i++) correct += (y[i] > 0) === (read(scores[i]) > 0);
  return { totalLoss, accuracy: correct / y.length };
}

/** The demo's learning-rate schedule at step k. */
export const demoLearningRate = (k) => 1.0 - (0.9 * k) / 100;

/** One step of the demo's optimization loop: forward, zero_grad, backward, SGD. */
export function demoStep(model, X, y, k) {
  const { totalLoss, accuracy } = demoLoss(model, X, y);
  model.zeroGrad();
  totalLoss.backward();
  const lr = demoLearningRate(k);
  for (const p of model.parameters()) p.data -= lr * p.grad;
  return { loss: totalLoss.data, accuracy };
}
