/**
 * Retention on a directory or an open handle: what `valkka protect`, `unprotect`, `protections`,
 * `set --max-age` and an HTTP handler call. A directory is opened as a reader to protect, release
 * or list (a recorder running elsewhere picks the change up from protections.json within a
 * second), and as the writer to change valkkafs.json (refused while a recorder holds it: use the
 * recorder's own handle then).
 */
import { ValkkaFSError } from '../errors.js';
import { type ValkkaFS, loadValkkaFS } from '../valkkafs.js';
import type { ProtectRequest, ProtectionInfo, RetentionSummary } from './api.js';
import type { Protection } from './store.js';

export type { ProtectRequest, ProtectionInfo, RetentionSummary } from './api.js';
export { type Protection, PROTECTIONS_NAME, readProtections } from './store.js';
export { DEFAULT_MAX_PROTECTED } from './policy.js';

type Target = string | ValkkaFS;

async function withHandle<T>(target: Target, writer: boolean, clock: (() => number) | undefined, use: (fs: ValkkaFS) => Promise<T>): Promise<T> {
  if (typeof target !== 'string') return use(target);
  let fs: ValkkaFS;
  try {
    fs = await loadValkkaFS(target, { readOnly: !writer, ...(clock ? { clock } : {}) });
  } catch (err) {
    if ((err as { code?: string }).code === 'ELOCKED') {
      throw new ValkkaFSError('ELOCKED', `${target} is being recorded by another process: change its settings through that recorder, or stop it first`, { cause: err });
    }
    throw err;
  }
  try {
    return await use(fs);
  } finally {
    await fs.close();
  }
}

export const listProtections = (target: Target): Promise<ProtectionInfo[]> => withHandle(target, false, undefined, (fs) => fs.listProtections());

export const protect = (target: Target, request: ProtectRequest, options: { clock?: () => number } = {}): Promise<ProtectionInfo> =>
  withHandle(target, false, options.clock, (fs) => fs.protect(request));

export const unprotect = (target: Target, id: number): Promise<Protection> => withHandle(target, false, undefined, (fs) => fs.unprotect(id));

/** Sets (ms) or removes (null) the maximum age and wipes what has expired; resolves to the blocks wiped. */
export const setMaxAge = (target: Target, ms: number | null, options: { clock?: () => number } = {}): Promise<number[]> =>
  withHandle(target, true, options.clock, (fs) => fs.setMaxAge(ms));

export const setMaxProtected = (target: Target, share: number): Promise<void> => withHandle(target, true, undefined, (fs) => fs.setMaxProtected(share));

export const retentionSummary = (target: Target, options: { clock?: () => number } = {}): Promise<RetentionSummary> =>
  withHandle(target, false, options.clock, (fs) => fs.retentionSummary());
