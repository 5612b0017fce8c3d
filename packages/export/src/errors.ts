/** Why an export failed, in words a user can act on; `code` for programs (HTTP status, exit code). */
export type ExportErrorCode =
  /** A bad argument: a time that does not parse, from after to, an output path that cannot be used. */
  | 'EARGUMENT'
  /** The stream id is not in the filesystem. */
  | 'ENOTFOUND'
  /** The range lies outside the recording, or holds no frame of the stream. */
  | 'ERANGE'
  /** Blocks of the range were overwritten by the recording while the export read them. */
  | 'EEXPIRED'
  /** The stream cannot go into an MP4 (codec, missing parameter sets, timestamps going back). */
  | 'EMEDIA';

export class ExportError extends Error {
  override readonly name = 'ExportError';
  constructor(
    readonly code: ExportErrorCode,
    message: string,
    /** EEXPIRED: the first instant (ms since the epoch) whose recording was lost. */
    readonly lostAt?: number,
  ) {
    super(message);
  }
}

/** "2026-11-30T20:08:33.120Z (1796069313120)": an instant as people and scripts both read it. */
export function describeTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : `${d.toISOString()} (${ms})`;
}
