#!/usr/bin/env node
// Builds the N-API addon with node-gyp against the local Node headers (no download).
// It never fails the install: when the addon cannot be built (no headers, node-gyp or
// node-addon-api missing: both are optional dependencies, a compile error), it says why
// and the package uses its pure-JS fallback at run time.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(packageDir, 'package.json'));

/** Where node-gyp finds node_api.h: Debian's /usr, or the running node's install prefix. */
function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    '/usr',
    resolve(dirname(process.execPath), '..'),
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

/** node-gyp's entry script: our own dependency first, else the copy bundled with npm. */
function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const npmBundled = resolve(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
    return existsSync(npmBundled) ? npmBundled : undefined;
  }
}

/** node-addon-api (headers only) is an optional dependency: binding.gyp asks node for its include dir. */
function hasNodeAddonApi() {
  try {
    require.resolve('node-addon-api');
    return true;
  } catch {
    return false;
  }
}

/** True when the built addon is newer than binding.gyp and every source (N-API is ABI-stable across Node versions). */
function isUpToDate() {
  const addon = join(packageDir, 'build/Release/valkka_native.node');
  if (!existsSync(addon)) return false;
  const addonDir = join(packageDir, 'src/addon');
  const inputs = [join(packageDir, 'binding.gyp'), ...readdirSync(addonDir).map((name) => join(addonDir, name))];
  const builtAt = statSync(addon).mtimeMs;
  return inputs.every((file) => statSync(file).mtimeMs <= builtAt);
}

/** Says why, and leaves the reason in build/NOT_BUILT for capabilities().fallbackReason. */
function skip(reason) {
  mkdirSync(join(packageDir, 'build'), { recursive: true });
  writeFileSync(join(packageDir, 'build/NOT_BUILT'), `${reason}\n`);
  console.warn(`@valkka/native: the addon was not built (${reason}); the pure-JS fallback will be used.`);
  process.exit(0);
}

if (process.env.VALKKA_NO_NATIVE === '1') skip('VALKKA_NO_NATIVE=1');
if (process.platform !== 'linux') skip(`platform ${process.platform} is not Linux`);

if (!process.argv.includes('--force') && isUpToDate()) {
  console.log('@valkka/native: addon is up to date (build/Release/valkka_native.node); `pnpm build:native` forces a rebuild');
  process.exit(0);
}

const nodeDir = findNodeDir();
if (!nodeDir) skip('no Node headers found (include/node/node_api.h under /usr or the node prefix)');
const nodeGyp = findNodeGyp();
if (!nodeGyp) skip('node-gyp is not installed');
if (!hasNodeAddonApi()) skip('node-addon-api is not installed');

const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=warn'], {
  cwd: packageDir,
  stdio: 'inherit',
});
if (result.error) skip(`node-gyp could not start: ${result.error.message}`);
if (result.status !== 0) skip(`node-gyp exited with status ${result.status}`);
console.log('@valkka/native: addon built at build/Release/valkka_native.node');
