export type { BlockDevice } from './types.js';
export { DeviceError, type DeviceErrorCode } from './errors.js';
export { type CrashOptions, type CrashReport, MemoryDevice, type MemoryDeviceOptions, type FaultKind } from './memory-device.js';
export { FileDevice, type FileDeviceCreateOptions, type FileDeviceOpenOptions } from './file-device.js';
export { PartitionDevice, type PartitionDeviceOptions } from './partition-device.js';
export { RawDevice } from './raw-device.js';
export { listPartitions, type ListPartitionsOptions, type PartitionInfo } from './partitions.js';
export {
  readGpt,
  bufferReader,
  formatGuid,
  partitionTypeName,
  LINUX_SWAP_GUID,
  MAX_ENTRY_ARRAY_BYTES,
  type DiskReader,
  type GptEntry,
  type GptHeader,
  type GptTable,
  type ReadGptOptions,
} from './gpt.js';
export { openDiskReader, type FileDiskReader } from './disk-reader.js';
export { backends, defaultBackend } from './backend.js';
export type { SystemRoots } from './system.js';
