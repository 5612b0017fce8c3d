// `valkka record` with cameras: GStreamer's RTSP server on 127.0.0.1 as the camera (see @valkka/threads' tests).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadValkkaFS } from '@valkka/fs';
import { skipReason } from '@valkka/vitest-preset/skip';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rtspServerMissing, startRtspServer, type RtspServer } from '@valkka/vitest-preset/rtsp-camera';
import { valkka } from './run-cli.js';

const missing = rtspServerMissing();
const why = skipReason('cli record-live (GStreamer RTSP server)', [[!missing, missing ?? '']]);
const SECRET = 'hunter2-secret';
const tmp = mkdtempSync(join(tmpdir(), 'valkka-cli-live-'));

/** Frames per stream id of a filesystem. */
async function framesById(dir: string): Promise<Map<number, number>> {
  const fs = await loadValkkaFS(dir, { readOnly: true });
  const counts = new Map<number, number>();
  try {
    for (let i = 0; i < fs.nBlocks; i++) {
      const c = await fs.readBlock(i).catch(() => undefined);
      for (const f of c?.frames ?? []) counts.set(f.streamId, (counts.get(f.streamId) ?? 0) + 1);
    }
  } finally {
    await fs.close();
  }
  return counts;
}

describe.skipIf(why)('valkka record from RTSP cameras', () => {
  let server: RtspServer;
  const dirs = { a: join(tmp, 'a'), b: join(tmp, 'b'), multi: join(tmp, 'multi') };
  beforeAll(async () => {
    server = await startRtspServer({ auth: 'digest', password: SECRET, mounts: { '/cam1': 'live-h264,shared', '/cam2': 'live-h264,shared' } });
    for (const d of [dirs.a, dirs.b]) expect((await valkka('init', d, '--blocksize', '256KiB', '--blocks', '32')).code).toBe(0);
    expect((await valkka('init', dirs.multi, '--multi', '--blocksize', '256KiB', '--blocks', '32')).code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('records one camera for --duration, with JSON status lines; the password is never printed', async () => {
    const r = await valkka('record', dirs.a, '--source', server.url('/cam1'), '--duration', '2.5', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]!.cameras[0]).toMatchObject({ name: `rtsp://***@127.0.0.1:${server.port}/cam1` });
    const summary = lines.at(-1)!.summary;
    expect(summary.cameras[0].frames).toBeGreaterThan(25);
    expect(summary.filesystems[0].written).toBe(summary.cameras[0].frames);
    expect(r.stdout).not.toContain(SECRET);
    expect((await framesById(dirs.a)).get(1)).toBe(summary.cameras[0].frames);
  }, 30_000);

  it('many cameras from a config: a Single FS each, or several into a Multi FS', async () => {
    const config = join(tmp, 'cameras.json');
    writeFileSync(
      config,
      JSON.stringify({
        cameras: [
          { name: 'front', url: server.url('/cam1'), dir: dirs.b, transport: 'udp' },
          { name: 'left', url: server.url('/cam1'), dir: dirs.multi, id: 1 },
          { name: 'right', url: server.url('/cam2'), dir: dirs.multi, id: 2 },
        ],
        workers: 1, // one group: one LiveThread and one SharedWriterThread writing both directories
      }),
    );
    const r = await valkka('record', '--config', config, '--duration', '2.5');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/front: \d+ frames/);
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect((await framesById(dirs.b)).get(1)).toBeGreaterThan(25);
    const multi = await framesById(dirs.multi);
    expect(multi.get(1)).toBeGreaterThan(25);
    expect(multi.get(2)).toBeGreaterThan(25);
  }, 30_000);

  it('wrong credentials and an unreachable camera: exit 1 with a clear message', async () => {
    const wrong = await valkka('record', dirs.a, '--source', server.url('/cam1', { user: 'user', password: 'not-it-x' }), '--duration', '1');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/refused the credentials/);
    expect(wrong.stderr).not.toContain('not-it-x');
    const closed = await valkka('record', dirs.a, '--source', 'rtsp://u:p@127.0.0.1:1/cam', '--duration', '1');
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/cannot record rtsp:\/\/\*\*\*@127\.0\.0\.1:1\/cam: cannot connect to 127\.0\.0\.1:1: ECONNREFUSED/);
    const noFs = join(tmp, 'no-fs-here');
    const unopened = await valkka('record', noFs, '--source', server.url('/cam1'), '--duration', '1');
    expect(unopened.code).toBe(1);
    expect(unopened.stderr).toContain(`cannot record into ${noFs}:`);
  }, 30_000);

  it('a bad config is refused before anything starts, naming the file and the place', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ cameras: [{ name: 'x', url: 'http://cam/', dir: dirs.a }] }, /cameras\[0\]\.url: is not an rtsp/],
      [{ cameras: [{ name: 'x', url: server.url('/cam1'), dir: dirs.a }, { name: 'x', url: server.url('/cam2'), dir: dirs.b }] }, /cameras\[1\]\.name: 'x' is used twice/],
      [{ cameras: [{ name: 'x', url: server.url('/cam1'), dir: dirs.a, id: 1 }, { name: 'y', url: server.url('/cam2'), dir: dirs.a, id: 2 }] }, /ValkkaSingleFS/],
      [{ cameras: [], extra: 1 }, /--config .*cameras.json/],
    ];
    const config = join(tmp, 'cameras.json');
    for (const [content, message] of cases) {
      writeFileSync(config, JSON.stringify(content));
      const r = await valkka('record', '--config', config);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain(SECRET);
    }
    writeFileSync(config, '{ not json');
    expect((await valkka('record', '--config', config)).stderr).toMatch(/not JSON/);
    expect((await valkka('record', dirs.a, '--source', server.url('/cam1'), '--transport', 'sctp')).stderr).toMatch(/--transport: 'sctp'/);
  }, 30_000);
});
