// Test helpers: both backends under one name, temp dirs, and a bundle of the current
// source that child processes can import (they cannot load TypeScript).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'tsup';

import { fallbackBackend, nativeBackend, nativeUnavailableReason } from '../src/index.js';
import type { NativeApi } from '../src/index.js';
import type { NativeBackend } from '../src/native-backend.js';

export const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface BackendCase {
  name: 'native' | 'fallback';
  api: NativeApi;
  native: NativeBackend | undefined;
  /** Why this backend cannot be tested here (undefined: it can). */
  unavailable: string | undefined;
}

export const backendCases: BackendCase[] = [
  {
    name: 'native',
    api: nativeBackend ?? fallbackBackend,
    native: nativeBackend,
    unavailable: nativeBackend ? undefined : `the addon is not available: ${nativeUnavailableReason}`,
  },
  { name: 'fallback', api: fallbackBackend, native: undefined, unavailable: undefined },
];

export function nodeHeadersPresent(): boolean {
  return ['/usr', resolve(dirname(process.execPath), '..')].some((dir) => existsSync(join(dir, 'include/node/node_api.h')));
}

export async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'valkka-native-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Bundles src/index.ts into <package>/.test-build-<unique>/index.js: one level below
 * the package root like dist/, so it finds build/Release/valkka_native.node.
 */
export async function bundleForChildren(): Promise<{ entry: string; remove: () => Promise<void> }> {
  const outDir = join(packageDir, `.test-build-${process.pid}-${Date.now()}`);
  await build({
    entry: { index: join(packageDir, 'src/index.ts') },
    outDir,
    format: ['esm'],
    target: 'node20',
    dts: false,
    sourcemap: false,
    clean: false,
    silent: true,
    config: false,
  });
  return { entry: join(outDir, 'index.js'), remove: () => rm(outDir, { recursive: true, force: true }) };
}
