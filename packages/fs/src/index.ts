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
  type BlockHeader,
  encodeBlockHeader,
  decodeBlockHeader,
} from './format.js';
// Raw block bytes, for code that moves whole blocks between machines (@valkka/fleet).
export { parseBlock, readSeq, readSummary, type Geometry } from './reader.js';
export { selfDescribedHeader } from './identity.js';
export { MIRROR_NAME, MIRROR_MODULES_ENV, allowMirrorModule, isMirror, type MirrorModule, type MirrorSpec } from './mirror.js';
export { BLOCKFILE_NAME, JSON_NAME, MAX_BLOCKS, type Metadata, newMetadata, writeMetadata } from './metadata.js';
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
export { recordingsAt, type ExistingRecordings } from './init-guard.js';
export { check, type CheckOptions, type CheckProblem, type CheckProblemCode, type CheckReport, type DroppedData, type RepairAction } from './check.js';
export * as retention from './retention/index.js';
