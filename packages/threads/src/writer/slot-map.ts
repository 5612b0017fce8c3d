import { ThreadsError } from '../errors.js';

/**
 * A one-way map with libValkka's rules: setting a key that is already mapped is refused (unset it first),
 * several keys may map to one value. The writer maps slot -> id, the reader id -> slot.
 */
export class StreamMap {
  private readonly map = new Map<number, number>();

  constructor(
    private readonly keyName: string,
    private readonly valueName: string,
  ) {}

  /**
   * Returns false (and changes nothing) when `key` is already mapped, as the original's "reserved" log.
   * A key or value that is not a non-negative integer throws ERR_SLOT_MAP, or, given `invalid`, is passed
   * to it and ignored (a worker reports it and goes on).
   */
  set(key: number, value: number, invalid?: (message: string) => void): boolean {
    try {
      checkNumber(this.keyName, key);
      checkNumber(this.valueName, value);
    } catch (err) {
      if (!invalid) throw err;
      invalid(`setSlotId: ${(err as Error).message} (ignored)`);
      return true;
    }
    if (this.map.has(key)) return false;
    this.map.set(key, value);
    return true;
  }

  unset(key: number): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  get(key: number): number | undefined {
    return this.map.get(key);
  }

  entries(): Array<[number, number]> {
    return [...this.map.entries()].sort((a, b) => a[0] - b[0]);
  }
}

/** Slots and ids are non-negative integers; anything else is refused with ERR_SLOT_MAP naming which. */
export function checkNumber(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new ThreadsError('ERR_SLOT_MAP', `${name} must be a non-negative integer, got ${value}`);
}
