// Loop devices over temp images, for the block-device tests (root only).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

import { hasCommand, isRoot } from '@valkka/vitest-preset/skip';

/** [available, what is missing] pairs for skipReason. */
export function loopDeviceNeeds(): Array<[boolean, string]> {
  return [
    [isRoot, 'needs root to attach loop devices'],
    [hasCommand('losetup', ['--version']), 'losetup (util-linux) not installed'],
    [existsSync('/dev/loop-control'), 'no /dev/loop-control (loop driver missing)'],
  ];
}

/** Attaches `image` to a free loop device (with the given logical sector size) and returns its path. */
export function attachLoop(image: string, sectorSize?: number): string {
  const args = sectorSize ? ['-b', String(sectorSize), '-f', '--show', image] : ['-f', '--show', image];
  return execFileSync('losetup', args, { encoding: 'utf8' }).trim();
}

export function detachLoop(device: string): void {
  execFileSync('losetup', ['-d', device]);
}
