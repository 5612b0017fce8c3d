/** Stable codes of every error @valkka/fs throws on its own; callers branch on `code`. */
export type FsErrorCode =
  | 'EARGUMENT' // a bad argument: geometry, options, frame fields
  | 'EFRAMETOOLARGE' // a frame that cannot fit into one block
  | 'ESTREAM' // a frame of another stream than the one a ValkkaSingleFS holds
  | 'ELOCKED' // another writer holds the filesystem
  | 'EREADONLY' // writing through a read-only (reader or legacy) handle
  | 'ECLOSED' // the filesystem or writer is closed
  | 'ENOTFOUND' // directory, json, blockfile, dumpfile or partition missing
  | 'EMETADATA' // valkkafs.json unreadable, or inconsistent with the device (geometry, fs id)
  | 'EFILETYPE' // dumpfile, blockfile or valkkafs.json is not a regular file (a FIFO, a symlink, a device...)
  | 'EIO' // reading or writing one of the directory's files failed (the message names the file)
  | 'EBLOCKFILE' // blockfile of the wrong size
  | 'EBLOCKHEADER' // a block header that does not validate
  | 'EEXPIRED' // a block reused while it was read
  | 'EPROTECTCAP' // a protection would hold more of the ring than max_protected allows
  | 'EBLOCKINDEX'; // a block index outside 0..n_blocks-1

/** Base class: message names what was wrong and where (path, block, offset). */
export class ValkkaFSError extends Error {
  override name = 'ValkkaFSError';
  constructor(
    readonly code: FsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The original's name for a directory that cannot be loaded. */
export class ValkkaFSLoadError extends ValkkaFSError {
  override name = 'ValkkaFSLoadError';
}

export class FrameTooLargeError extends ValkkaFSError {
  override name = 'FrameTooLargeError';
  constructor(
    readonly frameBytes: number,
    readonly maxPayload: number,
    readonly blocksize: number,
  ) {
    super(
      'EFRAMETOOLARGE',
      `frame payload of ${frameBytes} bytes does not fit into one block: at most ${maxPayload} bytes fit in a ${blocksize}-byte block (use a larger blocksize)`,
    );
  }
}

/** A ValkkaSingleFS holds one stream (the first one written); a frame of another one is refused. */
export class StreamMismatchError extends ValkkaFSError {
  override name = 'StreamMismatchError';
  constructor(
    readonly dirname: string,
    readonly fsStreamId: number,
    readonly frameStreamId: number,
  ) {
    super(
      'ESTREAM',
      `${dirname}: this ValkkaSingleFS holds stream ${fsStreamId}; refused a frame of stream ${frameStreamId} (use a ValkkaMultiFS for several streams)`,
    );
  }
}

/** The block was overwritten by the writer while it was being read; read the table again. */
export class BlockExpiredError extends ValkkaFSError {
  override name = 'BlockExpiredError';
  constructor(
    readonly block: number,
    readonly expectedSeq: number | undefined,
    readonly foundSeq: number | undefined,
  ) {
    super('EEXPIRED', `block ${block} was reused while it was read (sequence ${expectedSeq ?? '?'} -> ${foundSeq ?? 'invalid'})`);
  }
}

export class BlockHeaderError extends ValkkaFSError {
  override name = 'BlockHeaderError';
  constructor(
    readonly block: number,
    readonly reason: string,
  ) {
    super('EBLOCKHEADER', `block ${block}: invalid header (${reason})`);
  }
}
