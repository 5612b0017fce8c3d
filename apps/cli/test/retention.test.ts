// valkka protect / unprotect / protections / set --max-age / init --max-age, and the retention lines
// of valkka info, on a real directory; bad input is refused in the options' words.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Codec, MediaType, ValkkaMultiFS } from '@valkka/fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { formatDuration, parseDuration } from '../src/commands/retention.js';
import { valkka } from './run-cli.js';

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('valkka retention commands', () => {
  let base: string;
  let dir: string;

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'valkka-cli-retention-'));
    dir = join(base, 'fs');
    const init = await valkka('init', dir, '--blocksize', '16KiB', '--blocks', '16', '--multi', '--max-age', '30d');
    expect(init.code).toBe(0);
    const fs = await ValkkaMultiFS.loadFromDirectory(dir);
    for (let i = 0; i < 100; i++) {
      await fs.write({ streamId: 1, subsession: 0, timestamp: T0 + i * 40, mediaType: MediaType.video, codec: Codec.none, flags: 1, payload: new Uint8Array(2000).fill(i) });
    }
    await fs.close();
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('durations', () => {
    expect(parseDuration('72h', '--max-age')).toBe(72 * 3_600_000);
    expect(formatDuration(30 * 86_400_000)).toBe('30d');
    expect(() => parseDuration('72', '--max-age')).toThrow(/--max-age: '72' is not a duration/);
    expect(() => parseDuration('30s', '--max-age')).toThrow(/at least 1m/);
  });

  it('protect, list, info, unprotect; set --max-age; refusals name the option', async () => {
    const from = new Date(T0 + 400).toISOString();
    const p = await valkka('protect', dir, '--from', from, '--to', String(T0 + 1200), '--note', 'incident 4711', '--json');
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const made = JSON.parse(p.stdout);
    expect(made).toMatchObject({ id: 1, from: T0 + 400, to: T0 + 1200, note: 'incident 4711' });
    expect(made.blocks).toBeGreaterThan(0);
    const list = await valkka('protections', dir);
    expect(list.stdout).toMatch(/#1 {2}2026-11-23T12:00:00.400Z \.\. 2026-11-23T12:00:01.200Z {2}\d+ block\(s\), [\d.]+ KiB {2}made .*"incident 4711"/);
    const info = await valkka('info', dir);
    expect(info.stdout).toMatch(/max age {8}30d/);
    expect(info.stdout).toMatch(/protected {6}1 range\(s\), \d+ of 16 blocks \(\d+ % of the ring; cap 50 %\)/);
    expect(info.stdout).toMatch(/oldest kept {4}2026-11-23T12:00/);
    expect(JSON.parse((await valkka('info', dir, '--json')).stdout).retention).toMatchObject({ maxAgeMs: 30 * 86_400_000, protectedBlocks: made.blocks });

    const bad = await valkka('protect', dir, '--from', 'yesterday', '--to', String(T0));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from: 'yesterday' is neither milliseconds/);
    const cap = await valkka('protect', dir, '--from', String(T0), '--to', String(T0 + 4000));
    expect(cap.code).toBe(1);
    expect(cap.stderr).toMatch(/more than the cap of 8 \(50 % of the ring, max_protected\)/);
    const none = await valkka('unprotect', dir, '7');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/has no protection 7 \(it has 1\)/);
    expect((await valkka('unprotect', dir, '1')).stdout).toMatch(/released #1/);
    expect((await valkka('protections', dir)).stdout).toBe('no protections\n');

    expect((await valkka('set', dir, '--max-age', 'soon')).stderr).toMatch(/--max-age: 'soon' is not a duration/);
    expect((await valkka('set', dir, '--max-protected', '0.95')).stderr).toMatch(/--max-protected: '0.95' is not a share/);
    // The recording is from 2026-11-23: a max age of one hour from today wipes all of it but the block being written.
    const set = await valkka('set', dir, '--max-age', '1h', '--json');
    expect(set.code).toBe(0);
    const wiped = JSON.parse(set.stdout).expiredBlocks as number[];
    expect(wiped.length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8')).max_age_ms).toBe(3_600_000);
    expect((await valkka('set', dir, '--max-age', 'off')).stdout).toMatch(/max age off/);
    expect(JSON.parse(readFileSync(join(dir, 'valkkafs.json'), 'utf8')).max_age_ms).toBeUndefined();
    const checked = await valkka('check', dir);
    expect(checked.code).toBe(0);
  });
});
