import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from '../../source-files.mjs';
import { LIBRARIES, layerOf, libraries as listLibraries, reachesUp, repoRoot } from './workspace.js';

const IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"](@valkka\/[a-z-]+)/g;

/** Every @valkka/* package a file imports, with its line number. */
export function valkkaImports(source: string): Array<{ name: string; line: number }> {
  return [...source.matchAll(IMPORT)].map((m) => ({
    name: m[1]!,
    line: source.slice(0, m.index).split('\n').length,
  }));
}

describe('layering: native < blockdev < fs < threads, export < manager < apps', () => {
  const libraries = listLibraries();

  it('finds every library layer', () => {
    expect(libraries.map((p) => p.name).sort()).toEqual([...LIBRARIES].sort());
  });

  it('recognises an upward import (the check itself can fail)', () => {
    const found = valkkaImports("import { x } from '@valkka/manager';\nconst y = await import('@valkka/fs');");
    expect(found).toEqual([
      { name: '@valkka/manager', line: 1 },
      { name: '@valkka/fs', line: 2 },
    ]);
    expect(layerOf('@valkka/manager')).toBeGreaterThan(layerOf('@valkka/blockdev'));
    // One layer: neither may use the other.
    expect(reachesUp('@valkka/export', '@valkka/threads')).toBe(true);
    expect(reachesUp('@valkka/threads', '@valkka/export')).toBe(true);
    expect(reachesUp('@valkka/export', '@valkka/fs')).toBe(false);
  });

  for (const pkg of libraries) {
    it(`${pkg.name} imports only from layers below it`, () => {
      const violations = sourceFiles(pkg.dir)
        .flatMap((file) =>
          valkkaImports(readFileSync(file, 'utf8'))
            .filter((imp) => reachesUp(pkg.name, imp.name))
            .map((imp) => `${relative(repoRoot, file)}:${imp.line} imports ${imp.name}`),
        );
      expect(violations).toEqual([]);
    });

    it(`${pkg.name} depends only on layers below it`, () => {
      const deps = Object.keys({ ...pkg.manifest.dependencies, ...pkg.manifest.devDependencies });
      const upward = deps.filter((d) => reachesUp(pkg.name, d));
      expect(upward).toEqual([]);
    });
  }
});
