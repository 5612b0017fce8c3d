// Every JavaScript/TypeScript source file under a folder, skipping installs and build outputs.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const SKIPPED = new Set(['node_modules', 'dist', 'build']);

/** @param {string} root  @returns {string[]} (none when root does not exist) */
export function sourceFiles(root) {
  let entries;
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(root, entry);
    if (statSync(path).isDirectory()) return SKIPPED.has(entry) ? [] : sourceFiles(path);
    return /\.(m?[jt]s|tsx)$/.test(entry) ? [path] : [];
  });
}
