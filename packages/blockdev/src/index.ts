export type { BlockDevice } from './types.js';
