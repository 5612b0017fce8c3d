// The repository-level promises of the README: the valkka command from the root, and
// per-package CI through turbo filters.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './workspace.js';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });

describe('from the repository root', () => {
  it('npx valkka --help lists the commands', () => {
    const help = run('npx', ['--no-install', 'valkka', '--help']);
    expect(help).toMatch(/^Usage: valkka/m);
    for (const cmd of ['init', 'info', 'check', 'partitions', 'record']) expect(help).toContain(cmd);
  });

  it('turbo run test --filter=<package>... runs that package and what it depends on, nothing above', () => {
    const plan = JSON.parse(run('pnpm', ['exec', 'turbo', 'run', 'test', '--filter=@valkka/fs...', '--dry=json'])) as {
      tasks: Array<{ taskId: string; command: string }>;
    };
    const withTests = plan.tasks.filter((t) => t.taskId.endsWith('#test') && t.command !== '<NONEXISTENT>');
    const packagesTested = new Set(withTests.map((t) => t.taskId.split('#')[0]));
    expect([...packagesTested].sort()).toEqual(['@valkka/blockdev', '@valkka/fs', '@valkka/native']);
  });
});
