import type { ValkkaFS } from '@valkka/fs';
import type { FrameFilter, PlaybackClock, SetupFrame } from '@valkka/threads';

/** [first, last] in ms since the epoch. */
export type TimeRange = [number, number];

/** Where a mapped stream's frames go: a frame callback, or frames and SetupFrames (stream_init, stream_state). */
export type StreamOutput = FrameFilter | { frame: FrameFilter; setup?(setup: SetupFrame): void };

/** One stream of one filesystem (the original's map_(valkkafs, framefilter, write_slot, read_slot, _id)). */
export interface MapOptions {
  valkkafs: ValkkaFS;
  /** The on-disk stream id. */
  id: number;
  /** Frames put into the manager's input with this slot are recorded as `id` (record). Omit to only play. */
  writeSlot?: number;
  /** Played frames of `id` come out with this slot (play). Omit to only record. */
  readSlot?: number;
  /** Where played frames go (with `slot` = readSlot). */
  output?: StreamOutput;
}

export interface ManagerOptions {
  /** The one clock of all streams; default a system clock. A manual PlaybackClock makes tests exact. */
  clock?: PlaybackClock;
  /** Payload bytes the cache may hold (both of its halves). Default 32 MiB. */
  budgetBytes?: number;
  /** Bytes the reader may hold while serving a request (blocks in flight). Default 4 x the largest blocksize. */
  readerBudgetBytes?: number;
  /** A stream without a frame for this long (stream ms) is in a hole: it reports no data. Default 1000. */
  holeMs?: number;
  /** Where every stream is in a hole, jump to the next data. Default true. */
  skipHoles?: boolean;
  /** From this rate up (and down, backwards) only key frames are sent. Default 4. */
  keyFramesOnlyFrom?: number;
  /** Stream ms of video kept loaded ahead of the play position (at least; scaled by the rate). Default 8000. */
  aheadMs?: number;
  /** Stream ms kept loaded behind the play position. Default 2000. */
  behindMs?: number;
  /** Real ms between looks at the filesystems for new blocks (a stat of two files; re-read when they changed). Default 500 (half the usual 1 s flush interval). */
  refreshMs?: number;
  name?: string;
}

export type PlayState = 'none' | 'seek' | 'stop' | 'play';

/** What a seek showed: per mapped (played) stream, the timestamp of the frame shown at the target, or null (no data). */
export interface SeekResult {
  time: number;
  /** A later seek came while this one waited for the one before: it was skipped (nothing of it was shown). */
  superseded?: boolean;
  streams: Array<{ valkkafs: ValkkaFS; id: number; timestamp: number | null }>;
}

/** Recorded ranges over a window: per played stream and their union. */
export interface RecordedRanges {
  streams: Array<{ valkkafs: ValkkaFS; id: number; ranges: TimeRange[] }>;
  global: TimeRange[];
}

export interface FsErrorInfo {
  valkkafs: ValkkaFS;
  error: Error;
  /** The block being read, when a read failed. */
  block?: number;
}

/** The manager's typed events (the original's three callbacks are kept beside them). */
export type ManagerEvents = {
  /** The play position (stream ms), about 10 per second; null while none is known. */
  time: [mstime: number | null];
  /** The cached range (what is loaded around the position), null when nothing is. */
  timeLimits: [range: TimeRange | null];
  /** New blocks were seen: the global recorded range (union of every filesystem's). */
  block: [range: TimeRange | null];
  state: [state: PlayState];
  /** A stream has no data at the play position (a hole, before its start, after its end). */
  nodata: [{ valkkafs: ValkkaFS; id: number; since: number | null }];
  /** It has again, from this frame. */
  data: [{ valkkafs: ValkkaFS; id: number; timestamp: number }];
  /** Every stream was in a hole: the position jumped to the next data. */
  skip: [{ from: number; to: number }];
  /** A filesystem failed (gone, damaged); its streams report no data, the others play on. */
  fsError: [FsErrorInfo];
  log: [message: string];
};


