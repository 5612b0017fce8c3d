import { ThreadsError } from '../errors.js';

export type SourceErrorCode =
  | 'ERR_SOURCE_OPEN' // the file cannot be read
  | 'ERR_SOURCE_TOO_LARGE' // bigger than the configured bound
  | 'ERR_SOURCE_FORMAT' // neither MP4 nor Annex-B, or damaged
  | 'ERR_SOURCE_CODEC' // not H.264 / H.265
  | 'ERR_SOURCE_EMPTY' // no decodable picture
  | 'ERR_SOURCE_OPTIONS'; // bad fps, holes, slot...

/** A media file that cannot be played as a camera: the message names the file and what is wrong. */
export class SourceError extends ThreadsError {
  constructor(code: SourceErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'SourceError';
  }
}
