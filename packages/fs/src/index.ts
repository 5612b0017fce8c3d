export * from './frame.js';
export * from './errors.js';
export * from './block-table.js';
export * from './search.js';
export * from './timeline.js';
export * from './codec/index.js';
export * from './legacy/index.js';
export {
  FORMAT_VERSION,
  BLOCK_HEADER_SIZE,
  RECORD_HEADER_SIZE,
  TRAILER_SIZE,
  SUMMARY_ENTRY_SIZE,
  MAX_BLOCKSIZE,
  roundBlocksize,
  type StreamSummary,
  type ParsedFrame,
} from './format.js';
export type { Row, Variant } from './block-stats.js';
export type { BlockEvent } from './writer.js';
export type { BlockContents } from './reader.js';
export type { RecoveryReport } from './recovery.js';
export {
  ValkkaFS,
  ValkkaSingleFS,
  ValkkaMultiFS,
  loadValkkaFS,
  type NewFromDirectoryOptions,
  type LoadOptions,
} from './valkkafs.js';
export type { FsDescription, DumpedBlock, DumpedRecord } from './inspect.js';
export { MAX_BLOCKS } from './metadata.js';
export { recordingsAt, type ExistingRecordings } from './init-guard.js';
export { check, type CheckOptions, type CheckProblem, type CheckProblemCode, type CheckReport, type DroppedData, type RepairAction } from './check.js';
export * as retention from './retention/index.js';
