import type { Frame } from '@valkka/fs';

/**
 * A frame as it travels between threads: like the on-disk Frame, but addressed by `slot`
 * (the in-process stream number, 0..65535) instead of the on-disk stream id.
 * The writer maps slot -> id, the reader maps id -> slot, as in libValkka.
 */
export interface SlotFrame extends Omit<Frame, 'streamId'> {
  slot: number;
}

/**
 * Marks the start and end of one pullBlocks transmission (the original's MarkerFrame tm_start / tm_end).
 * `timestamp` is the first (start) or last (end) frame's timestamp, 0 when nothing was read;
 * `request` numbers the pullBlocks call it belongs to.
 */
export interface Marker {
  type: 'start' | 'end';
  timestamp: number;
  request: number;
}

/** A command for a thread: plain JSON, so it can travel in a FrameQueue in order with the frames. */
export interface ThreadCommand {
  type: string;
  [key: string]: unknown;
}

/** What a FrameQueue carries. */
export type QueueEntry =
  | { kind: 'frame'; frame: SlotFrame }
  | { kind: 'command'; command: ThreadCommand }
  | { kind: 'marker'; marker: Marker };
