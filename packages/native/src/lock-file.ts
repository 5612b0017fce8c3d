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

  /** Takes the lock in `mode`; a failed change of mode keeps the lock already held, as fcntl does. */
  acquire(mode: 'exclusive' | 'shared'): void {
    const previous = this.#held;
    if (previous !== undefined && (previous === this.lockPath) === (mode === 'exclusive')) return;
    const taken = mode === 'exclusive' ? this.#takeExclusive(previous) : this.#takeShared(previous);
    this.release();
    this.#hold(taken);
  }

  release(): void {
    if (this.#held === undefined) return;
    removeQuietly(this.#held);
    heldByThisProcess.delete(this.#held);
    this.#held = undefined;
  }

  /** Creates the lock file, then backs out if a shared marker other than `ours` is alive. */
  #takeExclusive(ours: string | undefined): string {
    if (!createExclusively(this.lockPath)) {
      const holder = liveHolder(this.lockPath);
      if (holder !== undefined) throw this.#heldBy('exclusive', holder, this.lockPath);
      if (!createExclusively(this.lockPath)) throw this.#heldBy('exclusive', liveHolder(this.lockPath) ?? NaN, this.lockPath);
    }
    for (const marker of this.#sharedMarkers()) {
      const holder = marker === ours ? undefined : liveHolder(marker);
      if (holder !== undefined) {
        removeQuietly(this.lockPath);
        throw this.#heldBy('exclusive', holder, marker);
      }
    }
    return this.lockPath;
  }

  /** Creates a marker of our own, then backs out if someone else's exclusive lock file is alive. */
  #takeShared(ours: string | undefined): string {
    const marker = `${this.lockPath}.shared-${process.pid}-${++markerCounter}`;
    if (!createExclusively(marker)) throw new NativeError('EEXIST', 'lock shared', this.dataPath, `lock marker ${marker} already exists`);
    const holder = ours === this.lockPath ? undefined : liveHolder(this.lockPath);
    if (holder !== undefined) {
      removeQuietly(marker);
      throw this.#heldBy('shared', holder, this.lockPath);
    }
    return marker;
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
