import { isMainThread } from 'node:worker_threads';
import type { FrameQueue } from './queue/frame-queue.js';
import type { SlotFrame } from './slot-frame.js';

/**
 * A frame filter takes frames, one call per frame, as in libValkka's filterchains.
 * Chains are built from the functions below, e.g.
 *   forkFilter(queueFilter(writer.input), typeFilter(isKeyFrame, keyFrameCounter))
 */
export type FrameFilter = (frame: SlotFrame) => void;

/** Passes every frame to every target, in order. */
export function forkFilter(...targets: FrameFilter[]): FrameFilter {
  return (frame) => {
    for (const target of targets) target(frame);
  };
}

/** A filter that sends frames to one of its outputs, chosen with select(index); select(-1) discards them. */
export interface SwitchFilter extends FrameFilter {
  select(index: number): void;
  readonly selected: number;
}

export function switchFilter(...outputs: FrameFilter[]): SwitchFilter {
  let selected = outputs.length > 0 ? 0 : -1;
  const filter = ((frame: SlotFrame) => {
    if (selected >= 0) outputs[selected]!(frame);
  }) as SwitchFilter;
  filter.select = (index: number) => {
    if (!Number.isInteger(index) || index < -1 || index >= outputs.length) {
      throw new RangeError(`switchFilter has outputs 0..${outputs.length - 1} (or -1 for none), got ${index}`);
    }
    selected = index;
  };
  Object.defineProperty(filter, 'selected', { get: () => selected });
  return filter;
}

/** Passes the frames for which `pred` is true (by media type, codec, key flag...). */
export function typeFilter(pred: (frame: SlotFrame) => boolean, next: FrameFilter): FrameFilter {
  return (frame) => {
    if (pred(frame)) next(frame);
  };
}

/** Passes the frames of one slot. */
export function slotFilter(slot: number, next: FrameFilter): FrameFilter {
  return typeFilter((frame) => frame.slot === slot, next);
}

/** Sets the slot of every frame before passing it on (e.g. to feed one source into a chosen writer slot). */
export function setSlotFilter(slot: number, next: FrameFilter): FrameFilter {
  return (frame) => next({ ...frame, slot });
}

/**
 * Puts frames into a FrameQueue: how a source (LiveThread, FileSourceThread) feeds a writer thread.
 * In dropping mode a full queue drops and counts; in blocking mode it waits (in a worker), which is the back-pressure.
 * On the main thread a filter cannot wait (it is called synchronously, often from a timer): a full queue drops
 * the frame and counts it in the queue's `drops` whatever its mode; to wait there, use `pushFrameAsync`.
 */
export function queueFilter(queue: FrameQueue): FrameFilter {
  if (isMainThread) {
    return (frame) => {
      queue.pushFrameOrDrop(frame);
    };
  }
  return (frame) => {
    queue.pushFrame(frame);
  };
}
