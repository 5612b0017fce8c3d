// A suite that needs something the machine lacks says so out loud, then skips.
import { execFileSync } from 'node:child_process';

/** True when `cmd` runs; false otherwise. */
export function hasCommand(cmd, args = ['--version']) {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Returns the reason a suite cannot run, or undefined when it can, and prints
 * "SKIPPED <suite>: <reason>" so the skip shows in the log and in CI.
 * @param {string} suite
 * @param {Array<[boolean, string]>} needs pairs of (available, what is missing)
 */
export function skipReason(suite, needs) {
  const missing = needs.filter(([ok]) => !ok).map(([, what]) => what);
  if (missing.length === 0) return undefined;
  const reason = missing.join('; ');
  console.log(`SKIPPED ${suite}: ${reason}`);
  return reason;
}
