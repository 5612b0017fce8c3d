import { AccessUnitSplitter, type VideoCodec } from '@valkka/fs';
import { annexBCodec, type ClipUnit, type LoadClipOptions, nalsOf, openMediaFile, openMp4Track, UnitFinisher } from './media-clip.js';
import { SourceError } from './source-error.js';

/** What a source needs to know of a clip before playing it. */
export interface ClipInfo {
  path: string;
  codec: VideoCodec;
  container: 'annexb' | 'mp4';
  /** Frame duration in ms. */
  frameMs: number;
}

/** The units a FileSourceCore plays, one after the other, looping as told. */
export interface UnitCursor {
  readonly info: ClipInfo;
  /** The next unit, or undefined when none is at hand (see `ended`). */
  next(): ClipUnit | undefined;
  /** No unit will ever come again. */
  readonly ended: boolean;
}

/** Bytes read from an Annex-B file at a time. */
const CHUNK_BYTES = 1024 * 1024;
/** A feed reads ahead until it holds this many payload bytes (or units), no more. */
const AHEAD_BYTES = 4 * 1024 * 1024;
const AHEAD_UNITS = 256;

/** One pass over the file: batches of units, then null. */
interface Pass {
  read(): Promise<ClipUnit[] | null>;
  close(): Promise<void>;
}

/**
 * A clip streamed from its file in bounded memory (a few MiB read ahead, whatever the file's size): the file is
 * read again for each loop. For the worker of a FileSourceThread; `loadClip` holds a (small) clip whole instead.
 * The owner calls fill() whenever `wantsMore`; next() never waits.
 */
export class ClipFeed implements UnitCursor {
  private readonly ahead: ClipUnit[] = [];
  private aheadBytes = 0;
  private pass: Pass | undefined;
  private passes = 0;
  private passUnits = 0;
  private done = false;

  private constructor(
    readonly info: ClipInfo,
    private readonly options: LoadClipOptions,
    /** Passes over the file in all (Infinity: loop for ever). */
    private readonly loops: number,
    first: Pass,
    private readonly chunk: Uint8Array,
  ) {
    this.pass = first;
    this.passes = 1;
  }

  /** Opens the file and reads its first units, so a bad file fails here, naming what is wrong. */
  static async open(path: string, options: LoadClipOptions = {}, loops = Infinity): Promise<ClipFeed> {
    const fps = options.fps ?? 25;
    if (!(fps > 0 && fps <= 1000)) throw new SourceError('ERR_SOURCE_OPTIONS', `fps must be in (0, 1000], got ${options.fps}`);
    const chunk = new Uint8Array(CHUNK_BYTES);
    const { info, pass } = await openPass(path, options, chunk);
    const feed = new ClipFeed(info, options, loops, pass, chunk);
    await feed.fill();
    if (feed.ahead.length === 0) throw new SourceError('ERR_SOURCE_EMPTY', `${path}: no decodable picture (no key frame with its parameter sets)`);
    return feed;
  }

  get ended(): boolean {
    return this.done && this.ahead.length === 0;
  }

  /** The read-ahead is low and more is to come. */
  get wantsMore(): boolean {
    return !this.done && (this.ahead.length < AHEAD_UNITS / 2 || this.aheadBytes < AHEAD_BYTES / 2);
  }

  next(): ClipUnit | undefined {
    const unit = this.ahead.shift();
    if (unit) this.aheadBytes -= unit.payload.byteLength;
    return unit;
  }

  /** Reads ahead up to the bound (the next pass begins when one ends, while loops remain). */
  async fill(): Promise<void> {
    while (!this.done && this.ahead.length < AHEAD_UNITS && this.aheadBytes < AHEAD_BYTES) {
      const batch = await this.pass!.read();
      if (batch) {
        for (const unit of batch) {
          this.ahead.push(unit);
          this.aheadBytes += unit.payload.byteLength;
        }
        this.passUnits += batch.length;
        continue;
      }
      await this.pass!.close();
      this.pass = undefined;
      if (this.passUnits === 0) {
        this.done = true; // a pass without a unit: looping would read it for ever
        throw new SourceError('ERR_SOURCE_EMPTY', `${this.info.path}: no decodable picture (no key frame with its parameter sets)`);
      }
      this.passUnits = 0;
      if (this.passes >= this.loops) {
        this.done = true;
        return;
      }
      this.pass = (await openPass(this.info.path, this.options, this.chunk)).pass;
      this.passes++;
    }
  }

