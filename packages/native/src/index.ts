// Picks the addon when it loaded (and VALKKA_NO_NATIVE is not 1), else the pure-JS fallback.
import { createFallbackBackend } from './fallback-backend.js';
import { nativeBackend, nativeUnavailableReason } from './native-backend.js';
import type { Capabilities, NativeApi, OpenOptions, RawFile } from './types.js';

export type { Capabilities, NativeApi, OpenOptions, RawFile, SectorSizes } from './types.js';
export type { NativeBackend } from './native-backend.js';
export { NativeError } from './errors.js';
export { majorMinor } from './sysfs.js';
export { nativeBackend, nativeUnavailableReason };

/** The pure-JS implementation, always available (for tests and benchmarks next to nativeBackend). */
export const fallbackBackend: NativeApi = createFallbackBackend(nativeUnavailableReason ?? 'selected explicitly (the addon is available)');

const active: NativeApi = nativeBackend ?? fallbackBackend;

/** What the active backend can do (backend 'native' or 'fallback'). */
export function capabilities(): Capabilities {
  return active.capabilities();
}

/** A zero-filled Buffer whose address is a multiple of alignment (default 4096; fallback: no address guarantee). */
export function allocAligned(size: number, alignment = 4096): Buffer {
  return active.allocAligned(size, alignment);
}

/** Opens a file or block device with the active backend. */
export function open(path: string, options?: OpenOptions): Promise<RawFile> {
  return active.open(path, options);
}
