import * as native from '@valkka/native';
import type { NativeApi } from '@valkka/native';

/** The active @valkka/native backend: the addon when it loaded, else the pure-JS fallback. */
export const defaultBackend: NativeApi = {
  capabilities: native.capabilities,
  allocAligned: native.allocAligned,
  open: native.open,
};

/** Both backends, for tests and benchmarks that compare them; native is undefined when the addon did not load. */
export const backends: { native: NativeApi | undefined; fallback: NativeApi } = {
  native: native.nativeBackend,
  fallback: native.fallbackBackend,
};
