/** Every error this package throws on purpose: `code` says what went wrong, the message says where. */
export class ThreadsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ThreadsError';
  }
}

/** An entry that can never fit in the ring (header + payload > capacity). */
export class EntryTooLargeError extends ThreadsError {
  constructor(entryBytes: number, capacity: number, what: string) {
    super(
      'ERR_ENTRY_TOO_LARGE',
      `${what} of ${entryBytes} bytes (with its header) is larger than the frame queue (${capacity} bytes); give the queue more bytes`,
    );
    this.name = 'EntryTooLargeError';
  }
}

/** A thread's worker died (threw, or exited without being asked to stop). `cause` carries the worker's own error. */
export class ThreadDiedError extends ThreadsError {
  constructor(threadName: string, reason: string, cause?: unknown) {
    super('ERR_THREAD_DIED', `thread "${threadName}" died: ${reason}`, { cause });
    this.name = 'ThreadDiedError';
  }
}
