// The fallback's whole-file lock: lock files instead of OFD locks.
//   exclusive: `<lock>` created with 'wx', holding the owner's pid;
//   shared:    one `<lock>.shared-<pid>-<n>` marker per holder.
// A taker creates its own file first and then looks for the other kind, backing out
// on conflict, so two takers can both fail but never both succeed. Files whose pid is
// no longer alive are stale and removed.
import { readFileSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { NativeError } from './errors.js';

let markerCounter = 0;

/** Lock files this process holds, removed on a normal exit (a killed process leaves them stale). */
const heldByThisProcess = new Set<string>();
process.once('exit', () => {
  for (const file of heldByThisProcess) removeQuietly(file);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in a lock file; undefined when the file is gone, NaN when it is being written. */
function holderOf(file: string): number | undefined {
  try {
    return Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

/** The live holder's pid of `file` (NaN: unknown yet), after removing it when stale. */
function liveHolder(file: string): number | undefined {
  const pid = holderOf(file);
  if (pid === undefined || Number.isNaN(pid)) return pid;
  if (isAlive(pid)) return pid;
  removeQuietly(file);
  return undefined;
}

/** Creates `file` holding our pid; false when it already exists. */
function createExclusively(file: string): boolean {
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

export class LockFile {
  #held: string | undefined;

  /** @param lockPath the exclusive lock file; shared markers sit beside it. */
  constructor(
    readonly dataPath: string,
    readonly lockPath: string,
  ) {}

  acquire(mode: 'exclusive' | 'shared'): void {
    this.release();
    if (mode === 'exclusive') this.#acquireExclusive();
    else this.#acquireShared();
  }

  release(): void {
    if (this.#held === undefined) return;
    removeQuietly(this.#held);
    heldByThisProcess.delete(this.#held);
    this.#held = undefined;
  }

  #acquireExclusive(): void {
    if (!createExclusively(this.lockPath)) {
      const holder = liveHolder(this.lockPath);
      if (holder !== undefined) throw this.#heldBy('exclusive', holder, this.lockPath);
      if (!createExclusively(this.lockPath)) throw this.#heldBy('exclusive', liveHolder(this.lockPath) ?? NaN, this.lockPath);
    }
    this.#hold(this.lockPath);
    for (const marker of this.#sharedMarkers()) {
      const holder = liveHolder(marker);
      if (holder !== undefined) {
        this.release();
        throw this.#heldBy('exclusive', holder, marker);
      }
    }
  }

  #acquireShared(): void {
    const marker = `${this.lockPath}.shared-${process.pid}-${++markerCounter}`;
    if (!createExclusively(marker)) throw new NativeError('EEXIST', 'lock shared', this.dataPath, `lock marker ${marker} already exists`);
    this.#hold(marker);
    const holder = liveHolder(this.lockPath);
    if (holder !== undefined) {
      this.release();
      throw this.#heldBy('shared', holder, this.lockPath);
    }
  }

  #hold(file: string): void {
    this.#held = file;
    heldByThisProcess.add(file);
  }

  #sharedMarkers(): string[] {
    const prefix = `${basename(this.lockPath)}.shared-`;
    const dir = dirname(this.lockPath);
    return readdirSync(dir)
      .filter((name) => name.startsWith(prefix))
      .map((name) => join(dir, name));
  }

  #heldBy(mode: string, pid: number, file: string): NativeError {
    const who = Number.isNaN(pid) ? 'another process' : pid === process.pid ? `another open file in this process (pid ${pid})` : `pid ${pid}`;
    return new NativeError('ELOCKED', `lock ${mode}`, this.dataPath, `held by ${who} (lock file ${file})`);
  }
}
