export type CodecErrorCode =
  | 'ECODEC' // codec not handled by this function
  | 'EAUSIZE' // an access unit grew beyond the configured bound
  | 'ESPS'; // a parameter set could not be parsed

/** Bad elementary-stream input: the message says what was wrong and where. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
  }
}
