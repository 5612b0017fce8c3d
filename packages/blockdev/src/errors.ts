/** Why a device operation failed; `code` is stable for callers to branch on. */
export type DeviceErrorCode =
  | 'EINVAL' // bad argument: size, option
  | 'ERANGE' // access outside the device
  | 'EALIGN' // offset, length or buffer not aligned
  | 'EIO' // the device reported an I/O error
  | 'ECLOSED' // device already closed
  | 'EREADONLY' // write on a device opened read-only
  | 'ELOCKED' // another writer holds the lock
  | 'EEXIST' // create() would overwrite an existing file
  | 'ENOSPC' // not enough free space to reserve the file
  | 'ENOENT' // file or partition not found
  | 'ENODEV' // partition has no device node
  | 'ENOGPT' // no GPT on the device
  | 'EGPT' // GPT present but damaged (both copies)
  | 'ENOTSWAP' // partition type is not Linux swap
  | 'EMOUNTED' // partition is mounted
  | 'ESWAPACTIVE' // partition is an active swap area
  | 'EBUSY' // partition is open exclusively elsewhere or held by another device
  | 'ESIZE'; // partition size disagrees between GPT and the kernel

export interface DeviceErrorDetails {
  offset?: number;
  length?: number;
  cause?: unknown;
}

/** An error from a block device: the message names the device, and offset and length when an I/O range is involved. */
export class DeviceError extends Error {
  override readonly name = 'DeviceError';
  readonly offset: number | undefined;
  readonly length: number | undefined;

  constructor(
    readonly code: DeviceErrorCode,
    readonly device: string,
    message: string,
    details: DeviceErrorDetails = {},
  ) {
    const where = details.offset === undefined ? '' : ` (offset ${details.offset}, length ${details.length ?? 0})`;
    super(`${device}: ${message}${where}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.offset = details.offset;
    this.length = details.length;
  }
}

/** The errno code of a system error, if any. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
