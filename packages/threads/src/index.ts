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
export { ValkkaThread, type ThreadSpec } from './thread/valkka-thread.js';
export { runLoop, runWorker, type LoopHandlers, type WorkerContext } from './thread/worker-runtime.js';
export { workerUrl } from './thread/worker-path.js';
export { StreamMap } from './writer/slot-map.js';
export { WriterCore, type WriterCommand, type WriterCounts } from './writer/writer-core.js';
export { ValkkaFSWriterThread, type WriterStats, type WriterThreadOptions } from './writer/writer-thread.js';
export { ReaderCore, type ExpiredBlock, type ReaderCommand, type ReaderCounts } from './reader/reader-core.js';
export { ValkkaFSReaderThread, type ReaderStats, type ReaderThreadOptions } from './reader/reader-thread.js';
