import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '../../..');

/**
 * The stack, bottom first: a package may import only from layers below its own. Packages of one
 * layer (threads and export, both on fs; manager and fleet) stay independent of each other.
 */
export const LAYERS = [['@valkka/native'], ['@valkka/blockdev'], ['@valkka/fs'], ['@valkka/threads', '@valkka/export'], ['@valkka/manager', '@valkka/fleet']] as const;
/** Every library, bottom first. */
export const LIBRARIES: readonly string[] = LAYERS.flat();
export const APPS_LAYER = LAYERS.length;

export interface WorkspacePackage {
  name: string;
  dir: string;
  manifest: {
    name: string;
    private?: boolean;
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
}

export function workspacePackages(groups = ['packages', 'apps']): WorkspacePackage[] {
  return groups.flatMap((group) =>
    readdirSync(join(repoRoot, group))
      .map((d) => join(repoRoot, group, d))
      .filter((dir) => existsSync(join(dir, 'package.json')))
      .map((dir) => {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as WorkspacePackage['manifest'];
        return { name: manifest.name, dir, manifest };
      }),
  );
}

/** Layer number of a package: apps sit above every library. */
export function layerOf(name: string): number {
  const i = LAYERS.findIndex((layer) => (layer as readonly string[]).includes(name));
  return i >= 0 ? i : APPS_LAYER;
}

const isLibrary = (name: string): boolean => LIBRARIES.includes(name);

/** True when package `from` would reach up (or sideways) by using library `to`. */
export function reachesUp(from: string, to: string): boolean {
  return isLibrary(to) && to !== from && layerOf(to) >= layerOf(from);
}

export const libraries = (): WorkspacePackage[] => workspacePackages().filter((p) => isLibrary(p.name));