  async close(): Promise<void> {
    this.done = true;
    await this.pass?.close();
    this.pass = undefined;
  }
}

/** Opens the file for one pass; `chunk` is the feed's read buffer, shared by its passes (a short clip loops often). */
async function openPass(path: string, options: LoadClipOptions, chunk: Uint8Array): Promise<{ info: ClipInfo; pass: Pass }> {
  const file = await openMediaFile(path);
  try {
    const head = new Uint8Array(64);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const start = head.subarray(0, bytesRead);
    if (start.length >= 8 && String.fromCharCode(...start.subarray(4, 8)) === 'ftyp') {
      await file.close();
      return await mp4Pass(path, options);
    }
    if (!(start[0] === 0 && start[1] === 0 && (start[2] === 1 || (start[2] === 0 && start[3] === 1)))) {
      throw new SourceError('ERR_SOURCE_FORMAT', `${path}: neither an MP4 (no ftyp box) nor an Annex-B stream (no start code at byte 0)`);
    }
    const codec = annexBCodec(path, start, options.codec);
    return { info: { path, codec, container: 'annexb', frameMs: 1000 / (options.fps ?? 25) }, pass: annexBPass(path, codec, file, chunk) };
  } catch (err) {
    await file.close().catch(() => undefined);
    throw err;
  }
}

function annexBPass(path: string, codec: VideoCodec, file: import('node:fs/promises').FileHandle, chunk: Uint8Array): Pass {
  const splitter = new AccessUnitSplitter(codec);
  const finisher = new UnitFinisher(path, codec);
  let position = 0;
  let eof = false;
  const finish = (aus: Array<{ payload: Uint8Array }>): ClipUnit[] =>
    aus.flatMap((au) => {
      const unit = finisher.take(nalsOf(codec, au.payload));
      return unit ? [unit] : [];
    });
  return {
    async read() {
      if (eof) return null;
      const { bytesRead } = await file.read(chunk, 0, chunk.length, position);
      position += bytesRead;
      try {
        if (bytesRead > 0) return finish(splitter.push(chunk.subarray(0, bytesRead)));
        eof = true;
        return finish(splitter.flush());
      } catch (err) {
        if (err instanceof SourceError) throw err;
        throw new SourceError('ERR_SOURCE_FORMAT', `${path} near byte ${position}: ${(err as Error).message}`, { cause: err });
      }
    },
    close: () => file.close(),
  };
}

async function mp4Pass(path: string, options: LoadClipOptions): Promise<{ info: ClipInfo; pass: Pass }> {
  const { FilePathSource } = await import('mediabunny');
  const track = await openMp4Track(path, new FilePathSource(path));
  const finisher = new UnitFinisher(path, track.codec);
  finisher.take(track.configNals); // remembered for key frames without them
  const samples = track.samples();
  // The frame duration comes from the first sample: read it now.
  const first = await samples.next();
  const duration = first.done ? 0 : first.value.duration;
  const frameMs = options.fps !== undefined ? 1000 / options.fps : duration > 0 ? duration * 1000 : 40;
  let pending = first.done ? [] : [first.value];
  let done = first.done ?? false;
  const pass: Pass = {
    async read() {
      if (done && pending.length === 0) return null;
      const units: ClipUnit[] = [];
      for (const s of pending) {
        const unit = finisher.take(s.nals);
        if (unit) units.push(unit);
      }
      pending = [];
      for (let i = 0; i < 32 && !done; i++) {
        const next = await samples.next();
        if (next.done) done = true;
        else {
          const unit = finisher.take(next.value.nals);
          if (unit) units.push(unit);
        }
      }
      return units;
    },
    close: async () => {
      await samples.return(undefined);
      track.dispose();
    },
  };
  return { info: { path, codec: track.codec, container: 'mp4', frameMs }, pass };
}
