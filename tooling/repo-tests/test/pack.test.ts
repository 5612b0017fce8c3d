// Each publishable package, packed as it would be published, installs into an empty project
// with its dependencies and works there: catches missing `files`, wrong `exports`, and
// dependencies that only resolve inside the workspace.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smokeScripts } from './smoke.js';
import { workspacePackages } from './workspace.js';

const publishable = workspacePackages().filter((p) => !p.manifest.private);
const work = mkdtempSync(join(tmpdir(), 'valkka-pack-'));
const tarballs = new Map<string, string>();

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });

beforeAll(() => {
  const dest = join(work, 'tarballs');
  for (const pkg of publishable) {
    run('pnpm', ['pack', '--pack-destination', dest], pkg.dir);
    const file = readdirSync(dest).find((f) => f.startsWith(pkg.name.replace('@', '').replace('/', '-') + '-'));
    if (!file) throw new Error(`pnpm pack produced no tarball for ${pkg.name} in ${dest}`);
    tarballs.set(pkg.name, join(dest, file));
  }
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('packed packages install and work in an empty project', () => {
  it('has a smoke script for every publishable package', () => {
    expect(publishable.map((p) => p.name).sort()).toEqual(Object.keys(smokeScripts).sort());
  });

  for (const pkg of publishable) {
    it(`${pkg.name}`, () => {
      const project = mkdtempSync(join(work, 'project-'));
      // Our own packages come from their tarballs; everything else from the registry.
      const overrides = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
      writeFileSync(
        join(project, 'package.json'),
        JSON.stringify({ name: 'empty-project', private: true, type: 'module', dependencies: { [pkg.name]: `file:${tarballs.get(pkg.name)}` }, overrides }),
      );
      run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], project);
      writeFileSync(join(project, 'smoke.mjs'), smokeScripts[pkg.name] ?? 'throw new Error("no smoke script")');
      const out = run('node', ['smoke.mjs'], project);
      expect(out.trim().split('\n').at(-1)).toBe('smoke ok');
    });
  }
});
