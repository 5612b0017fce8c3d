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

  /** Returns false (and changes nothing) when `key` is already mapped, as the original's "reserved" log. */
  set(key: number, value: number): boolean {
    checkNumber(this.keyName, key);
    checkNumber(this.valueName, value);
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

function checkNumber(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}
