// The crash model of MemoryDevice for the directory's own files (blockfile, valkkafs.json), as a
// layer over node:fs/promises that the crash test installs with vi.mock. Writes to a watched file
// stay pending until that file is fdatasync'd; a rename over the json stays pending until the
// directory is fsync'd. crash() keeps an arbitrary subset of the pending writes' sectors (in write
// order) and the old or the new json, then refuses every operation of the dead process until revive().
import { readFileSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { join } from 'node:path';

type Real = typeof FsPromises;
type Handle = FsPromises.FileHandle;

const SECTOR = 512;

export interface FilesCrashReport {
  pendingWrites: number;
  keptSectors: number;
  lostSectors: number;
  /** A json rename was not yet durable: the old or the new json was kept at random. */
  renamePending: boolean;
}

export class CrashFiles {
  private dir: string | undefined;
  private readonly durable = new Map<string, Buffer>();
  private readonly pending = new Map<string, Array<{ offset: number; data: Buffer }>>();
  /** The json before a rename not yet made durable by a directory fsync. */
  private jsonBeforeRename: Buffer | undefined;
  private dead = false;
  private readonly handles = new WeakMap<object, Handle>();
  random: () => number = Math.random;
  /** Called as each operation on the watched directory starts (the test crashes from here). */
  onOp: ((kind: 'sync' | 'other') => void) | undefined;

  constructor(private readonly real: Real) {}

  /** Handles opened in this directory from now on go through the layer (call before creating the filesystem). */
  track(dir: string): void {
    this.dir = dir;
    this.dead = false;
  }

  /** Starts the crash model over the tracked directory's files, durable as they are now. */
  watch(dir: string): void {
    this.dir = dir;
    this.pending.clear();
    this.jsonBeforeRename = undefined;
    this.dead = false;
    for (const name of ['blockfile', 'valkkafs.json']) this.durable.set(join(dir, name), readFileSync(join(dir, name)));
  }

  unwatch(): void {
    this.dir = undefined;
    this.onOp = undefined;
    this.durable.clear();
    this.pending.clear();
  }

  /** Power loss for the files; the process that wrote them is dead until revive(). */
  crash(): FilesCrashReport {
    const report: FilesCrashReport = { pendingWrites: 0, keptSectors: 0, lostSectors: 0, renamePending: false };
    for (const [path, writes] of this.pending) {
      const image = Buffer.from(this.durable.get(path) ?? Buffer.alloc(0));
      let out = image;
      for (const w of writes) {
        report.pendingWrites++;
        if (out.length < w.offset + w.data.length) out = Buffer.concat([out, Buffer.alloc(w.offset + w.data.length - out.length)]);
        // Sector by sector of the file: each part of the write that falls in one sector survives or not.
        for (let p = w.offset; p < w.offset + w.data.length; ) {
          const end = Math.min(w.offset + w.data.length, (Math.floor(p / SECTOR) + 1) * SECTOR);
          if (this.random() < 0.5) {
            w.data.copy(out, p, p - w.offset, end - w.offset);
            report.keptSectors++;
          } else report.lostSectors++;
          p = end;
        }
      }
      writeFileSync(path, out);
    }
    if (this.jsonBeforeRename && this.dir) {
      report.renamePending = true;
      if (this.random() < 0.5) writeFileSync(join(this.dir, 'valkkafs.json'), this.jsonBeforeRename);
    }
    this.pending.clear();
    this.jsonBeforeRename = undefined;
    this.dead = true;
    return report;
  }

  /** A new process: the files are as the crash left them, and durable. */
  revive(): void {
    if (this.dir) this.watch(this.dir);
  }

  /** The replacement functions for node:fs/promises. */
  module(): Partial<Real> {
    const real = this.real;
    const open = async (path: Parameters<Real['open']>[0], flags?: Parameters<Real['open']>[1], mode?: Parameters<Real['open']>[2]) => {
      const p = String(path);
      this.gate(p);
      const fh = await real.open(path, flags, mode);
      return this.inside(p) ? this.wrap(p, fh) : fh;
    };
    const rename = async (from: Parameters<Real['rename']>[0], to: Parameters<Real['rename']>[1]) => {
      const target = String(to);
      this.gate(target);
      if (this.dir && target === join(this.dir, 'valkkafs.json') && !this.jsonBeforeRename) this.jsonBeforeRename = this.durable.get(target);
      await real.rename(from, to);
    };
    const readFile = ((file: unknown, options?: unknown) =>
      (real.readFile as (f: unknown, o?: unknown) => Promise<unknown>)(typeof file === 'object' && file !== null ? (this.handles.get(file) ?? file) : file, options)) as Real['readFile'];
    return { open: open as Real['open'], rename, readFile };
  }

  private inside(path: string): boolean {
    return this.dir !== undefined && (path === this.dir || path.startsWith(`${this.dir}/`));
  }

  private gate(path: string): void {
    if (this.inside(path)) this.onOp?.('other');
    if (this.dead && this.inside(path)) throw Object.assign(new Error(`${path}: the process was killed`), { code: 'EIO' });
  }

  private wrap(path: string, fh: Handle): Handle {
    const watched = () => this.durable.has(path);
    const isDir = path === this.dir;
    const gate = (kind: 'sync' | 'other' = 'other') => {
      this.onOp?.(kind);
      if (this.dead) throw Object.assign(new Error(`${path}: the process was killed`), { code: 'EIO' });
    };
    const proxy = new Proxy(fh, {
      get: (target, prop) => {
        if (prop === 'close') return () => target.close();
        if (prop === 'write') {
          return async (buffer: Uint8Array, offset = 0, length = buffer.length - offset, position: number | null = null) => {
            gate();
            const r = await target.write(buffer, offset, length, position);
            if (watched()) this.note(path, position ?? 0, Buffer.from(buffer.subarray(offset, offset + length)));
            return r;
          };
        }
        if (prop === 'writeFile' || prop === 'truncate') {
          return async (...args: unknown[]) => {
            gate();
            await (target[prop] as (...a: unknown[]) => Promise<void>)(...args);
            if (watched()) await this.settle(path); // only when files are created or rebuilt whole
          };
        }
        if (prop === 'datasync' || prop === 'sync') {
          return async () => {
            gate('sync');
            await target[prop]();
            if (watched()) await this.settle(path);
            if (isDir && this.dir) {
              this.jsonBeforeRename = undefined;
              await this.settle(join(this.dir, 'valkkafs.json'));
            }
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    this.handles.set(proxy, fh);
    return proxy;
  }

  private note(path: string, offset: number, data: Buffer): void {
    let list = this.pending.get(path);
    if (!list) this.pending.set(path, (list = []));
    list.push({ offset, data });
  }

  private async settle(path: string): Promise<void> {
    const content = await this.real.readFile(path);
    if (this.dead) return; // the crash came first
    this.pending.delete(path);
    this.durable.set(path, content);
  }
}
