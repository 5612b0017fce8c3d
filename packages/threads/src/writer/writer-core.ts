import type { FrameSink } from '../fs-port.js';
import type { SlotFrame, ThreadCommand } from '../slot-frame.js';
import { StreamMap } from './slot-map.js';

/** Commands of the writer thread (they travel in its input queue, in order with the frames). */
export type WriterCommand =
  | { type: 'setSlotId'; slot: number; id: number }
  | { type: 'unsetSlotId'; slot: number }
  | { type: 'clearSlotIds' }
  | { type: 'reportSlotIds' }
  | { type: 'flush' };

export interface WriterCounts {
  /** Frames written to the filesystem. */
  written: number;
  writtenBytes: number;
  /** Frames dropped because their slot is not mapped to an id. */
  unmapped: number;
  /** Frames dropped because they cannot fit into one block (the fs's FrameTooLargeError). */
  tooLarge: number;
  /** Frames dropped because a ValkkaSingleFS holds another stream (the fs's StreamMismatchError). */
  wrongStream: number;
}

/** The fs errors that refuse one frame but must not stop the recording, and the count each goes to. */
const DROPPED: Readonly<Record<string, 'tooLarge' | 'wrongStream'>> = { EFRAMETOOLARGE: 'tooLarge', ESTREAM: 'wrongStream' };

/**
 * What the writer thread does with each entry, apart from the worker plumbing: map slot -> id and write.
 * `log` receives the refusals the original logged ("slot reserved").
 */
export class WriterCore {
  readonly slots = new StreamMap('slot', 'id');
  readonly counts: WriterCounts = { written: 0, writtenBytes: 0, unmapped: 0, tooLarge: 0, wrongStream: 0 };

  constructor(
    private readonly sink: FrameSink,
    private readonly log: (message: string) => void,
    /** Answers reportSlotIds (the command is the question). */
    private readonly report: (map: Array<[number, number]>, command: ThreadCommand) => void,
  ) {}

  frame(frame: SlotFrame): void | Promise<void> {
    const id = this.slots.get(frame.slot);
    if (id === undefined) {
      this.counts.unmapped += 1;
      return;
    }
    // A plain literal, not rest/spread: this runs for every frame.
    const written = this.sink.write({
      streamId: id,
      subsession: frame.subsession,
      timestamp: frame.timestamp,
      mediaType: frame.mediaType,
      codec: frame.codec,
      flags: frame.flags,
      payload: frame.payload,
    });
    if (!(written instanceof Promise)) return this.wrote(frame);
    return written.then(
      () => this.wrote(frame),
      (err: unknown) => {
        // One refused frame must not stop the recording (the original's B1 wrote an oversized one across
        // the block end; a Single FS refuses a second stream's frames).
        const code = (err as { code?: unknown }).code;
        const counter = typeof code === 'string' ? DROPPED[code] : undefined;
        if (counter === undefined) throw err;
        this.counts[counter] += 1;
        this.log(`slot ${frame.slot}: ${(err as Error).message} (dropped)`);
      },
    );
  }

  private wrote(frame: SlotFrame): void {
    this.counts.written += 1;
    this.counts.writtenBytes += frame.payload.byteLength;
  }

  command(command: ThreadCommand): void | Promise<void> {
    const c = command as WriterCommand;
    switch (c.type) {
      case 'setSlotId':
        if (!this.slots.set(c.slot, c.id, this.log)) {
          this.log(`setSlotId: slot ${c.slot} is already mapped to id ${this.slots.get(c.slot)}; unset it first (ignored)`);
        }
        return;
      case 'unsetSlotId':
        this.slots.unset(c.slot);
        return;
      case 'clearSlotIds':
        this.slots.clear();
        return;
      case 'reportSlotIds':
        this.report(this.slots.entries(), command);
        return;
      case 'flush':
        return this.sink.flush();
      default:
        this.log(`unknown writer command ${JSON.stringify(command)} (ignored)`);
    }
  }
}
