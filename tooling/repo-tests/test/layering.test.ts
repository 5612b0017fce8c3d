import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYERS, layerOf, repoRoot, workspacePackages } from './workspace.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' || entry === 'dist' ? [] : sourceFiles(path);
    return /\.(m?[jt]s|tsx)$/.test(entry) ? [path] : [];
  });
}

const IMPORT = /(?:from\s+|import\s*\(\s*|require\s*\(\s*)['"](@valkka\/[a-z-]+)/g;

/** Every @valkka/* package a file imports, with its line number. */
export function valkkaImports(source: string): Array<{ name: string; line: number }> {
  return [...source.matchAll(IMPORT)].map((m) => ({
    name: m[1]!,
    line: source.slice(0, m.index).split('\n').length,
  }));
}

describe('layering: native < blockdev < fs < threads < manager < apps', () => {
  const libraries = workspacePackages().filter((p) => (LAYERS as readonly string[]).includes(p.name));

  it('finds every library layer', () => {
    expect(libraries.map((p) => p.name).sort()).toEqual([...LAYERS].sort());
  });

  it('recognises an upward import (the check itself can fail)', () => {
    const found = valkkaImports("import { x } from '@valkka/manager';\nconst y = await import('@valkka/fs');");
    expect(found).toEqual([
      { name: '@valkka/manager', line: 1 },
      { name: '@valkka/fs', line: 2 },
    ]);
    expect(layerOf('@valkka/manager')).toBeGreaterThan(layerOf('@valkka/blockdev'));
  });

  for (const pkg of libraries) {
    it(`${pkg.name} imports only from layers below it`, () => {
      const own = layerOf(pkg.name);
      const violations = sourceFiles(pkg.dir)
        .flatMap((file) =>
          valkkaImports(readFileSync(file, 'utf8'))
            .filter((imp) => imp.name !== pkg.name && layerOf(imp.name) >= own && (LAYERS as readonly string[]).includes(imp.name))
            .map((imp) => `${relative(repoRoot, file)}:${imp.line} imports ${imp.name}`),
        );
      expect(violations).toEqual([]);
    });

    it(`${pkg.name} depends only on layers below it`, () => {
      const deps = Object.keys({ ...pkg.manifest.dependencies, ...pkg.manifest.devDependencies });
      const upward = deps.filter((d) => (LAYERS as readonly string[]).includes(d) && layerOf(d) >= layerOf(pkg.name) && d !== pkg.name);
      expect(upward).toEqual([]);
    });
  }
});
