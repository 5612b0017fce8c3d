// @valkka/threads: worker threads for ValkkaFS, with frames between threads through shared memory.
export * from './errors.js';
export type { Marker, QueueEntry, SlotFrame, ThreadCommand } from './slot-frame.js';
export { FrameQueue, type FrameQueueOptions, type FrameQueueStats, type QueueMode } from './queue/frame-queue.js';
export {
  type FrameFilter,
  type SwitchFilter,
  forkFilter,
  queueFilter,
  setSlotFilter,
  slotFilter,
  switchFilter,
  typeFilter,
} from './filters.js';
export type { BlockInfo, BlockSource, FrameSink } from './fs-port.js';
export { DEFAULT_STOP_TIMEOUT_MS, ValkkaThread, type ThreadEvents, type ThreadSpec } from './thread/valkka-thread.js';
export { runLoop, runWorker, type LoopHandlers, type WorkerContext } from './thread/worker-runtime.js';
export { workerUrl } from './thread/worker-path.js';
export { StreamMap } from './writer/slot-map.js';
export { WriterCore, type WriterCommand, type WriterCounts } from './writer/writer-core.js';
export { ValkkaFSWriterThread, type WriterEvents, type WriterStats, type WriterThreadOptions } from './writer/writer-thread.js';
export {
  DEFAULT_WRITER_BATCH_MS,
  SharedWriterThread,
  type SharedBlockInfo,
  type SharedWriterCommand,
  type SharedWriterEvents,
  type SharedWriterFs,
  type SharedWriterOptions,
} from './writer/shared-writer-thread.js';
export { CAMERAS_PER_GROUP, recordingGroups } from './writer/recording-groups.js';
export { ReaderCore, type ExpiredBlock, type ReaderCommand, type ReaderCounts } from './reader/reader-core.js';
export { ValkkaFSReaderThread, type ReaderEvents, type ReaderStats, type ReaderThreadOptions } from './reader/reader-thread.js';
export { SharedReaderThread, type SharedReaderCommand, type SharedReaderEvents, type SharedReaderOptions } from './reader/shared-reader-thread.js';
export type { FsErrorEvent } from './reader/shared-source.js';
// Playback cache and file sources (src/cacher, src/sources: see their READMEs).
export { MAX_RATE, MAX_REVERSE_RATE, MIN_RATE, PlaybackClock, type TimelineState } from './cacher/playback-clock.js';
export { CacherCore, type CacherEvent, type CacherOptions, type CacherOutput, type CacherState, type SetupFrame, type TransmissionNotice } from './cacher/cacher-core.js';
export { FileCacherThread, type CacherCommand, type CacherThreadOptions } from './cacher/cacher-thread.js';
export { LatenessHistogram, type LatenessSummary } from './cacher/lateness.js';
export { FileSourceCore, type FileSourceOptions, type SourceClock, type SourceHole } from './sources/file-source-core.js';
export { FileSource, FileSourceThread, type FileSourceThreadOptions } from './sources/file-source-thread.js';
export { loadClip, type ClipUnit, type LoadClipOptions, type MediaClip } from './sources/media-clip.js';
export { ClipFeed, type ClipInfo, type UnitCursor } from './sources/clip-feed.js';
export { SourceError, type SourceErrorCode } from './sources/source-error.js';
// LiveThread: cameras over RTSP (src/live, see its README).
export * from './live/index.js';
