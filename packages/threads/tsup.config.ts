import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { packageBuild } from '@valkka/tsup-preset';
import { defineConfig } from 'tsup';

/** Every src/**\/*-worker.ts becomes dist/workers/<name>.js: workers load JavaScript, found by workerUrl(name). */
function workerEntries(): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const file of readdirSync('src', { recursive: true, encoding: 'utf8' })) {
    if (file.endsWith('-worker.ts')) entries[`workers/${basename(file, '.ts')}`] = join('src', file);
  }
  return entries;
}

export default defineConfig(
  packageBuild({
    entry: { index: 'src/index.ts', ...workerEntries() },
    // Types only for the package entry; the workers are loaded by file, never imported.
    dts: { entry: { index: 'src/index.ts' } },
  }),
);
