// Mirror of assembly/ops/opcodes.ts (a test checks the two files agree).
export const enum Op {
  ADD = 0, SUB = 1, MUL = 2, DIV = 3, POW = 4, MAXIMUM = 5, MINIMUM = 6,
  NEG = 7, ABS = 8, EXP = 9, LOG = 10, SQRT = 11, TANH = 12, SIGMOID = 13, RELU = 14,
  LEAKY_RELU = 15, GELU = 16, GELU_TANH = 17,
  MATMUL = 18,
  SUM = 19, MEAN = 20, MAX = 21, MIN = 22, LOGSUMEXP = 23,
  SOFTMAX = 24, LOG_SOFTMAX = 25,
  RESHAPE = 26, PERMUTE = 27, EXPAND = 28, CAT_PART = 29, NARROW = 30, INDEX_SELECT = 31, GATHER = 32,
  CONV2D = 33, MAX_POOL2D = 34, AVG_POOL2D = 35,
  CROSS_ENTROPY = 36, NLL_LOSS = 37, MSE_LOSS = 38, BCE_WITH_LOGITS = 39,
  LAYER_NORM = 40,
  SCALED_DOT_PRODUCT_ATTENTION = 45,
  WHERE = 48, MASKED_FILL = 49, TRIL = 50, TRIU = 51, COMPARE = 52, CLAMP = 53,
  SIN = 54, COS = 55, SQUARE = 56, RSQRT = 57, SILU = 58, SOFTPLUS = 59,
  VAR = 70, STD = 71, CUMSUM = 72, ONE_HOT = 73, SORT = 74, TOPK = 75, CONV_TRANSPOSE2D = 76,
  LSTM = 77, GRU = 78, CUSTOM = 79,
}

/** Commands: replayable actions that are not ops (mirror of the CMD_ constants in assembly/replay.ts). */
export const enum Cmd {
  BACKWARD = -2, ZERO_GRAD = -3, ZERO_GRADS = -4, SGD = -5, ADAM = -6, CLIP = -7, RANDOM = -8,
  DROPOUT = -9, COPY = -10, ARG_REDUCE = -11,
  RANDINT = -20, MULTINOMIAL = -21,
}

/** Each opcode's name in the public API, for error messages (indexed by opcode). */
export const OP_NAMES: readonly string[] = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum',
  'neg', 'abs', 'exp', 'log', 'sqrt', 'tanh', 'sigmoid', 'relu', 'leakyRelu', 'gelu', 'gelu',
  'matmul',
  'sum', 'mean', 'max', 'min', 'logsumexp',
  'softmax', 'logSoftmax',
  'reshape', 'permute', 'expand', 'cat', 'narrow', 'indexSelect', 'gather',
  'conv2d', 'maxPool2d', 'avgPool2d',
  'crossEntropy', 'nllLoss', 'mseLoss', 'binaryCrossEntropyWithLogits',
  'layerNorm', '', '', '', '',
  'scaledDotProductAttention', '', '',
  'where', 'maskedFill', 'tril', 'triu', 'compare', 'clamp', 'sin', 'cos', 'square', 'rsqrt', 'silu', 'softplus',
  ...Array<string>(10).fill(''), // 60–69: reserved for other parts of issue 9
  'var', 'std', 'cumsum', 'oneHot', 'sort', 'topk', 'convTranspose2d', 'lstm', 'gru', 'custom op',
];
