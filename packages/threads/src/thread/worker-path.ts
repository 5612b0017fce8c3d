import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ThreadsError } from '../errors.js';

let packageRoot: string | undefined;

/** This package's directory, found by walking up from this module: works from src/ (tests) and from dist/ (bundled). */
function findPackageRoot(): string {
  if (packageRoot) return packageRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@valkka/threads') {
      packageRoot = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new ThreadsError('ERR_WORKER_FILE', `cannot find the @valkka/threads package above ${import.meta.url}`);
    dir = parent;
  }
}

/**
 * The built JavaScript of a worker entry: src/**\/<name>.ts is built by tsup to dist/workers/<name>.js
 * (workers must load JavaScript, so tests need `pnpm --filter @valkka/threads build` first).
 */
export function workerUrl(name: string): URL {
  const file = join(findPackageRoot(), 'dist', 'workers', `${name}.js`);
  if (!existsSync(file)) {
    throw new ThreadsError('ERR_WORKER_FILE', `worker ${file} is not built: run \`pnpm --filter @valkka/threads build\``);
  }
  return pathToFileURL(file);
}
