import { getSystemErrorMap } from 'node:util';

/**
 * Every failure of this package: `code` is the errno name (EINVAL, EIO, EBUSY...) or
 * ELOCKED / EARG; the message names the operation and the path.
 */
export class NativeError extends Error {
  override readonly name = 'NativeError';

  constructor(
    readonly code: string,
    readonly operation: string,
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} ${path}: ${code}, ${detail}`, options);
  }
}

/** The errno name and description for a positive errno, e.g. 22 -> ['EINVAL', 'invalid argument']. */
function describeErrno(errno: number): [string, string] {
  return getSystemErrorMap().get(-errno) ?? [`ERRNO${errno}`, `errno ${errno}`];
}

interface SystemErrorLike {
  code?: unknown;
  errno?: unknown;
  syscall?: unknown;
  message?: unknown;
}

/**
 * Wraps an error thrown by the addon ({errno, syscall}) or by node:fs ({code, errno, syscall})
 * in a NativeError naming the operation and the path.
 */
export function toNativeError(error: unknown, operation: string, path: string): NativeError {
  if (error instanceof NativeError) return error;
  const e = (typeof error === 'object' && error !== null ? error : {}) as SystemErrorLike;
  const errno = typeof e.errno === 'number' ? Math.abs(e.errno) : undefined;
  const [name, description] = errno !== undefined ? describeErrno(errno) : ['EIO', String(e.message ?? error)];
  const code = typeof e.code === 'string' ? e.code : name;
  const syscall = typeof e.syscall === 'string' ? ` (${e.syscall})` : '';
  return new NativeError(code, operation, path, `${description}${syscall}`, { cause: error });
}

/** Bad arguments: a clear error before any syscall. */
export function argumentError(operation: string, path: string, what: string): NativeError {
  return new NativeError('EARG', operation, path, what);
}
