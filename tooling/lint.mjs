#!/usr/bin/env node
// The repository's lint, run in a package directory by `turbo run lint` (after its typecheck):
// the mistakes a type checker lets through that have bitten layered monorepos.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { sourceFiles } from './source-files.mjs';

const dir = process.cwd();
const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const problems = [];

for (const file of [...sourceFiles(join(dir, 'src')), ...sourceFiles(join(dir, 'test'))]) {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    const at = `${relative(dir, file)}:${i + 1}`;
    if (/\b(it|test|describe)\.only\(/.test(line)) problems.push(`${at}: .only() would silently skip the other tests`);
    if (/from\s+['"](\.\.\/)+(packages|apps)\//.test(line)) problems.push(`${at}: reaches into another package by path; import it by name`);
    if (file.includes('/src/') && /from\s+['"][^'"]*\/dist\//.test(line)) problems.push(`${at}: imports a build output`);
  });
}

if (!manifest.private) {
  for (const field of ['exports', 'types', 'files', 'license', 'description']) {
    if (!manifest[field]) problems.push(`package.json: '${field}' is missing (needed to publish ${manifest.name})`);
  }
  for (const dep of Object.values(manifest.dependencies ?? {})) {
    if (String(dep).startsWith('file:') || String(dep).startsWith('link:')) problems.push(`package.json: dependency '${dep}' cannot be published`);
  }
}

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`lint: ${manifest.name} ok`);
