// Mirror directories: mirror.json names a module whose device serves the blocks; read-only only.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { describe, expect, it } from 'vitest';

import { Codec, MediaType, ValkkaFSLoadError, ValkkaMultiFS, allowMirrorModule, loadValkkaFS } from '../src/index.js';
import { withTempDir } from './helpers.js';

const moduleUrl = pathToFileURL(join(import.meta.dirname, 'fixtures/mirror-module.ts')).href;
const noExportUrl = pathToFileURL(join(import.meta.dirname, 'fixtures/mirror-no-export.ts')).href;
allowMirrorModule(moduleUrl);
allowMirrorModule(noExportUrl);
allowMirrorModule('file:///nonexistent/mirror.js');

/** An origin filesystem with 60 frames, and a mirror directory of it (its json and blockfile, no dumpfile). */
async function originAndMirror(dir: string, mirror: object | string): Promise<{ origin: string; mirrorDir: string }> {
  const origin = join(dir, 'origin');
  const fs = await ValkkaMultiFS.newFromDirectory({ dirname: origin, blocksize: 16384, nBlocks: 8 });
  const payload = new Uint8Array(3000);
  for (let i = 0; i < 60; i++) {
    payload.fill(i + 1);
    await fs.write({ streamId: 1 + (i % 2), subsession: 0, timestamp: 1000 + i * 40, mediaType: MediaType.video, codec: Codec.none, flags: i % 10 === 0 ? 1 : 0, payload });
  }
  await fs.close();
  const mirrorDir = join(dir, 'mirror');
  await mkdir(mirrorDir);
  await copyFile(join(origin, 'valkkafs.json'), join(mirrorDir, 'valkkafs.json'));
  await copyFile(join(origin, 'blockfile'), join(mirrorDir, 'blockfile'));
  await writeFile(join(mirrorDir, 'mirror.json'), typeof mirror === 'string' ? mirror : JSON.stringify(mirror));
  return { origin, mirrorDir };
}

async function allFrames(dirname: string): Promise<Array<[number, number, number]>> {
  const fs = await loadValkkaFS(dirname, { readOnly: true });
  try {
    const out: Array<[number, number, number]> = [];
    for (const b of fs.blockTable.timeOrder()) for (const f of (await fs.readBlock(b)).frames) out.push([f.streamId, f.timestamp, f.payload[0]!]);
    return out;
  } finally {
    await fs.close();
  }
}

describe('mirror directories (mirror.json)', () => {
  it('opens read-only through the module named in mirror.json, with the same frames as the origin', async () => {
    await withTempDir(async (dir) => {
      const { origin, mirrorDir } = await originAndMirror(dir, { module: moduleUrl, options: { source: join(dir, 'origin', 'dumpfile') } });
      const expected = await allFrames(origin);
      expect(expected.length).toBeGreaterThan(30); // the ring has wrapped: what it still holds
      expect(await allFrames(mirrorDir)).toEqual(expected);
    });
  });

  it('refuses to open a mirror as the writer', async () => {
    await withTempDir(async (dir) => {
      const { mirrorDir } = await originAndMirror(dir, { module: moduleUrl, options: { source: join(dir, 'origin', 'dumpfile') } });
      const err = await ValkkaMultiFS.loadFromDirectory(mirrorDir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValkkaFSLoadError);
      expect((err as ValkkaFSLoadError).code).toBe('EMETADATA');
      expect((err as Error).message).toMatch(/a mirror is read-only/);
    });
  });

  it.each([
    ['not JSON', '{', /mirror\.json: not valid JSON/],
    ['a module that is not a file: URL', { module: 'https://example.com/x.js', options: {} }, /module must be an absolute file: URL/],
    ['a module that does not exist', { module: 'file:///nonexistent/mirror.js', options: {} }, /cannot import module file:\/\/\/nonexistent\/mirror\.js/],
    ['a module without createMirrorDevice', { module: noExportUrl, options: {} }, /does not export createMirrorDevice/],
    ['a module the process did not allow (never imported)', { module: pathToFileURL(join(import.meta.dirname, 'fixtures/bundle.ts')).href, options: {} }, /fixtures\/bundle\.ts is not an allowed mirror module/],
    ['options the module refuses', { module: moduleUrl, options: {} }, /the mirror device cannot be made \(options\.source must be a dumpfile path\)/],
    ['a file larger than 16 KiB', JSON.stringify({ module: moduleUrl, options: { pad: 'x'.repeat(17000) } }), /larger than a mirror\.json can be/],
  ])('refuses %s with an error naming mirror.json', async (_what, mirror, message) => {
    await withTempDir(async (dir) => {
      const { mirrorDir } = await originAndMirror(dir, mirror);
      const err = await loadValkkaFS(mirrorDir, { readOnly: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValkkaFSLoadError);
      expect((err as Error).message).toMatch(message);
    });
  });
});
