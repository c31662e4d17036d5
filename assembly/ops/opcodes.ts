// The opcode enum. Every opcode has a forward kernel and a backward kernel, dispatched by the
// two switches in autograd.ts; the bindings mirror these numbers in bindings/opcodes.ts.

// elementwise binary, broadcasting (ops/elementwise.ts)
export const ADD = 0;
export const SUB = 1;
export const MUL = 2;
export const DIV = 3;
export const POW = 4;
export const MAXIMUM = 5;
export const MINIMUM = 6;
// elementwise unary (ops/elementwise.ts)
export const NEG = 7;
export const ABS = 8;
export const EXP = 9;
export const LOG = 10;
export const SQRT = 11;
export const TANH = 12;
export const SIGMOID = 13;
export const RELU = 14;
export const LEAKY_RELU = 15;
export const GELU = 16;
export const GELU_TANH = 17;
// matrix product (ops/matmul.ts)
export const MATMUL = 18;
// reductions over one run of axes, seen as [outer, reduced, inner] (ops/reduce.ts)
export const SUM = 19;
export const MEAN = 20;
export const MAX = 21;
export const MIN = 22;
export const LOGSUMEXP = 23;
// along one axis, seen as [outer, axis, inner] (ops/softmax.ts)
export const SOFTMAX = 24;
export const LOG_SOFTMAX = 25;
// data movement (ops/shape.ts)
export const RESHAPE = 26;
export const PERMUTE = 27;
export const EXPAND = 28;
export const CAT_PART = 29;
export const NARROW = 30;
export const INDEX_SELECT = 31;
export const GATHER = 32;

// convolution and pooling over NCHW images (ops/conv.ts)
export const CONV2D = 33;
export const MAX_POOL2D = 34;
export const AVG_POOL2D = 35;
// losses with fused backward (ops/loss.ts)
export const CROSS_ENTROPY = 36;
export const NLL_LOSS = 37;
export const MSE_LOSS = 38;
export const BCE_WITH_LOGITS = 39;
// normalization (ops/norm.ts)
export const LAYER_NORM = 40;

// fused attention (ops/attention.ts)
export const SCALED_DOT_PRODUCT_ATTENTION = 45;
// masking and selection, broadcasting (ops/mask.ts; issue 9)
export const WHERE = 48;
export const MASKED_FILL = 49;
export const TRIL = 50;
export const TRIU = 51;
export const COMPARE = 52;
export const CLAMP = 53;
// elementwise unary, more (ops/elementwise.ts; issue 9)
export const SIN = 54;
export const COS = 55;
export const SQUARE = 56;
export const RSQRT = 57;
export const SILU = 58;
export const SOFTPLUS = 59;
// variance and standard deviation over one run of axes, f0 = correction (ops/reduce.ts)
export const VAR = 70;
export const STD = 71;
// running sum along one axis (ops/reduce.ts)
export const CUMSUM = 72;
// indices: one-hot encoding, sorting (ops/sort.ts)
export const ONE_HOT = 73;
export const SORT = 74;
export const TOPK = 75;
// transposed convolution: conv2d's dx as a forward (ops/conv.ts; issue 12)
export const CONV_TRANSPOSE2D = 76;
// one recurrent layer in one direction, the time loop inside (ops/recurrent.ts; issue 12)
export const LSTM = 77;
export const GRU = 78;
// an op whose forward and backward run in JavaScript (bindings/custom.ts): backward pauses the walk
export const CUSTOM = 79;

export const OP_COUNT = 80;
