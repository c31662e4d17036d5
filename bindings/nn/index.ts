// tg.nn: modules, layers and (as nn.functional) the functional forms of the layers and losses.
export { Module, parameter } from './module';
export type { StateDict, LoadStateDictOptions, LoadStateDictResult } from './module';
export {
  Linear, Sequential, MLP, Embedding, LayerNorm, GroupNorm, RMSNorm, Dropout, Conv1d, Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, Flatten,
  Identity, ReLU, Tanh, Sigmoid, GELU, LeakyReLU, Upsample,
} from './layers';
export type {
  LinearOptions, MLPOptions, Activation, Pair, LayerNormOptions, GroupNormOptions, RMSNormOptions, Conv1dOptions, Conv2dOptions, ConvTranspose2dOptions, Pool2dOptions, GELUOptions, UpsampleOptions,
} from './layers';
export { BatchNorm1d, BatchNorm2d } from './batchnorm';
export type { BatchNormOptions } from './batchnorm';
export { ModuleList, ModuleDict } from './containers';
export { LSTM, GRU, LSTMCell, GRUCell } from './recurrent';
export type { RecurrentOptions, RecurrentCellOptions } from './recurrent';
export { MultiheadAttention, TransformerEncoderLayer, TransformerEncoder } from './transformer';
export type {
  MultiheadAttentionOptions, AttentionCallOptions, TransformerEncoderLayerOptions, EncoderCallOptions, TransformerEncoderOptions,
} from './transformer';
export * as functional from '../nnfunctional';
