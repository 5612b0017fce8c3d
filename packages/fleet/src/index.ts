export { FleetError, type FleetErrorCode } from './errors.js';
export { type CameraEntry, type FilesystemEntry, type NodeEntry, type FleetNode, nodeEntrySchema, capRanges, MAX_RANGES } from './entry.js';
export { connectFleet, redact, type Fleet, type FleetOptions, type FleetStatus } from './connect.js';
export { Catalog, CATALOG_BUCKET, DEFAULT_HEARTBEAT_MS, parseEntry } from './catalog.js';
export { Archive, ARCHIVE_BUCKET, objectName, verifyArchived, digestOf, type ArchiveOptions, type ArchivedBlock } from './archive.js';
export { Archiver, type ArchiverOptions, type ArchiverStats } from './archiver.js';
export { syncMirror, MIRROR_DEVICE_MODULE, type MirrorSyncSpec, type MirrorSyncResult } from './mirrors.js';
export { createMirrorDevice, ARCHIVE_SEQS_NAME, type MirrorOptions } from './mirror-device.js';
export {
  BLOCK_ROUTE,
  BLOCKFILE_ROUTE,
  CURRENT_BLOCK_HEADER,
  blockfileOf,
  readLocalBlock,
  fetchNodeBlock,
  fetchNodeBlockfile,
  readArchiveBlock,
  rewriteHeader,
  parseBlockQuery,
  serveBlock,
  checkBearer,
  type BlockQuery,
  type BlockSources,
} from './resolve.js';
