export type LegacyErrorCode =
  | 'ENOENT' // the directory, valkkafs.json or the dumpfile is missing
  | 'EJSON' // valkkafs.json is not JSON or lacks a key of the original format
  | 'EGEOMETRY' // blocksize, n_blocks or current_block impossible, or the dumpfile too small for them
  | 'EBLOCK' // a block number outside the filesystem
  | 'ERECORD' // a damaged frame record inside a block (parsing of that block stops there)
  | 'EIO'; // reading a file failed

/** A problem with a libValkka directory: the message names the file, and the block and offset for records. */
export class LegacyError extends Error {
  override readonly name = 'LegacyError';
  constructor(
    readonly code: LegacyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
