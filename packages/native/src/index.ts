export type { Capabilities, NativeApi, OpenOptions, RawFile, SectorSizes } from './types.js';
