// Argument checks shared by both backends, so both reject the same bad input the same way.
import { constants as bufferConstants } from 'node:buffer';

import { argumentError } from './errors.js';

const MAX_ALIGNMENT = 1 << 20;

export function checkAlloc(size: number, alignment: number): void {
  if (!Number.isSafeInteger(size) || size < 0 || size > bufferConstants.MAX_LENGTH) {
    throw argumentError('allocAligned', '(memory)', `size must be an integer in [0, ${bufferConstants.MAX_LENGTH}], got ${size}`);
  }
  if (!Number.isSafeInteger(alignment) || alignment < 8 || alignment > MAX_ALIGNMENT || (alignment & (alignment - 1)) !== 0) {
    throw argumentError('allocAligned', '(memory)', `alignment must be a power of two in [8, ${MAX_ALIGNMENT}], got ${alignment}`);
  }
}

export function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw argumentError('open', String(path), 'path must be a non-empty string without NUL bytes');
  }
}

/** A byte offset or length: a non-negative safe integer. */
export function checkOffset(operation: string, path: string, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw argumentError(operation, path, `${name} must be a non-negative integer, got ${value}`);
  }
}

export function checkBuffer(operation: string, path: string, buffer: unknown): asserts buffer is Uint8Array {
  if (!(buffer instanceof Uint8Array)) {
    throw argumentError(operation, path, 'buffer must be a Uint8Array or Buffer');
  }
}

export function checkLockMode(path: string, mode: unknown): asserts mode is 'exclusive' | 'shared' {
  if (mode !== 'exclusive' && mode !== 'shared') {
    throw argumentError('lock', path, `mode must be 'exclusive' or 'shared', got ${String(mode)}`);
  }
}
